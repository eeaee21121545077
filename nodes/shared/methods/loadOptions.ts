import type { ILoadOptionsFunctions, INodePropertyOptions } from 'n8n-workflow';

import { API_PATHS, faseehJson, isFaseehStatus } from '../transport';
import { isNoAnswer } from '../transport/errors';

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

/**
 * Model dropdown. Falls back to KNOWN_MODELS only when the list cannot be had (no answer, or a host
 * without the route); a wrong key (401), a region mismatch or any other answer shows as an error,
 * so a bad credential does not look fine.
 */
export async function getModels(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const models = await listOrFallback(this, API_PATHS.models);
	if (models === undefined) return KNOWN_MODELS;
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

/** Voice picker entries; KNOWN_VOICES when the host has no voice list or cannot be reached. */
export async function getVoices(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
	const voices = await listOrFallback(this, API_PATHS.voices);
	if (voices === undefined) return KNOWN_VOICES;
	return listOf<FaseehVoice>(voices)
		.filter((voice) => typeof voice.voice_id === 'string' && voice.voice_id !== '')
		.map((voice) => ({ name: voiceLabel(voice), value: String(voice.voice_id) }))
		.sort((a, b) => a.name.localeCompare(b.name));
}

/** Stock voices named in Faseeh's docs and clients (../shared/faseeh-api.md 4.1), for hosts without GET /voices. */
export const KNOWN_VOICES: INodePropertyOptions[] = [
	{ name: 'Fahad, Najdi Male (Built-In List)', value: 'ar-najdi-male-2' },
	{ name: 'Hijazi Female (Built-In List)', value: 'ar-hijazi-female-2' },
	{ name: 'Lama, Hijazi Female (Built-In List)', value: 'ar-hijazi-female-1' },
	{ name: 'Emirati Male (Built-In List)', value: 'ar-uae-male-1' },
];

/**
 * GET a list for a dropdown: at once (no queue), no retries, a short timeout. Undefined when the
 * list cannot be had (no answer at all, or 404); any other failure is thrown as built.
 */
async function listOrFallback(context: ILoadOptionsFunctions, path: string): Promise<unknown> {
	const result = await faseehJson.call(context, { method: 'GET', path, interactive: true }).then(
		(list) => ({ list }),
		(error: unknown) => ({ error }),
	);
	if (!('error' in result)) return result.list;
	if (isFaseehStatus(result.error, 404) || isNoAnswer(result.error)) return undefined;
	throw result.error;
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
