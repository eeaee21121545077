import type { IBinaryData, IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { binaryFieldParameter, readAudioInput } from '../../../shared/binary';
import {
	concurrencyOption,
	convertInputOption,
	rateLimitWaitOption,
	maxFileSizeOption,
	modelProperty,
	retryOnServerErrorOption,
	similarityProperty,
	speedOption,
	timeoutOption,
} from '../../../shared/descriptions';
import { describeUpload, explainAsIsRefusal, FASEEH_UPLOAD_POLICY, prepareUpload } from '../../../shared/decode/convert';
import { convertMode, maxFileBytes, timeoutSeconds } from '../../../shared/options';
import { requestVoicePreview } from '../../../shared/preview';
import { outputFormatProperties, readOutputFormat } from '../../../shared/speech/format';
import { LoudnessNormalizer, loudnessProperties, readLoudness, writeAnswer } from '../../../shared/speech/normalize';
import { describeAudio, SpeechOutput, withoutAudioExtension } from '../../../shared/speech/output';
import { ParameterValidator } from '../../../shared/validate';
import { downmixToMono } from '../../../shared/audio';
import { VoiceNoteWriter } from '../../../shared/speech/voiceNote';

/** Output binary names match the Faseeh Voice Clone node's defaults, so it works with no mapping. */
export const PREVIEW_BINARY = 'voice_file';
export const REFERENCE_BINARY = 'reference_audio_file';

const properties: INodeProperties[] = [
	{
		displayName: 'Input Data Field Name',
		name: 'binaryPropertyName',
		type: 'string',
		default: 'data',
		required: true,
		hint: 'The name of the input binary field containing the original recording',
		description:
			'The recording whose voice is previewed: WAV, or a voice note (OGG/Opus, WebM/Opus, MP3), which is converted to WAV first (see Options). It is passed through as it came as the reference_audio_file output.',
	},
	{
		displayName: 'Text',
		name: 'text',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		required: true,
		placeholder: 'e.g. مرحبا بك في فصيح، كيف يمكنني مساعدتك اليوم؟',
		description: 'Arabic text to speak in the recorded voice: at least 3 words and 10 characters. Cloning later needs the same text.',
	},
	similarityProperty(),
	modelProperty('model'),
	...outputFormatProperties(
		'The preview file to produce. Keep WAV to feed it to Faseeh Voice Clone (the audio as Faseeh spoke it); MP3 or OGG/Opus to send it to a person to listen to (a Telegram or WhatsApp voice note).',
	),
	...loudnessProperties.map((property) =>
		property.name === 'loudness' ? { ...property, description: `${property.description} Keep Off when the preview goes on to Faseeh Voice Clone.` } : property,
	),
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			concurrencyOption,
			convertInputOption('Send WAV as it is; decode OGG/Opus, WebM/Opus and MP3 to WAV; send other formats (M4A …) as they are'),
			maxFileSizeOption,
			rateLimitWaitOption,
			retryOnServerErrorOption,
			speedOption,
			timeoutOption,
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['voice'], operation: ['preview'] } }, properties);

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const check = new ParameterValidator(this.getNode(), itemIndex);
	const text = check.previewText('Text', this.getNodeParameter('text', itemIndex));
	const similarity = check.numberInRange('Similarity', this.getNodeParameter('similarity', itemIndex), 0, 1);
	const model = check.requiredText('Model Name or ID', this.getNodeParameter('model', itemIndex)).trim();
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const speed = options.speed === undefined ? undefined : check.numberInRange('Speed', options.speed, 0.7, 1.2);
	const { format, bitRateKbps, voiceNote } = readOutputFormat.call(this, check, itemIndex);
	const mode = convertMode.call(this, itemIndex);
	const loudness = readLoudness.call(this, check, itemIndex);
	const recording = await readAudioInput.call(this, itemIndex, {
		parameterLabel: 'Input Data Field Name',
		...binaryFieldParameter.call(this, 'binaryPropertyName', 'Input Data Field Name', itemIndex),
		maxBytes: maxFileBytes.call(this, itemIndex),
	});
	const upload = await prepareUpload.call(this, itemIndex, recording, { ...FASEEH_UPLOAD_POLICY, mode });

	const answer = await requestVoicePreview
		.call(this, itemIndex, {
			text,
			similarity,
			model,
			speed,
			recording: upload,
			timeoutSeconds: timeoutSeconds.call(this, itemIndex),
			retryServerErrors: options.retryOnServerError === true,
		})
		.catch((error: unknown) => {
			throw explainAsIsRefusal(error, [upload]);
		});
	const baseName = withoutAudioExtension(recording.fileName) || 'recording';
	let audio: { binary: IBinaryData; json: IDataObject };
	// A voice note's bit rate is chosen later, at most 32 kbps: the limiter aims as for a low rate.
	const normalizer = loudness ? new LoudnessNormalizer(loudness, format, bitRateKbps ?? (voiceNote ? 16 : undefined)) : undefined;
	if (voiceNote) {
		// A preview is a sentence: one note, to send to the speaker for approval.
		if (answer.kind !== 'pcm') throw check.fail('Output Format', `cannot make a voice note of Faseeh's ${answer.mimeType} answer`, 'Set Output Format to WAV.');
		const notes = new VoiceNoteWriter(this, { ...voiceNote, overflow: 'fail', fileName: `${baseName}-preview`, itemIndex, pauseMs: 0 });
		const pcm = downmixToMono(answer.pcm, answer.channels);
		await notes.add(normalizer ? await normalizer.apply(pcm, answer.sampleRate) : pcm, answer.sampleRate, 0);
		const [note] = await notes.finish();
		delete note.json.note;
		delete note.json.notes;
		audio = { binary: note.binary, json: note.json };
	} else {
		const output = new SpeechOutput(this, { format, bitRateKbps, fileName: `${baseName}-preview`, itemIndex });
		let written;
		try {
			await writeAnswer(this, output, answer, normalizer, itemIndex);
			written = await output.finish();
		} finally {
			if (!written) output.abort();
		}
		audio = { binary: written.binary, json: describeAudio(format, written, bitRateKbps) };
	}
	const json: IDataObject = {
		text,
		model,
		similarity,
		...audio.json,
	};
	if (speed !== undefined) json.speed = speed;
	json.input = describeUpload(upload);
	if (normalizer) json.loudness = normalizer.summary();
	return [
		{
			json,
			binary: {
				[PREVIEW_BINARY]: audio.binary,
				[REFERENCE_BINARY]: recording.binary,
			},
		},
	];
}
