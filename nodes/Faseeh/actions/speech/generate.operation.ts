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
import { downmixToMono } from '../../../shared/audio';
import { VoiceNoteWriter } from '../../../shared/speech/voiceNote';
import { outputFormatProperties, readOutputFormat } from '../../../shared/speech/format';
import { LoudnessNormalizer, loudnessProperties, readLoudness, writeAnswer } from '../../../shared/speech/normalize';
import { describeAudio, SpeechOutput } from '../../../shared/speech/output';
import { faseehAudio } from '../../../shared/transport';
import { ParameterValidator } from '../../../shared/validate';
import { speakLongText } from '../../../shared/speech/longText';
import {
	dialectOption,
	fileNameOption,
	maxCharactersOption,
	pauseOption,
	checkSpeakablePieces,
	pieceConcurrency,
	readSpeechRequest,
	sampleRateOption,
	streamingOption,
} from '../../../shared/speech/request';
import { characterCount, splitForCues, splitForSpeech, validateSpeechText } from '../../../shared/speech/split';
import { cueOf, describeSubtitles, readSubtitles, renderSubtitles, subtitleBinary, subtitleProperties } from '../../../shared/speech/subtitles';
import type { Cue } from '../../../shared/speech/subtitles';

export { DEFAULT_MAX_CHARACTERS, DEFAULT_PAUSE_MS } from '../../../shared/speech/request';

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
	...loudnessProperties,
	...subtitleProperties('one cue per sentence or short clause, each spoken as its own request so its times are exact'),
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
			dialectOption,
			{
				displayName: 'File Name',
				name: 'fileName',
				type: 'string',
				default: '',
				placeholder: 'e.g. greeting.mp3',
				description:
					'Name of the output file. An audio extension follows the audio written (greeting.wav becomes greeting.mp3 for MP3); any other ending is kept (episode-2026.12.07 becomes episode-2026.12.07.mp3). Defaults to faseeh-speech-VOICE.',
			},
			maxCharactersOption,
			pauseOption,
			rateLimitWaitOption,
			retryOnServerErrorOption,
			sampleRateOption,
			speedOption,
			timeoutOption,
			streamingOption,
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
	const { body, streaming, maxCharacters, pauseMs, requestedSampleRate, outputSampleRate, request } = readSpeechRequest.call(
		this,
		check,
		itemIndex,
		model,
		{ voice_id: voiceId, text, stability },
		options,
	);
	const { format, bitRateKbps, voiceNote } = readOutputFormat.call(this, check, itemIndex);
	const loudness = readLoudness.call(this, check, itemIndex);
	// A voice note's bit rate is chosen later, at most 32 kbps: the limiter aims as for a low rate.
	const normalizer = loudness ? new LoudnessNormalizer(loudness, format, bitRateKbps ?? (voiceNote ? 16 : undefined)) : undefined;
	const subtitles = readSubtitles.call(this, check, itemIndex, outputField);
	if (subtitles && voiceNote) throw check.fail('Subtitles', 'are not made for a voice-note preset: choose None, or another Output Format');
	const fileName = fileNameOption(options, `faseeh-speech-${voiceId.replace(/[^A-Za-z0-9_-]/g, '_')}`);
	let notes: VoiceNoteWriter | undefined;
	if (voiceNote) {
		const settings = { ...voiceNote, fileName, itemIndex, pauseMs };
		VoiceNoteWriter.checkText(this, settings, text, body.speed as number | undefined, (problem, description) => check.fail('Output Format', problem, description));
		notes = new VoiceNoteWriter(this, settings);
	}
	// A voice note is made of whole pieces: one piece must fit one note.
	// With subtitles every cue is a piece of its own: its times are then its piece's place in the file.
	const pieces = subtitles
		? splitForCues(text, subtitles.maxLineChars * subtitles.maxLines, maxCharacters)
		: splitForSpeech(text, notes ? Math.min(maxCharacters, notes.maxPieceCharacters()) : maxCharacters);
	checkSpeakablePieces(check, 'Text', pieces);
	if (notes) return await speakVoiceNotes.call(this, notes, { request, pieces, itemIndex, pauseMs, requestedSampleRate, outputField, json: { voice_id: voiceId, model, streaming }, normalizer });
	const output = new SpeechOutput(this, { format, bitRateKbps, fileName, itemIndex, sampleRate: outputSampleRate });
	const cues: Cue[] = [];
	let written;
	try {
		if (pieces.length > 1 || subtitles) {
			let position = 0;
			await speakLongText.call(this, {
				itemIndex,
				pieces,
				request,
				concurrency: await pieceConcurrency.call(this, itemIndex),
				pauseMs,
				requestedSampleRate: requestedSampleRate ?? 24000,
				writePcm: async (pcm, rate, piece) => {
					const audio = normalizer ? await normalizer.apply(pcm, rate) : pcm;
					if (subtitles) cues.push(...cueOf(audio, rate, position, piece.pauseBytes, pieces[piece.index]));
					position += audio.length;
					await output.writePcm(audio, rate);
				},
			});
		} else {
			const { answer } = await faseehAudio.call(this, request);
			await writeAnswer(this, output, answer, normalizer, itemIndex);
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
	if (normalizer) json.loudness = normalizer.summary();
	const binary = { [outputField]: written.binary };
	if (subtitles) {
		binary[subtitles.field] = await subtitleBinary(this, renderSubtitles(cues, subtitles), subtitles.format, written.fileName);
		json.subtitles = describeSubtitles(subtitles, cues);
	}
	return [{ json, binary }];
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
		normalizer?: LoudnessNormalizer;
	},
): Promise<INodeExecutionData[]> {
	const { normalizer } = spoken;
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
				writePcm: async (pcm, rate) => await notes.add(normalizer ? await normalizer.apply(pcm, rate) : pcm, rate, pieceIndex++),
			});
		} else {
			const { answer } = await faseehAudio.call(this, { ...spoken.request, body: { ...(spoken.request.body as IDataObject), text: pieces[0] } });
			if (answer.kind !== 'pcm') {
				throw new NodeOperationError(this.getNode(), `Faseeh answered ${answer.mimeType} audio, which this node can keep but not make into a voice note [item ${itemIndex}]`, {
					itemIndex,
					description: 'Set Output Format to WAV to keep the audio as Faseeh sent it.',
				});
			}
			const pcm = downmixToMono(answer.pcm, answer.channels);
			await notes.add(normalizer ? await normalizer.apply(pcm, answer.sampleRate) : pcm, answer.sampleRate, 0);
		}
		written = await notes.finish();
	} finally {
		if (!written) notes.abort();
	}
	return written.map((note) => {
		const text = note.pieces.map((index) => pieces[index]).join(' ');
		return {
			json: { ...spoken.json, text, characters: characterCount(text), pieces: note.pieces.length, ...note.json, ...(normalizer ? { loudness: normalizer.summary() } : {}) },
			binary: { [spoken.outputField]: note.binary },
		};
	});
}
