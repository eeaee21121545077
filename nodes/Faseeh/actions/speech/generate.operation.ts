import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

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
import { outputFormatProperties, readOutputFormat } from '../../../shared/speech/format';
import { describeAudio, SpeechOutput } from '../../../shared/speech/output';
import { API_PATHS, faseehAudio } from '../../../shared/transport';
import { ParameterValidator } from '../../../shared/validate';
import { speakLongText } from '../../../shared/speech/longText';
import { characterCount, splitForSpeech, validateSpeechText } from '../../../shared/speech/split';
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
	...outputFormatProperties('The audio file to produce. Encoded inside n8n (no ffmpeg needed).'),
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
					'Name of the output file. Its extension follows the audio written (greeting.wav becomes greeting.mp3 for MP3). Defaults to faseeh-speech-VOICE.',
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
					'Sample rate Faseeh is asked for, in Hz. Sent only when set. OGG/Opus is encoded at 8, 12, 16, 24 or 48 kHz (the next one up).',
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
	if (options.sampleRate !== undefined) {
		const sampleRate = check.numberInRange('Sample Rate', options.sampleRate, 8000, 48000);
		if (!Number.isInteger(sampleRate)) throw check.fail('Sample Rate', `must be a whole number, got ${sampleRate}`);
		body.sample_rate = sampleRate;
	}
	if (typeof options.dialect === 'string' && options.dialect !== '') body.dialect = options.dialect;
	const maxCharacters = wholeNumber(check, 'Max Characters per Request', options.maxCharacters ?? DEFAULT_MAX_CHARACTERS, 100, 10000);
	const pauseMs = wholeNumber(check, 'Pause Between Pieces (Ms)', options.pauseMs ?? DEFAULT_PAUSE_MS, 0, 5000);
	const pieces = splitForSpeech(text, maxCharacters);

	const { format, bitRateKbps } = readOutputFormat.call(this, check, itemIndex);
	const fileName =
		typeof options.fileName === 'string' && options.fileName.trim() !== ''
			? options.fileName.trim()
			: `faseeh-speech-${voiceId.replace(/[^A-Za-z0-9_-]/g, '_')}`;

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
	const output = new SpeechOutput(this, { format, bitRateKbps, fileName, itemIndex });
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

function wholeNumber(check: ParameterValidator, label: string, value: unknown, min: number, max: number): number {
	const number = check.numberInRange(label, value, min, max);
	if (!Number.isInteger(number)) throw check.fail(label, `must be a whole number, got ${number}`);
	return number;
}

/** How many pieces of a long text are requested at once: the account's plan limit (the limiter holds it). */
async function pieceConcurrency(this: IExecuteFunctions, itemIndex: number): Promise<number> {
	return await accountPieceWindow.call(this, itemIndex);
}
