import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import {
	concurrencyOption,
	modelProperty,
	rateLimitWaitOption,
	retryOnServerErrorOption,
	speedOption,
	stabilityProperty,
	timeoutOption,
} from '../../../shared/descriptions';
import { turnsFromJson, turnsFromList, turnsFromScript } from '../../../shared/speech/dialogue';
import type { DialogueTurn } from '../../../shared/speech/dialogue';
import { outputFormatProperties, readOutputFormat } from '../../../shared/speech/format';
import { speakLongText } from '../../../shared/speech/longText';
import { LoudnessNormalizer, loudnessProperties, readLoudness } from '../../../shared/speech/normalize';
import { describeAudio, SpeechOutput } from '../../../shared/speech/output';
import { pieceLabel } from '../../../shared/speech/pieces';
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
	wholeNumber,
} from '../../../shared/speech/request';
import { characterCount, splitForCues, splitForSpeech } from '../../../shared/speech/split';
import { cueOf, describeSubtitles, readSubtitles, renderSubtitles, subtitleBinary, subtitleProperties } from '../../../shared/speech/subtitles';
import type { Cue } from '../../../shared/speech/subtitles';
import { ParameterValidator } from '../../../shared/validate';

export const DEFAULT_TURN_PAUSE_MS = 500;

const voicePicker = {
	displayName: 'Voice Name or ID',
	name: 'voiceId',
	type: 'options',
	typeOptions: { loadOptionsMethod: 'getVoices' },
	default: '',
	description:
		'The voice of this turn. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
} satisfies INodeProperties;

const properties: INodeProperties[] = [
	{
		displayName: 'Turns Input',
		name: 'turnsInput',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'Turns List', value: 'list', description: 'Add the turns here, a voice and a text each' },
			{
				name: 'JSON Array',
				value: 'json',
				description: 'An array of {"voice_ID", "text"} turns from an expression, e.g. an AI Agent’s script',
			},
			{ name: 'Script', value: 'script', description: 'Lines "Name: text", and a voice for each name' },
		],
		default: 'list',
	},
	{
		displayName: 'Turns',
		name: 'turns',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true, sortable: true },
		placeholder: 'Add Turn',
		default: {},
		description: 'The turns in the order they are spoken',
		displayOptions: { show: { turnsInput: ['list'] } },
		options: [
			{
				displayName: 'Turn',
				name: 'turn',
				values: [
					voicePicker,
					{
						displayName: 'Text',
						name: 'text',
						type: 'string',
						typeOptions: { rows: 2 },
						default: '',
						placeholder: 'e.g. أهلا بكم في حلقة اليوم',
						description: 'What this voice says. &lt;break time="500ms"/&gt; inserts a pause.',
					},
				],
			},
		],
	},
	{
		displayName: 'Turns (JSON)',
		name: 'turnsJson',
		type: 'json',
		default: '[\n  { "voice_id": "ar-najdi-male-2", "text": "أهلا بكم في حلقة اليوم." },\n  { "voice_id": "ar-hijazi-female-1", "text": "يسعدني أن أكون معكم." }\n]',
		required: true,
		description:
			'A JSON array of turns, each {"voice_ID": "…", "text": "…"} (an optional "speaker" names the voice in subtitles). An AI Agent’s answer works as it is, with or without a Markdown code fence.',
		displayOptions: { show: { turnsInput: ['json'] } },
	},
	{
		displayName: 'Script',
		name: 'script',
		type: 'string',
		typeOptions: { rows: 8 },
		default: '',
		required: true,
		placeholder: 'e.g. Ahmad: أهلا بكم في حلقة اليوم.\nLayla: يسعدني أن أكون معكم.',
		description: 'One turn per line, written "Name: text". Every name needs a voice under Speakers.',
		displayOptions: { show: { turnsInput: ['script'] } },
	},
	{
		displayName: 'Speakers',
		name: 'speakers',
		type: 'fixedCollection',
		typeOptions: { multipleValues: true },
		placeholder: 'Add Speaker',
		default: {},
		description: 'The voice of each name in the script',
		displayOptions: { show: { turnsInput: ['script'] } },
		options: [
			{
				displayName: 'Speaker',
				name: 'speaker',
				values: [
					{
						displayName: 'Name',
						name: 'name',
						type: 'string',
						default: '',
						placeholder: 'e.g. Ahmad',
						description: 'The name as the script writes it before the colon (case does not matter)',
					},
					voicePicker,
				],
			},
		],
	},
	modelProperty('model'),
	stabilityProperty(),
	...outputFormatProperties('The audio file to produce: the whole dialogue as one file. Encoded inside n8n (no ffmpeg needed).'),
	...loudnessProperties,
	...subtitleProperties('one cue per sentence or short clause of every turn (WebVTT names the speaker), each spoken as its own request so its times are exact'),
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
				placeholder: 'e.g. episode-12.mp3',
				description: 'Name of the output file. Its extension follows the audio written. Defaults to faseeh-dialogue.',
			},
			maxCharactersOption,
			pauseOption,
			{
				displayName: 'Pause Between Turns (Ms)',
				name: 'turnPauseMs',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 10000, numberPrecision: 0 },
				default: DEFAULT_TURN_PAUSE_MS,
				description: 'Silence between two turns, in milliseconds',
			},
			rateLimitWaitOption,
			retryOnServerErrorOption,
			sampleRateOption,
			speedOption,
			timeoutOption,
			streamingOption,
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['speech'], operation: ['generateDialogue'] } }, properties);

/** The turns of one item, in the form Turns Input names, checked before any request. */
function readTurns(this: IExecuteFunctions, check: ParameterValidator, itemIndex: number): DialogueTurn[] {
	const input = this.getNodeParameter('turnsInput', itemIndex, 'list') as string;
	if (input === 'json') return turnsFromJson(check, this.getNodeParameter('turnsJson', itemIndex, ''));
	if (input === 'script') {
		return turnsFromScript(check, this.getNodeParameter('script', itemIndex, ''), this.getNodeParameter('speakers', itemIndex, {}));
	}
	if (input !== 'list') throw check.fail('Turns Input', `must be Turns List, JSON Array or Script, got "${input}"`);
	return turnsFromList(check, this.getNodeParameter('turns', itemIndex, {}));
}

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const check = new ParameterValidator(this.getNode(), itemIndex);
	const turns = readTurns.call(this, check, itemIndex);
	const turnsInput = this.getNodeParameter('turnsInput', itemIndex, 'list') as string;
	const turnsLabel = turnsInput === 'json' ? 'Turns (JSON)' : turnsInput === 'script' ? 'Script' : 'Turns';
	const model = check.requiredText('Model Name or ID', this.getNodeParameter('model', itemIndex)).trim();
	const stability = check.numberInRange('Stability', this.getNodeParameter('stability', itemIndex), 0, 1);
	const outputField = check.requiredText('Put Output File in Field', this.getNodeParameter('binaryPropertyName', itemIndex)).trim();
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const { body, streaming, maxCharacters, pauseMs, requestedSampleRate, outputSampleRate, request } = readSpeechRequest.call(
		this,
		check,
		itemIndex,
		model,
		{ stability },
		options,
	);
	const turnPauseMs = wholeNumber(check, 'Pause Between Turns (Ms)', options.turnPauseMs ?? DEFAULT_TURN_PAUSE_MS, 0, 10000);
	const { format, bitRateKbps, voiceNote } = readOutputFormat.call(this, check, itemIndex);
	if (voiceNote) {
		throw check.fail(
			'Output Format',
			'cannot be a voice-note preset for a dialogue: choose OGG/Opus',
			'WhatsApp and Telegram voice notes are made by Speech → Generate (one voice); a dialogue as OGG/Opus plays in both apps as an audio file.',
		);
	}
	const loudness = readLoudness.call(this, check, itemIndex);
	// Every turn is its own unit: each voice ends at the target, whatever level Faseeh speaks it at.
	const normalizer = loudness ? new LoudnessNormalizer(loudness, format, bitRateKbps) : undefined;
	const subtitles = readSubtitles.call(this, check, itemIndex, outputField);

	// Every turn is spoken like a long text: its pieces, flattened in order, go through one
	// synthesizePieces, so pieces of the next turns are requested while earlier ones are joined.
	const pieces: string[] = [];
	const pieceTurn: number[] = [];
	const turnPieces: number[] = [];
	turns.forEach((turn, turnIndex) => {
		const split = subtitles ? splitForCues(turn.text, subtitles.maxLineChars * subtitles.maxLines, maxCharacters) : splitForSpeech(turn.text, maxCharacters);
		checkSpeakablePieces(check, turnsLabel, split, `turn ${turnIndex + 1} `);
		turnPieces.push(split.length);
		for (const piece of split) {
			pieces.push(piece);
			pieceTurn.push(turnIndex);
		}
	});
	const firstPieceOf = turnPieces.map((_count, turnIndex) => pieceTurn.indexOf(turnIndex));
	const describePiece = (index: number) => {
		const turnIndex = pieceTurn[index];
		const turn = turns[turnIndex];
		const who = turn.speaker ? `${turn.speaker}, ${turn.voiceId}` : turn.voiceId;
		const inTurn = pieceLabel(index - firstPieceOf[turnIndex], turnPieces[turnIndex], pieces[index]);
		const piece = turnPieces[turnIndex] > 1 ? `, ${inTurn}` : ` ${inTurn.replace(/^piece 1 of 1 /u, '')}`;
		return `turn ${turnIndex + 1} of ${turns.length} (${who})${piece}`;
	};

	const output = new SpeechOutput(this, { format, bitRateKbps, fileName: fileNameOption(options, 'faseeh-dialogue'), itemIndex, sampleRate: outputSampleRate });
	/** Per turn: the first and last PCM byte of its audio in the file (pauses excluded). */
	const bounds = turns.map(() => ({ start: -1, end: -1 }));
	const cues: Cue[] = [];
	let written;
	let sampleRate = requestedSampleRate ?? 24000;
	try {
		let position = 0;
		sampleRate = await speakLongText.call(this, {
			itemIndex,
			pieces,
			request,
			pieceBody: (index) => ({ ...body, voice_id: turns[pieceTurn[index]].voiceId }),
			concurrency: await pieceConcurrency.call(this, itemIndex),
			pauseMs: (index) => (pieceTurn[index] !== pieceTurn[index - 1] ? turnPauseMs : pauseMs),
			requestedSampleRate: requestedSampleRate ?? 24000,
			subject: `a dialogue of ${turns.length} turns`,
			describePiece,
			writePcm: async (pcm, rate, piece) => {
				const turn = bounds[pieceTurn[piece.index]];
				if (turn.start < 0) turn.start = position + piece.pauseBytes;
				turn.end = position + pcm.length;
				const audio = normalizer ? await normalizer.apply(pcm, rate, pieceTurn[piece.index]) : pcm;
				if (subtitles) cues.push(...cueOf(audio, rate, position, piece.pauseBytes, pieces[piece.index], turns[pieceTurn[piece.index]].speaker));
				position += pcm.length;
				await output.writePcm(audio, rate);
			},
		});
		written = await output.finish();
	} finally {
		if (!written) output.abort();
	}
	const seconds = (bytes: number) => Math.round((bytes / 2 / sampleRate) * 1000) / 1000;
	const json: IDataObject = {
		model,
		turns: turns.map((turn, turnIndex) => ({
			turn: turnIndex + 1,
			...(turn.speaker ? { speaker: turn.speaker } : {}),
			voice_id: turn.voiceId,
			text: turn.text,
			characters: characterCount(turn.text),
			pieces: turnPieces[turnIndex],
			start: seconds(bounds[turnIndex].start),
			end: seconds(bounds[turnIndex].end),
		})),
		voices: [...new Set(turns.map((turn) => turn.voiceId))],
		characters: turns.reduce((sum, turn) => sum + characterCount(turn.text), 0),
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

