import type { ILoadOptionsFunctions, INodeListSearchResult } from 'n8n-workflow';

import { getVoices } from './loadOptions';

/** Voice picker: filters GET /voices by name or ID (the API has no server-side search). */
export async function searchVoices(this: ILoadOptionsFunctions, filter?: string): Promise<INodeListSearchResult> {
	const voices = await getVoices.call(this);
	const needle = (filter ?? '').trim().toLowerCase();
	const results = voices
		.filter((voice) => !needle || voice.name.toLowerCase().includes(needle) || String(voice.value).toLowerCase().includes(needle))
		.map((voice) => ({ name: voice.name, value: String(voice.value) }));
	return { results };
}
