import type { ILoadOptionsFunctions, INodePropertyOptions } from 'n8n-workflow';

import { API_PATHS, faseehJson } from '../transport';

/** Offered when the model list cannot be loaded (no credential yet, offline host). */
export const KNOWN_MODELS: INodePropertyOptions[] = [
	{ name: 'Faseeh V1 Preview', value: 'faseeh-v1-preview' },
	{ name: 'Faseeh Mini V1 Preview', value: 'faseeh-mini-v1-preview' },
];

interface FaseehModel {
	model_id?: unknown;
	model_name?: unknown;
	cost?: unknown;
	description?: unknown;
}

interface FaseehVoice {
	voice_id?: unknown;
	name?: unknown;
	gender?: unknown;
	dialect?: unknown;
	type?: unknown;
}

export async function getModels(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	let models: unknown;
	try {
		models = await faseehJson.call(this, { method: 'GET', path: API_PATHS.models, timeoutSeconds: 20 });
	} catch {
		return KNOWN_MODELS;
	}
	const options = listOf<FaseehModel>(models)
		.filter((model) => typeof model.model_id === 'string' && model.model_id !== '')
		.map((model) => ({
			name: typeof model.model_name === 'string' && model.model_name ? model.model_name : String(model.model_id),
			value: String(model.model_id),
			description: [
				typeof model.description === 'string' ? model.description : '',
				typeof model.cost === 'number' ? `Cost per character: ${model.cost}` : '',
			]
				.filter(Boolean)
				.join(' · '),
		}));
	return options.length ? options : KNOWN_MODELS;
}

export async function getVoices(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const voices = await faseehJson.call(this, { method: 'GET', path: API_PATHS.voices, timeoutSeconds: 20 });
	return listOf<FaseehVoice>(voices)
		.filter((voice) => typeof voice.voice_id === 'string' && voice.voice_id !== '')
		.map((voice) => ({ name: voiceLabel(voice), value: String(voice.voice_id) }))
		.sort((a, b) => a.name.localeCompare(b.name));
}

function voiceLabel(voice: FaseehVoice): string {
	const details = [
		Array.isArray(voice.dialect) ? voice.dialect.join('/') : '',
		typeof voice.gender === 'string' ? voice.gender : '',
		voice.type === 'cloned' ? 'cloned' : '',
	].filter(Boolean);
	const name = typeof voice.name === 'string' && voice.name ? voice.name : String(voice.voice_id);
	return `${name}${details.length ? ` (${details.join(', ')})` : ''} · ${String(voice.voice_id)}`;
}

/** Faseeh answers a bare array; some clients also see `{data: [...]}` or `{voices: [...]}`. */
export function listOf<T>(body: unknown): T[] {
	if (Array.isArray(body)) return body as T[];
	if (body && typeof body === 'object') {
		const record = body as Record<string, unknown>;
		for (const key of ['data', 'voices', 'models', 'items']) {
			if (Array.isArray(record[key])) return record[key] as T[];
		}
	}
	return [];
}
