import type { INodeProperties, INodePropertyOptions } from 'n8n-workflow';

import { DEFAULT_MAX_FILE_SIZE_MB } from './binary';
import { MAX_CONCURRENCY } from './concurrency';
import { DEFAULT_RATE_LIMIT_WAIT_SECONDS, DEFAULT_TIMEOUT_SECONDS } from './transport';

/** Model picker filled from GET /models; an expression or a typed ID also works. */
export function modelProperty(name: string, extra: Partial<INodeProperties> = {}): INodeProperties {
	return {
		displayName: 'Model Name or ID',
		name,
		type: 'options',
		typeOptions: { loadOptionsMethod: 'getModels' },
		default: 'faseeh-v1-preview',
		required: true,
		description:
			'The Faseeh model. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
		...extra,
	};
}

export function stabilityProperty(extra: Partial<INodeProperties> = {}): INodeProperties {
	return {
		displayName: 'Stability',
		name: 'stability',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2, numberStepSize: 0.05 },
		default: 0.5,
		description: 'Voice stability from 0 to 1. Higher values give more consistent delivery.',
		...extra,
	};
}

export function similarityProperty(extra: Partial<INodeProperties> = {}): INodeProperties {
	return {
		displayName: 'Similarity',
		name: 'similarity',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 1, numberPrecision: 2, numberStepSize: 0.05 },
		default: 0.75,
		description: 'How close to the recorded voice the preview sounds, from 0 to 1',
		...extra,
	};
}

export const speedOption: INodeProperties = {
	displayName: 'Speed',
	name: 'speed',
	type: 'number',
	typeOptions: { minValue: 0.7, maxValue: 1.2, numberPrecision: 2, numberStepSize: 0.05 },
	default: 1,
	description: 'Speaking speed from 0.7 to 1.2',
};

export const timeoutOption: INodeProperties = {
	displayName: 'Timeout',
	name: 'timeout',
	type: 'number',
	typeOptions: { minValue: 1 },
	default: DEFAULT_TIMEOUT_SECONDS,
	description:
		'Seconds without progress before the request fails: while a file uploads, seconds in which no byte could be sent; after the upload (or for a text), seconds waiting for the answer',
};

export const maxFileSizeOption: INodeProperties = {
	displayName: 'Max File Size (MB)',
	name: 'maxFileSizeMb',
	type: 'number',
	typeOptions: { minValue: 0.001 },
	default: DEFAULT_MAX_FILE_SIZE_MB,
	description: 'Larger input files are refused before anything is uploaded',
};

export const LANGUAGE_OPTIONS: INodePropertyOptions[] = [
	{ name: 'Arabic', value: 'ar' },
	{ name: 'English', value: 'en' },
	{ name: 'French', value: 'fr' },
	{ name: 'German', value: 'de' },
	{ name: 'Hindi', value: 'hi' },
	{ name: 'Persian', value: 'fa' },
	{ name: 'Spanish', value: 'es' },
	{ name: 'Turkish', value: 'tr' },
	{ name: 'Urdu', value: 'ur' },
];

export const DIALECT_OPTIONS: INodePropertyOptions[] = [
	{ name: 'Emirati', value: 'emirati' },
	{ name: 'Fusha (Modern Standard Arabic)', value: 'fusha' },
	{ name: 'Hijazi', value: 'hijazi' },
	{ name: 'Iraqi', value: 'iraqi' },
	{ name: 'Khaleeji (Gulf)', value: 'khaleeji' },
	{ name: 'Levantine', value: 'levantine' },
	{ name: 'Maghrebi', value: 'maghrebi' },
	{ name: 'Masri (Egyptian)', value: 'masri' },
	{ name: 'Najdi', value: 'najdi' },
	{ name: 'Sudani', value: 'sudani' },
	{ name: 'Yemeni', value: 'yemeni' },
];

export const concurrencyOption: INodeProperties = {
	displayName: 'Concurrency',
	name: 'concurrency',
	type: 'number',
	typeOptions: { minValue: 1, maxValue: MAX_CONCURRENCY, numberPrecision: 0 },
	default: 1,
	description:
		'How many items of this execution are sent to Faseeh at once. All executions using the same credential also share the plan’s limit (set the plan in the credential). Output keeps the input order.',
};

export const rateLimitWaitOption: INodeProperties = {
	displayName: 'Max Wait on Concurrency Limit',
	name: 'rateLimitWait',
	type: 'number',
	typeOptions: { minValue: 0 },
	default: DEFAULT_RATE_LIMIT_WAIT_SECONDS,
	description:
		'Seconds a request may wait for the account before the item fails: in the queue for a free slot of the plan (shared with every execution of this n8n) and retrying 429 answers (refused, not processed), in all. Waits are jittered and end when the execution is cancelled.',
};

export const retryOnServerErrorOption: INodeProperties = {
	displayName: 'Retry on Server Errors',
	name: 'retryOnServerError',
	type: 'boolean',
	default: false,
	description:
		'Whether to retry 5xx answers and dropped connections with backoff. Rate-limit answers (429) are always retried.',
};

/**
 * Options → Convert Input to WAV (docs/reference.md, "Voice notes in"). `auto` says what Auto does
 * for this operation, which differs: Faseeh takes WAV, Munsit takes the voice-note formats as they are.
 */
export function convertInputOption(auto: string): INodeProperties {
	return {
		displayName: 'Convert Input to WAV',
		name: 'convertInput',
		type: 'options',
		options: [
			{ name: 'Auto', value: 'auto', description: auto },
			{
				name: 'Always',
				value: 'always',
				description: 'Decode every recording (WAV too) to 24 kHz mono 16-bit WAV before the upload; refuse a format the node cannot decode (M4A, FLAC …)',
			},
			{ name: 'Never', value: 'never', description: 'Send the file exactly as it is, unchecked' },
		],
		default: 'auto',
		description:
			'Voice notes (OGG/Opus from WhatsApp and Telegram, WebM/Opus from browsers, MP3) are decoded inside n8n, checked for damage and length before anything is sent',
	};
}
