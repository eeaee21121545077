import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { NodeOperationError, updateDisplayOptions } from 'n8n-workflow';

import { appendAudioPart, binaryFieldParameter, multipartBody, readAudioInput } from '../../../shared/binary';
import type { AudioInput } from '../../../shared/binary';
import {
	concurrencyOption,
	convertInputOption,
	maxFileSizeOption,
	rateLimitWaitOption,
	retryOnServerErrorOption,
} from '../../../shared/descriptions';
import { describeUpload, prepareUpload, STT_UPLOAD_POLICY } from '../../../shared/decode/convert';
import { convertMode, maxFileBytes } from '../../../shared/options';
import { API_PATHS, faseehJson, getBaseUrl, isFaseehStatus } from '../../../shared/transport';
import { answerError, STT_HOSTS, sttHostMissingError, unexpectedAnswerError } from '../../../shared/transport/errors';
import { cuesFromWords, describeSubtitles, readSubtitles, renderSubtitles, subtitleBinary, subtitleProperties } from '../../../shared/speech/subtitles';
import type { SubtitleSettings, TimedWord } from '../../../shared/speech/subtitles';
import { ParameterValidator } from '../../../shared/validate';

/** The two documented models (shared/munsit-stt.md section 2); the API does not check the value itself. */
export const STT_MODELS = ['munsit', 'munsit-en-ar'] as const;
/** Extensions the API accepts; it picks its decoder from the file name's extension. */
export const STT_EXTENSIONS = ['aac', 'amr', 'flac', 'm4a', 'm4r', 'mp2', 'mp3', 'ogg', 'opus', 'wav', 'webm', 'wma'];
/** Transcription of long recordings takes time: public clients wait up to 300 s. */
export const STT_TIMEOUT_SECONDS = 300;

/** The sniffed container's extension, and what a MIME type without a signature is called. */
const MIME_EXTENSIONS: Record<string, string> = {
	'audio/wav': 'wav',
	'audio/x-wav': 'wav',
	'audio/wave': 'wav',
	'audio/mpeg': 'mp3',
	'audio/mp3': 'mp3',
	'audio/ogg': 'ogg',
	'audio/opus': 'opus',
	'audio/flac': 'flac',
	'audio/x-flac': 'flac',
	'audio/mp4': 'm4a',
	'audio/x-m4a': 'm4a',
	'audio/m4a': 'm4a',
	'audio/aac': 'aac',
	'audio/amr': 'amr',
	'audio/x-ms-wma': 'wma',
	'audio/webm': 'webm',
	'video/webm': 'webm',
};
/** The MIME type sent for a sniffed container, whatever the binary declared. */
const FORMAT_MIME: Record<string, string> = {
	wav: 'audio/wav',
	ogg: 'audio/ogg',
	flac: 'audio/flac',
	mp3: 'audio/mpeg',
	m4a: 'audio/mp4',
	webm: 'audio/webm',
	aac: 'audio/aac',
};
/** Extensions each sniffed container may keep (an Opus voice note named .opus stays .opus). */
const FORMAT_EXTENSIONS: Record<string, string[]> = {
	wav: ['wav'],
	ogg: ['ogg', 'opus'],
	flac: ['flac'],
	mp3: ['mp3', 'mp2'],
	m4a: ['m4a', 'm4r'],
	webm: ['webm'],
	aac: ['aac'],
};

const FLAG_OPTIONS: Array<{ option: string; field: string; displayName: string; description: string }> = [
	{
		option: 'returnConfidence',
		field: 'return_confidence',
		displayName: 'Word Confidence',
		description: 'Whether each word carries a confidence from 0 to 1 (return_confidence). Needs Word Timestamps.',
	},
	{
		option: 'returnGender',
		field: 'return_gender',
		displayName: 'Speaker Gender',
		description: 'Whether to ask for the speaker’s gender (return_gender). Its shape is not documented: it is passed through as the API gives it.',
	},
	{
		option: 'returnSentiment',
		field: 'return_sentiment',
		displayName: 'Sentiment',
		description: 'Whether to ask for sentiment (return_sentiment). Its shape is not documented: it is passed through as the API gives it.',
	},
	{
		option: 'returnTurns',
		field: 'return_turns',
		displayName: 'Speaker Turns',
		description: 'Whether to ask for speaker turns (return_turns). Their shape is not documented: they are passed through as the API gives them.',
	},
];

const properties: INodeProperties[] = [
	{
		displayName: 'Input Data Field Name',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		hint: 'The name of the input binary field containing the recording',
		description:
			'The audio to transcribe: WAV, MP3, OGG/Opus voice notes, M4A, FLAC, WEBM, AAC, AMR or WMA, under 60 minutes (see Options → Convert Input to WAV)',
	},
	{
		displayName: 'Mode',
		name: 'mode',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Transcribe',
				value: 'transcribe',
				description: 'The transcript, with word timestamps and the optional extras below (POST /audio/transcribe)',
			},
			{
				name: 'Transcribe with Speakers (Diarization)',
				value: 'diarize',
				description: 'The transcript and who spoke when, as speaker segments (POST /audio/diarization/transcribe)',
			},
		],
		default: 'transcribe',
	},
	{
		displayName: 'Model',
		name: 'sttModel',
		type: 'options',
		options: [
			{ name: 'Munsit (Arabic)', value: 'munsit' },
			{ name: 'Munsit EN-AR (Arabic and English, Code-Switching)', value: 'munsit-en-ar' },
		],
		default: 'munsit',
		description: 'The speech-to-text model. The language is chosen by the model: there is no language field.',
	},
	...subtitleProperties(
		'cues built from the word timestamps (turned on for this), one per sentence or short clause, with the speaker of each cue in Transcribe with Speakers',
	),
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			concurrencyOption,
			convertInputOption(
				'Send what Munsit takes as it is (OGG/Opus, WebM, MP3, WAV, M4A, FLAC …: smaller than a WAV), after reading its length from the file (at most 60 minutes) and checking it is whole',
			),
			{
				displayName: 'Hotwords',
				name: 'hotwords',
				type: 'string',
				default: '',
				placeholder: 'e.g. فصيح,منصت',
				description: 'Comma-separated words to favour (names, products): at most 200 of at most 40 characters. Not supported with Munsit EN-AR.',
				displayOptions: { show: { '/mode': ['transcribe'] } },
			},
			{
				displayName: 'Include Raw Response',
				name: 'includeRawResponse',
				type: 'boolean',
				default: false,
				description: 'Whether to add the API’s whole answer, as sent, under "raw"',
			},
			maxFileSizeOption,
			rateLimitWaitOption,
			retryOnServerErrorOption,
			...FLAG_OPTIONS.map(
				({ option, displayName, description }): INodeProperties => ({
					displayName,
					name: option,
					type: 'boolean',
					default: false,
					description,
					displayOptions: { show: { '/mode': ['transcribe'] } },
				}),
			),
			{
				displayName: 'Timeout',
				name: 'timeout',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: STT_TIMEOUT_SECONDS,
				description: 'Seconds to wait for the transcript before the request fails',
			},
			{
				displayName: 'Word Timestamps',
				name: 'returnTimestamps',
				type: 'boolean',
				default: true,
				description: 'Whether to get each word with its start and end in seconds (return_timestamps, under "timestamps")',
				displayOptions: { show: { '/mode': ['transcribe'] } },
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['audio'], operation: ['transcribe'] } }, properties);

interface TranscribeRequest {
	mode: 'transcribe' | 'diarize';
	model: string;
	/** The multipart text fields, in the order sent (all before the file). */
	fields: Array<[string, string]>;
	timeoutSeconds: number;
	includeRaw: boolean;
	retryServerErrors: boolean;
	subtitles?: SubtitleSettings;
}

/** Reads and checks the parameters of one item; nothing is sent before this passes. */
function readRequest(this: IExecuteFunctions, itemIndex: number): TranscribeRequest {
	const check = new ParameterValidator(this.getNode(), itemIndex);
	const mode = this.getNodeParameter('mode', itemIndex, 'transcribe') as string;
	if (mode !== 'transcribe' && mode !== 'diarize') throw check.fail('Mode', `must be Transcribe or Diarize, got "${mode}"`);
	const model = check.requiredText('Model', this.getNodeParameter('sttModel', itemIndex, 'munsit')).trim();
	if (!(STT_MODELS as readonly string[]).includes(model)) {
		throw check.fail(
			'Model',
			`must be ${STT_MODELS.join(' or ')}, got "${model}"`,
			'The API accepts any model name silently and may then answer with an empty or wrong transcript, so the node checks it.',
		);
	}
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const timeoutSeconds =
		options.timeout === undefined ? STT_TIMEOUT_SECONDS : check.numberInRange('Timeout', options.timeout, 1, 86400);
	const fields: Array<[string, string]> = [['model', model]];
	const subtitles = readSubtitles.call(this, check, itemIndex);
	if (mode === 'transcribe') {
		// Every flag is sent explicitly: their defaults differ between the models.
		const timestamps = options.returnTimestamps === undefined ? true : options.returnTimestamps === true;
		if (subtitles && !timestamps) {
			throw check.fail(
				'Word Timestamps',
				'must be on to make subtitles: their cues are built from the word timestamps (return_timestamps)',
				'Turn Options → Word Timestamps on (or remove it: it is on by default), or set Subtitles to None.',
			);
		}
		fields.push(['return_timestamps', String(timestamps)]);
		for (const { option, field } of FLAG_OPTIONS) fields.push([field, String(options[option] === true)]);
		const hotwords = readHotwords(check, options.hotwords, model);
		if (hotwords !== undefined) fields.push(['hotwords', hotwords]);
	}
	return {
		mode,
		model,
		fields,
		timeoutSeconds,
		includeRaw: options.includeRawResponse === true,
		retryServerErrors: options.retryOnServerError === true,
		subtitles,
	};
}

function readHotwords(check: ParameterValidator, value: unknown, model: string): string | undefined {
	if (value === undefined || String(value).trim() === '') return undefined;
	const entries = check.wellFormed('Hotwords', String(value)).split(',').map((entry) => entry.trim());
	if (model === 'munsit-en-ar') {
		throw check.fail('Hotwords', 'is not supported with the Munsit EN-AR model', 'Remove the hotwords, or choose the Munsit (Arabic) model.');
	}
	if (entries.some((entry) => entry === '')) throw check.fail('Hotwords', 'has an empty entry (two commas in a row, or a comma at an end)');
	if (entries.length > 200) throw check.fail('Hotwords', `has ${entries.length} entries; the maximum is 200`);
	const long = entries.find((entry) => [...entry].length > 40);
	if (long !== undefined) throw check.fail('Hotwords', `has an entry longer than 40 characters ("${long.slice(0, 20)}…")`);
	return entries.join(',');
}

/**
 * The file name sent: the server picks its decoder from the extension and answers a mislabelled
 * file with an empty transcript, so the extension is made to match the content.
 */
export function uploadFileName(this: IExecuteFunctions, itemIndex: number, input: AudioInput): string {
	const match = /^(.*?)(?:\.([A-Za-z0-9]{1,5}))?$/.exec(input.fileName) ?? [];
	const base = (match[1] ?? '').replace(/[\r\n"]/g, '_') || 'audio';
	const extension = (match[2] ?? '').toLowerCase();
	const allowed = input.format ? FORMAT_EXTENSIONS[input.format] : undefined;
	if (allowed) return allowed.includes(extension) ? `${base}.${extension}` : `${base}.${allowed[0]}`;
	if (STT_EXTENSIONS.includes(extension)) return `${base}.${extension}`;
	const fromMime = MIME_EXTENSIONS[input.mimeType];
	if (fromMime) return `${base}.${fromMime}`;
	throw new ParameterValidator(this.getNode(), itemIndex).fail(
		'Input Data Field Name',
		`holds "${input.fileName}" (${input.mimeType}), a format speech-to-text does not take`,
		`Accepted: ${STT_EXTENSIONS.map((e) => `.${e}`).join(', ')}. Video files such as .mp4 are refused: extract the audio first.`,
	);
}

/**
 * n8n gives a node used as an AI Agent tool only the model's arguments as JSON, never a binary
 * (n8n-core get-input-connection-data.js: `addInputData(AiTool, [[{ json: toolArgs }]])`, 2.41.1),
 * so a recording cannot reach Transcribe that way: say so instead of "no binary field".
 */
function refuseToolUse(this: IExecuteFunctions, itemIndex: number): void {
	const item = this.getInputData()[itemIndex];
	if (!this.getNode().type.endsWith('Tool') || Object.keys(item?.binary ?? {}).length > 0) return;
	throw new ParameterValidator(this.getNode(), itemIndex).fail(
		'Input Data Field Name',
		'cannot receive a recording when the node runs as an AI Agent tool: n8n passes tools only the model’s arguments, never binary files',
		'Put Faseeh → Audio → Transcribe before the AI Agent and give the agent its "text" (see the Arabic voice agent example).',
	);
}

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	refuseToolUse.call(this, itemIndex);
	const request = readRequest.call(this, itemIndex);
	const mode = convertMode.call(this, itemIndex);
	const read = await readAudioInput.call(this, itemIndex, {
		parameterLabel: 'Input Data Field Name',
		...binaryFieldParameter.call(this, 'binaryPropertyName', 'Input Data Field Name', itemIndex),
		maxBytes: maxFileBytes.call(this, itemIndex),
	});
	const input = await prepareUpload.call(this, itemIndex, read, { ...STT_UPLOAD_POLICY, mode });
	const fileName = uploadFileName.call(this, itemIndex, input);
	const upload: AudioInput = { ...input, fileName, mimeType: (input.format && FORMAT_MIME[input.format]) || input.mimeType };
	const path = request.mode === 'diarize' ? API_PATHS.diarize : API_PATHS.transcribe;

	// Text fields first, then the file: some multipart parsers only see fields sent before files.
	const buildForm = async () =>
		await multipartBody(async (form) => {
			for (const [name, value] of request.fields) form.append(name, value);
			await appendAudioPart.call(this, form, 'file', upload, itemIndex);
		});
	const result = await faseehJson
		.call(this, {
			method: 'POST',
			path,
			body: buildForm,
			timeoutSeconds: request.timeoutSeconds,
			itemIndex,
			retryServerErrors: request.retryServerErrors,
		})
		.then((answer) => ({ answer }), (error: unknown) => ({ error }));
	// Only the 404 gets its own words (which hosts serve STT); every other error goes on as the transport built it.
	if ('error' in result) {
		if (isFaseehStatus(result.error, 404)) {
			throw sttHostMissingError(this.getNode(), result.error, await getBaseUrl.call(this, itemIndex), path, itemIndex);
		}
		throw result.error;
	}
	const { answer } = result;
	const json = transcriptJson.call(this, itemIndex, request, answer, fileName, describeUpload(input));
	if (!request.subtitles) return [{ json }];
	const cues = cuesFromWords(timedWords.call(this, itemIndex, request, unwrap.call(this, itemIndex, answer), String(json.text)), request.subtitles);
	const text = renderSubtitles(cues, request.subtitles, request.mode === 'diarize');
	json.subtitles = describeSubtitles(request.subtitles, cues);
	return [{ json, binary: { [request.subtitles.field]: await subtitleBinary(this, text, request.subtitles.format, input.fileName || 'transcript') } }];
}

/**
 * The answer's words with their times (`timestamps`, or `transcription.timestamps` for
 * diarization) and, for diarization, each word's speaker: the merged segment its middle falls in
 * (or the nearest one). An answer without them cannot give subtitles: the error names the option.
 */
function timedWords(this: IExecuteFunctions, itemIndex: number, request: TranscribeRequest, data: IDataObject, transcript: string): TimedWord[] {
	const source = request.mode === 'diarize' ? (data.transcription as IDataObject | undefined)?.timestamps : data.timestamps;
	const words = (Array.isArray(source) ? source : [])
		.filter((entry): entry is IDataObject => typeof entry === 'object' && entry !== null)
		.map((entry) => ({ word: String(entry.word ?? entry.text ?? '').trim(), start: Number(entry.start), end: Number(entry.end) }))
		.filter((word) => word.word !== '' && Number.isFinite(word.start) && Number.isFinite(word.end) && word.end >= word.start);
	if (words.length === 0 && transcript.trim() !== '') {
		throw new NodeOperationError(this.getNode(), `The transcript came without word timestamps, which subtitles are made from [item ${itemIndex}]`, {
			itemIndex,
			description:
				request.mode === 'diarize'
					? 'Munsit answered Transcribe with Speakers without "transcription.timestamps". Set Subtitles to None, or use Mode: Transcribe (it asks for Word Timestamps, return_timestamps).'
					: `return_timestamps was sent as true (Options → Word Timestamps), yet the answer has no "timestamps"${request.model === 'munsit-en-ar' ? ': Munsit EN-AR may not give them; try the Munsit model' : ''}. Set Subtitles to None to get the transcript alone.`,
		});
	}
	if (request.mode !== 'diarize') return words;
	const segments = speakerSegments(data.merged) ?? [];
	return words.map((word) => {
		const middle = (word.start + word.end) / 2;
		let speaker: string | undefined;
		let distance = Infinity;
		for (const segment of segments) {
			const start = Number(segment.start);
			const end = Number(segment.end);
			const away = middle < start ? start - middle : middle > end ? middle - end : 0;
			if (away < distance && segment.speaker !== undefined) {
				distance = away;
				speaker = String(segment.speaker);
			}
		}
		return { ...word, ...(speaker !== undefined ? { speaker } : {}) };
	});
}

/**
 * The item's JSON: `text` first, then the answer's fields as the API gives them (unknown ones
 * kept). Both the `{statusCode, data, message}` envelope and a bare body are read.
 */
function transcriptJson(
	this: IExecuteFunctions,
	itemIndex: number,
	request: TranscribeRequest,
	answer: unknown,
	fileName: string,
	upload: IDataObject,
): IDataObject {
	const data = unwrap.call(this, itemIndex, answer);
	const transcription = data.transcription;
	let text: unknown = transcription;
	if (request.mode === 'diarize' && typeof transcription === 'object' && transcription !== null) {
		text = (transcription as IDataObject).transcription;
	}
	if (typeof text !== 'string') {
		throw unexpectedAnswerError(
			this.getNode(),
			'The speech-to-text answer has no transcript (no "transcription" text)',
			`Expected {"statusCode": 200, "data": {"transcription": …}} from POST ${request.mode === 'diarize' ? API_PATHS.diarize : API_PATHS.transcribe}. Check the Base URL in the credential: speech-to-text is served by ${STT_HOSTS.join(', ')}.`,
			{ itemIndex },
		);
	}
	const json: IDataObject = { text, mode: request.mode, model: request.model, fileName, input: upload };
	if (request.mode === 'diarize') {
		const segments = speakerSegments(data.merged);
		if (segments) {
			json.segments = segments;
			json.speakers = [...new Set(segments.map((segment) => String(segment.speaker)))];
		}
	}
	for (const [key, value] of Object.entries(data)) {
		if (!(key in json)) json[key] = value as IDataObject[keyof IDataObject];
	}
	if (text.trim() === '') {
		json.warning =
			'The transcript is empty. The recording may be silent, or its content may not match its file extension (the API then answers with an empty transcript instead of an error).';
	}
	if (request.includeRaw) json.raw = answer as IDataObject;
	return json;
}

/** `data` of the envelope, or the bare body; an envelope carrying an error status is an error. */
function unwrap(this: IExecuteFunctions, itemIndex: number, answer: unknown): IDataObject {
	if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
		throw unexpectedAnswerError(this.getNode(), 'The speech-to-text answer is not a JSON object', 'Check the Base URL in the credential.', { itemIndex });
	}
	const body = answer as IDataObject;
	const status = typeof body.statusCode === 'number' ? body.statusCode : undefined;
	if (status !== undefined && (status < 200 || status >= 300)) {
		throw answerError(this.getNode(), { statusCode: status, body }, { itemIndex });
	}
	const data = body.data;
	if (typeof data === 'object' && data !== null && !Array.isArray(data) && !('transcription' in body)) return data as IDataObject;
	return body;
}

/** The diarization's merged segments sorted by start (the API does not order them). */
function speakerSegments(merged: unknown): IDataObject[] | undefined {
	if (!Array.isArray(merged)) return undefined;
	return merged
		.filter((segment): segment is IDataObject => typeof segment === 'object' && segment !== null)
		.map((segment, index) => ({ segment, index }))
		.sort((a, b) => Number(a.segment.start ?? 0) - Number(b.segment.start ?? 0) || a.index - b.index)
		.map(({ segment }) => segment);
}
