import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { timeoutSeconds } from '../options';
import { accountPieceWindow, API_PATHS } from '../transport';
import type { ParameterValidator } from '../validate';
import type { LongTextRequest } from './longText';
import { firstPieceBelowMinimum } from './split';

/**
 * Longest text sent in one request (Faseeh publishes no limit: docs/design.md, "Why 1000 characters
 * per request").
 */
export const DEFAULT_MAX_CHARACTERS = 1000;
export const DEFAULT_PAUSE_MS = 250;

/**
 * Options that shape a text-to-speech request, shared by Speech → Generate and Generate Dialogue
 * (each operation adds its own around them).
 */
export const dialectOption: INodeProperties = {
	displayName: 'Dialect Hint',
	name: 'dialect',
	type: 'options',
	options: [
		{ name: 'Auto', value: 'auto' },
		{ name: 'Emirati', value: 'emirati' },
		{ name: 'Fusha', value: 'fusha' },
	],
	default: 'auto',
	description: 'Pronunciation hint. Sent only when set.',
};

export const maxCharactersOption: INodeProperties = {
	displayName: 'Max Characters per Request',
	name: 'maxCharacters',
	type: 'number',
	typeOptions: { minValue: 100, maxValue: 10000, numberPrecision: 0 },
	default: DEFAULT_MAX_CHARACTERS,
	description:
		'A longer text is split at sentence ends into pieces of at most this many characters, spoken one request each (in parallel up to Concurrency) and joined into one file',
};

export const pauseOption: INodeProperties = {
	displayName: 'Pause Between Pieces (Ms)',
	name: 'pauseMs',
	type: 'number',
	typeOptions: { minValue: 0, maxValue: 5000, numberPrecision: 0 },
	default: DEFAULT_PAUSE_MS,
	description: 'Silence inserted where a long text was split into pieces, in milliseconds',
};

export const sampleRateOption: INodeProperties = {
	displayName: 'Sample Rate',
	name: 'sampleRate',
	type: 'number',
	typeOptions: { minValue: 8000, maxValue: 48000 },
	default: 24000,
	description:
		'Sample rate of the audio, in Hz. Sent to Faseeh only when set; in streaming mode Faseeh streams 24 kHz and the audio is resampled in n8n. OGG/Opus is encoded at 8, 12, 16, 24 or 48 kHz (the next one up).',
};

export const streamingOption: INodeProperties = {
	displayName: 'Use Streaming Mode',
	name: 'streaming',
	type: 'boolean',
	default: false,
	description: 'Whether to use Faseeh’s streaming mode (raw PCM, collected and saved in the output format) instead of a complete WAV',
};

export interface SpeechRequestSettings {
	/** The body every piece sends, without `text` (and, for a dialogue, its turn's `voice_id`). */
	body: IDataObject;
	streaming: boolean;
	maxCharacters: number;
	pauseMs: number;
	/** What an answer's PCM is taken to be at when nothing says: the rate asked of Faseeh, if any. */
	requestedSampleRate?: number;
	/** Streaming mode with Sample Rate set: the rate the output is resampled to in n8n. */
	outputSampleRate?: number;
	/** The request without its body: what speakLongText and a single request send. */
	request: LongTextRequest['request'];
}

/**
 * Reads and checks the request options of one item (before any request): speed, sample rate,
 * dialect, streaming, Max Characters per Request, Pause Between Pieces. `body` starts the body.
 */
export function readSpeechRequest(
	this: IExecuteFunctions,
	check: ParameterValidator,
	itemIndex: number,
	model: string,
	body: IDataObject,
	options: IDataObject,
): SpeechRequestSettings {
	const streaming = options.streaming === true;
	body.streaming = streaming;
	if (options.speed !== undefined) body.speed = check.numberInRange('Speed', options.speed, 0.7, 1.2);
	let sampleRate: number | undefined;
	if (options.sampleRate !== undefined) {
		sampleRate = wholeNumber(check, 'Sample Rate', options.sampleRate, 8000, 48000);
		// Streamed PCM has no header to say its rate, and Faseeh documents it as 24 kHz whatever
		// sample_rate says (or does not say): it is asked for at 24 kHz and resampled in n8n, so the
		// audio cannot be labelled with a rate it does not have. A complete WAV carries its rate.
		if (!streaming) body.sample_rate = sampleRate;
	}
	if (typeof options.dialect === 'string' && options.dialect !== '') body.dialect = options.dialect;
	const maxCharacters = wholeNumber(check, 'Max Characters per Request', options.maxCharacters ?? DEFAULT_MAX_CHARACTERS, 100, 10000);
	const pauseMs = wholeNumber(check, 'Pause Between Pieces (Ms)', options.pauseMs ?? DEFAULT_PAUSE_MS, 0, 5000);
	const requestedSampleRate = typeof body.sample_rate === 'number' ? body.sample_rate : undefined;
	return {
		body,
		streaming,
		maxCharacters,
		pauseMs,
		requestedSampleRate,
		outputSampleRate: streaming ? sampleRate : undefined,
		request: {
			method: 'POST',
			path: API_PATHS.textToSpeech(model),
			body,
			timeoutSeconds: timeoutSeconds.call(this, itemIndex),
			itemIndex,
			retryServerErrors: options.retryOnServerError === true,
			assumedSampleRate: requestedSampleRate,
		},
	};
}

/**
 * Refuses, before any piece is sent, a text that cannot be cut into pieces Faseeh accepts (each at
 * least 3 words and 10 characters: a run of break tags with few words between them), so nothing is
 * charged for a text that would fail at that piece.
 */
export function checkSpeakablePieces(check: ParameterValidator, label: string, pieces: string[], where = ''): void {
	const index = firstPieceBelowMinimum(pieces);
	if (index === undefined) return;
	const start = [...pieces[index]].slice(0, 40).join('');
	throw check.fail(
		label,
		`${where}cannot be cut into pieces Faseeh accepts (at least 3 words and 10 characters each): piece ${index + 1} of ${pieces.length} ("${start}…") would have fewer. Put more words between the break tags there (a piece carries at most 20 tags)`,
	);
}

/** A whole number in [min, max], or the parameter's error. */
export function wholeNumber(check: ParameterValidator, label: string, value: unknown, min: number, max: number): number {
	const number = check.numberInRange(label, value, min, max);
	if (!Number.isInteger(number)) throw check.fail(label, `must be a whole number, got ${number}`);
	return number;
}

/** How many pieces of a long text are requested at once: the account's plan limit (the limiter holds it). */
export async function pieceConcurrency(this: IExecuteFunctions, itemIndex: number): Promise<number> {
	return await accountPieceWindow.call(this, itemIndex);
}

/** The user's File Name option, or `fallback`. */
export function fileNameOption(options: IDataObject, fallback: string): string {
	return typeof options.fileName === 'string' && options.fileName.trim() !== '' ? options.fileName.trim() : fallback;
}
