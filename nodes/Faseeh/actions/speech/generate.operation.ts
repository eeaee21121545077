import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import {
	concurrencyOption,
	rateLimitWaitOption,
	modelProperty,
	retryOnServerErrorOption,
	speedOption,
	stabilityProperty,
	timeoutOption,
} from '../../../shared/descriptions';
import { timeoutSeconds } from '../../../shared/options';
import { downmixToMono } from '../../../shared/audio';
import { VoiceNoteWriter } from '../../../shared/speech/voiceNote';
import { outputFormatProperties, readOutputFormat } from '../../../shared/speech/format';
import { describeAudio, SpeechOutput } from '../../../shared/speech/output';
import { API_PATHS, faseehAudio } from '../../../shared/transport';
import { ParameterValidator } from '../../../shared/validate';
import { speakLongText } from '../../../shared/speech/longText';
import {
	characterCount,
	firstPieceBelowMinimum,
	splitForSpeech,
	validateSpeechText,
} from '../../../shared/speech/split';
import { accountPieceWindow } from '../../../shared/transport';

/** Longest text sent in one request (Faseeh publishes no limit: README, "Long texts"). */
export const DEFAULT_MAX_CHARACTERS = 1000;
export const DEFAULT_PAUSE_MS = 250;


const properties: INodeProperties[] = [
	{
		displayName: 'Voice',
		name: 'voiceId',
		type: 'resourceLocator',
		default: { mode: 'list', value: '' },
		required: true,
		description: 'The voice to speak with: a stock voice or one you cloned (its voice_ID)',
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				typeOptions: { searchListMethod: 'searchVoices', searchable: true },
			},
			{
				displayName: 'ID',
				name: 'id',
				type: 'string',
				placeholder: 'e.g. ar-najdi-male-2',
				validation: [
					{ type: 'regex', properties: { regex: '^\\S+$', errorMessage: 'A voice ID has no spaces' } },
				],
			},
		],
	},
	{
		displayName: 'Text',
		name: 'text',
		type: 'string',
		typeOptions: { rows: 4 },
		default: '',
		required: true,
		placeholder: 'e.g. مرحبا بك في فصيح',
		description: 'The Arabic text to speak. &lt;break time="500ms"/&gt; inserts a pause.',
	},
	modelProperty('model'),
	stabilityProperty(),
	...outputFormatProperties('The audio file to produce. Encoded inside n8n (no ffmpeg needed).', { overflow: true }),
	{
		displayName: 'Put Output File in Field',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		hint: 'The name of the output binary field to put the audio file in',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			concurrencyOption,
			{
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
			},
			{
				displayName: 'File Name',
				name: 'fileName',
				type: 'string',
				default: '',
				placeholder: 'e.g. greeting.mp3',
				description:
					'Name of the output file. An audio extension follows the audio written (greeting.wav becomes greeting.mp3 for MP3); any other ending is kept (episode-2026.12.07 becomes episode-2026.12.07.mp3). Defaults to faseeh-speech-VOICE.',
			},
			{
				displayName: 'Max Characters per Request',
				name: 'maxCharacters',
				type: 'number',
				typeOptions: { minValue: 100, maxValue: 10000, numberPrecision: 0 },
				default: DEFAULT_MAX_CHARACTERS,
				description:
					'A longer text is split at sentence ends into pieces of at most this many characters, spoken one request each (in parallel up to Concurrency) and joined into one file',
			},
			{
				displayName: 'Pause Between Pieces (Ms)',
				name: 'pauseMs',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 5000, numberPrecision: 0 },
				default: DEFAULT_PAUSE_MS,
				description: 'Silence inserted where a long text was split into pieces, in milliseconds',
			},
			rateLimitWaitOption,
			retryOnServerErrorOption,
			{
				displayName: 'Sample Rate',
				name: 'sampleRate',
				type: 'number',
				typeOptions: { minValue: 8000, maxValue: 48000 },
				default: 24000,
				description:
					'Sample rate of the audio, in Hz. Sent to Faseeh only when set; in streaming mode Faseeh streams 24 kHz and the audio is resampled in n8n. OGG/Opus is encoded at 8, 12, 16, 24 or 48 kHz (the next one up).',
			},
			speedOption,
			timeoutOption,
			{
				displayName: 'Use Streaming Mode',
				name: 'streaming',
				type: 'boolean',
				default: false,
				description: 'Whether to use Faseeh’s streaming mode (raw PCM, collected and saved in the output format) instead of a complete WAV',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['speech'], operation: ['generate'] } }, properties);

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const check = new ParameterValidator(this.getNode(), itemIndex);
	const voiceId = check
		.requiredText('Voice', this.getNodeParameter('voiceId', itemIndex, '', { extractValue: true }))
		.trim();
	const text = check.requiredText('Text', this.getNodeParameter('text', itemIndex));
	const textProblem = validateSpeechText(text);
	if (textProblem) throw check.fail('Text', textProblem);
	const model = check.requiredText('Model Name or ID', this.getNodeParameter('model', itemIndex)).trim();
	const stability = check.numberInRange('Stability', this.getNodeParameter('stability', itemIndex), 0, 1);
	const outputField = check.requiredText('Put Output File in Field', this.getNodeParameter('binaryPropertyName', itemIndex)).trim();
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const streaming = options.streaming === true;

	const body: IDataObject = { voice_id: voiceId, text, stability, streaming };
	if (options.speed !== undefined) body.speed = check.numberInRange('Speed', options.speed, 0.7, 1.2);
	let sampleRate: number | undefined;
	if (options.sampleRate !== undefined) {
		sampleRate = check.numberInRange('Sample Rate', options.sampleRate, 8000, 48000);
		if (!Number.isInteger(sampleRate)) throw check.fail('Sample Rate', `must be a whole number, got ${sampleRate}`);
		// Streamed PCM has no header to say its rate, and Faseeh documents it as 24 kHz whatever
		// sample_rate says (or does not say): it is asked for at 24 kHz and resampled here, so the
		// audio cannot be labelled with a rate it does not have. A complete WAV carries its rate.
		if (!streaming) body.sample_rate = sampleRate;
	}
	if (typeof options.dialect === 'string' && options.dialect !== '') body.dialect = options.dialect;
	const maxCharacters = wholeNumber(check, 'Max Characters per Request', options.maxCharacters ?? DEFAULT_MAX_CHARACTERS, 100, 10000);
	const pauseMs = wholeNumber(check, 'Pause Between Pieces (Ms)', options.pauseMs ?? DEFAULT_PAUSE_MS, 0, 5000);
	const { format, bitRateKbps, voiceNote } = readOutputFormat.call(this, check, itemIndex);
	const fileName =
		typeof options.fileName === 'string' && options.fileName.trim() !== ''
			? options.fileName.trim()
			: `faseeh-speech-${voiceId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
	let notes: VoiceNoteWriter | undefined;
	if (voiceNote) {
		const settings = { ...voiceNote, fileName, itemIndex, pauseMs };
		VoiceNoteWriter.checkText(this, settings, text, body.speed as number | undefined, (problem, description) => check.fail('Output Format', problem, description));
		notes = new VoiceNoteWriter(this, settings);
	}
	// A voice note is made of whole pieces: one piece must fit one note.
	const pieces = splitForSpeech(text, notes ? Math.min(maxCharacters, notes.maxPieceCharacters()) : maxCharacters);
	const shortPiece = firstPieceBelowMinimum(pieces);
	if (shortPiece !== undefined) throw check.fail('Text', unspeakablePieces(pieces, shortPiece));

	// What an answer's PCM is taken to be at when nothing says: the rate asked for (a headerless
	// answer to a complete request), else Faseeh's documented 24 kHz (streaming).
	const requestedSampleRate = typeof body.sample_rate === 'number' ? body.sample_rate : undefined;
	const request = {
		method: 'POST' as const,
		path: API_PATHS.textToSpeech(model),
		body,
		timeoutSeconds: timeoutSeconds.call(this, itemIndex),
		itemIndex,
		retryServerErrors: options.retryOnServerError === true,
		assumedSampleRate: requestedSampleRate,
	};
	if (notes) return await speakVoiceNotes.call(this, notes, { request, pieces, itemIndex, pauseMs, requestedSampleRate, outputField, json: { voice_id: voiceId, model, streaming } });
	const output = new SpeechOutput(this, { format, bitRateKbps, fileName, itemIndex, sampleRate: streaming ? sampleRate : undefined });
	let written;
	try {
		if (pieces.length > 1) {
			await speakLongText.call(this, {
				itemIndex,
				pieces,
				request,
				concurrency: await pieceConcurrency.call(this, itemIndex),
				pauseMs,
				requestedSampleRate: requestedSampleRate ?? 24000,
				writePcm: async (pcm, rate) => await output.writePcm(pcm, rate),
			});
		} else {
			const { answer } = await faseehAudio.call(this, request);
			await output.writeAnswer(answer);
		}
		written = await output.finish();
	} finally {
		if (!written) output.abort();
	}
	const json: IDataObject = {
		voice_id: voiceId,
		model,
		text,
		characters: characterCount(text),
		pieces: pieces.length,
		streaming,
		...describeAudio(format, written, bitRateKbps),
	};
	return [{ json, binary: { [outputField]: written.binary } }];
}

/** Speech → Generate with a voice-note preset: one item per note (several only in split mode), in order. */
async function speakVoiceNotes(
	this: IExecuteFunctions,
	notes: VoiceNoteWriter,
	spoken: {
		request: Parameters<typeof faseehAudio>[0];
		pieces: string[];
		itemIndex: number;
		pauseMs: number;
		requestedSampleRate?: number;
		outputField: string;
		json: IDataObject;
	},
): Promise<INodeExecutionData[]> {
	const { pieces, itemIndex } = spoken;
	let written;
	try {
		if (pieces.length > 1) {
			let pieceIndex = 0;
			await speakLongText.call(this, {
				itemIndex,
				pieces,
				request: { ...spoken.request, body: spoken.request.body as IDataObject },
				concurrency: await pieceConcurrency.call(this, itemIndex),
				pauseMs: spoken.pauseMs,
				requestedSampleRate: spoken.requestedSampleRate ?? 24000,
				writePcm: async (pcm, rate) => await notes.add(pcm, rate, pieceIndex++),
			});
		} else {
			const { answer } = await faseehAudio.call(this, { ...spoken.request, body: { ...(spoken.request.body as IDataObject), text: pieces[0] } });
			if (answer.kind !== 'pcm') {
				throw new NodeOperationError(this.getNode(), `Faseeh answered ${answer.mimeType} audio, which this node can keep but not make into a voice note [item ${itemIndex}]`, {
					itemIndex,
					description: 'Set Output Format to WAV to keep the audio as Faseeh sent it.',
				});
			}
			await notes.add(downmixToMono(answer.pcm, answer.channels), answer.sampleRate, 0);
		}
		written = await notes.finish();
	} finally {
		if (!written) notes.abort();
	}
	return written.map((note) => {
		const text = note.pieces.map((index) => pieces[index]).join(' ');
		return {
			json: { ...spoken.json, text, characters: characterCount(text), pieces: note.pieces.length, ...note.json },
			binary: { [spoken.outputField]: note.binary },
		};
	});
}

/**
 * A long text that cannot be cut into pieces Faseeh accepts (each at least 3 words and 10
 * characters: a run of break tags with few words between them): refused before any piece is sent,
 * so nothing is charged for a text that would fail at that piece.
 */
function unspeakablePieces(pieces: string[], index: number): string {
	const start = [...pieces[index]].slice(0, 40).join('');
	return `cannot be cut into pieces Faseeh accepts (at least 3 words and 10 characters each): piece ${index + 1} of ${pieces.length} ("${start}…") would have fewer. Put more words between the break tags there (a piece carries at most 20 tags)`;
}

function wholeNumber(check: ParameterValidator, label: string, value: unknown, min: number, max: number): number {
	const number = check.numberInRange(label, value, min, max);
	if (!Number.isInteger(number)) throw check.fail(label, `must be a whole number, got ${number}`);
	return number;
}

/** How many pieces of a long text are requested at once: the account's plan limit (the limiter holds it). */
async function pieceConcurrency(this: IExecuteFunctions, itemIndex: number): Promise<number> {
	return await accountPieceWindow.call(this, itemIndex);
}
