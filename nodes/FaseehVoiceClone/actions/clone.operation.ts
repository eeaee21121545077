import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import {
	appendAudioPart,
	audioInputFromBuffer,
	binaryFieldParameter,
	haveSameContent,
	multipartBody,
	readAudioInput,
} from '../../shared/binary';
import type { AudioInput } from '../../shared/binary';
import { explainAsIsRefusal, FASEEH_UPLOAD_POLICY, prepareUpload } from '../../shared/decode/convert';
import { convertMode, maxFileBytes, timeoutSeconds } from '../../shared/options';
import { answerAsFile } from '../../shared/audio';
import { requestVoicePreview } from '../../shared/preview';
import { API_PATHS, faseehJson, plainDecimal } from '../../shared/transport';
import { unexpectedAnswerError, VOICE_MAY_EXIST } from '../../shared/transport/errors';
import { ParameterValidator } from '../../shared/validate';

export const MAX_VOICE_NAME_LENGTH = 200;

/** The clone request's fields, validated; optional ones are absent when not set. */
export interface CloneFields {
	text: string;
	stability: number;
	name: string;
	model: string;
	description?: string;
	gender?: string;
	age?: string;
	languages?: string;
	dialects?: string;
	avatarUrl?: string;
}

/** Reads and checks the text parameters of the clone request for one item. */
export function readCloneFields(this: IExecuteFunctions, itemIndex: number): CloneFields {
	const check = new ParameterValidator(this.getNode(), itemIndex);
	const additional = this.getNodeParameter('additionalFields', itemIndex, {}) as IDataObject;
	const name = this.getNodeParameter('name', itemIndex);
	const fields: CloneFields = {
		text: check.requiredText('Text', this.getNodeParameter('text', itemIndex)),
		stability: check.numberInRange('Stability', this.getNodeParameter('stability', itemIndex), 0, 1),
		// Trimmed before the length check: the limit applies to the name that is sent.
		name: check.requiredText('Name', typeof name === 'string' ? name.trim() : name, MAX_VOICE_NAME_LENGTH),
		model: check.requiredText('Model Name or ID', this.getNodeParameter('model', itemIndex)).trim(),
	};
	if (typeof additional.description === 'string' && additional.description.trim() !== '') {
		fields.description = check.wellFormed('Description', additional.description);
	}
	for (const key of ['gender', 'age'] as const) {
		const value = additional[key];
		if (value !== undefined && String(value).trim() !== '') fields[key] = String(value).trim();
	}
	const languages = check.list('Languages', additional.languages);
	if (languages) fields.languages = languages;
	const dialects = check.list('Dialects', additional.dialects);
	if (dialects) fields.dialects = dialects;
	if (additional.avatarUrl !== undefined && String(additional.avatarUrl).trim() !== '') {
		fields.avatarUrl = check.httpUrl('Avatar URL', additional.avatarUrl);
	}
	return fields;
}

/** Reads the two binary inputs named by the node's parameters and checks them. */
export async function readCloneAudio(
	this: IExecuteFunctions,
	itemIndex: number,
): Promise<{ voice: AudioInput; reference: AudioInput }> {
	const maxBytes = maxFileBytes.call(this, itemIndex);
	const voice = await readAudioInput.call(this, itemIndex, {
		parameterLabel: 'Voice File Field',
		...binaryFieldParameter.call(this, 'voiceBinaryPropertyName', 'Voice File Field', itemIndex),
		maxBytes,
	});
	const reference = await readReferenceAudio.call(this, itemIndex, maxBytes);
	if (await haveSameContent.call(this, voice, reference, itemIndex)) {
		throw new ParameterValidator(this.getNode(), itemIndex).fail(
			'Voice File Field',
			`and "Reference Audio Field" hold the same file ("${voice.spec.field}" and "${reference.spec.field}")`,
			'The voice file must be the preview Faseeh generated; the reference audio is the original recording.',
		);
	}
	// Checked as they came (the same-file check above), then converted: a voice note becomes a WAV.
	const mode = convertMode.call(this, itemIndex);
	return {
		voice: await prepareUpload.call(this, itemIndex, voice, { ...FASEEH_UPLOAD_POLICY, mode }),
		reference: await prepareUpload.call(this, itemIndex, reference, { ...FASEEH_UPLOAD_POLICY, mode }),
	};
}

export async function readReferenceAudio(
	this: IExecuteFunctions,
	itemIndex: number,
	maxBytes = maxFileBytes.call(this, itemIndex),
): Promise<AudioInput> {
	return await readAudioInput.call(this, itemIndex, {
		parameterLabel: 'Reference Audio Field',
		...binaryFieldParameter.call(this, 'referenceBinaryPropertyName', 'Reference Audio Field', itemIndex),
		maxBytes,
	});
}


/** Sends POST /voices/clone with exactly the documented parts and returns the created voice. */
export async function sendCloneRequest(
	this: IExecuteFunctions,
	itemIndex: number,
	fields: CloneFields,
	voice: AudioInput,
	reference: AudioInput,
	timeoutSeconds?: number,
): Promise<IDataObject> {
	// Text fields first, then the files: some multipart parsers only see fields sent before files.
	const buildForm = async () =>
		await multipartBody(async (form) => {
			form.append('text', fields.text);
			form.append('stability', plainDecimal(fields.stability));
			form.append('name', fields.name);
			form.append('model', fields.model);
			const optional: Array<[string, string | undefined]> = [
				['description', fields.description],
				['gender', fields.gender],
				['age', fields.age],
				['languages', fields.languages],
				['dialects', fields.dialects],
				['avatar_url', fields.avatarUrl],
			];
			for (const [part, value] of optional) {
				if (value !== undefined) form.append(part, value);
			}
			await appendAudioPart.call(this, form, 'voice_file', voice, itemIndex);
			await appendAudioPart.call(this, form, 'reference_audio_file', reference, itemIndex);
		});

	const voiceJson = await faseehJson
		.call(this, {
			method: 'POST',
			path: API_PATHS.voiceClone,
			body: buildForm,
			timeoutSeconds,
			itemIndex,
			createsVoice: true,
		})
		.catch((error: unknown) => {
			throw explainAsIsRefusal(error, [voice, reference]);
		});
	if (
		typeof voiceJson !== 'object' ||
		voiceJson === null ||
		Array.isArray(voiceJson) ||
		typeof (voiceJson as IDataObject).voice_id !== 'string'
	) {
		throw unexpectedAnswerError(
			this.getNode(),
			'Faseeh answered the clone request without a voice_id',
			`The answer did not contain the created voice. ${VOICE_MAY_EXIST}`,
			{ itemIndex },
		);
	}
	return voiceJson as IDataObject;
}

/**
 * One item of the Faseeh Voice Clone node. With voiceSource "binary" the preview audio and the
 * original come from the input; with "preview" the node first previews the original with the same
 * text and model, then clones with that audio (so the pair can never mismatch).
 */
export async function cloneVoice(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	// n8n gives a node run as an AI Agent tool only the model's JSON arguments, never binary files.
	const item = this.getInputData()[itemIndex];
	if (this.getNode().type.endsWith('Tool') && Object.keys(item?.binary ?? {}).length === 0) {
		throw new ParameterValidator(this.getNode(), itemIndex).fail(
			'Reference Audio Field',
			'cannot receive a recording when Faseeh Voice Clone runs as an AI Agent tool: n8n passes tools only the model’s arguments, never binary files',
			'Clone before or after the AI Agent, with the recordings on the item (see examples/webhook-one-step-clone.json).',
		);
	}
	const fields = readCloneFields.call(this, itemIndex);
	const timeout = timeoutSeconds.call(this, itemIndex);
	if (this.getNodeParameter('voiceSource', itemIndex, 'binary') !== 'preview') {
		const { voice, reference } = await readCloneAudio.call(this, itemIndex);
		return [{ json: await sendCloneRequest.call(this, itemIndex, fields, voice, reference, timeout) }];
	}

	const check = new ParameterValidator(this.getNode(), itemIndex);
	check.previewText('Text', fields.text);
	const similarity = check.numberInRange('Similarity', this.getNodeParameter('similarity', itemIndex), 0, 1);
	// The recording is converted once, for the preview and the clone.
	const reference = await prepareUpload.call(this, itemIndex, await readReferenceAudio.call(this, itemIndex), {
		...FASEEH_UPLOAD_POLICY,
		mode: convertMode.call(this, itemIndex),
	});
	const preview = answerAsFile(
		await requestVoicePreview
			.call(this, itemIndex, {
				text: fields.text,
				similarity,
				model: fields.model,
				recording: reference,
				timeoutSeconds: timeout,
			})
			.catch((error: unknown) => {
				throw explainAsIsRefusal(error, [reference]);
			}),
	);
	const previewName = `${reference.fileName.replace(/\.[^.]*$/, '') || 'recording'}-preview.${preview.extension}`;
	const voice = audioInputFromBuffer(preview.data, previewName, preview.mimeType, {
		parameterLabel: 'Voice File Field',
		field: 'voice_file',
		maxBytes: Number.MAX_SAFE_INTEGER,
	});
	const voiceJson = await sendCloneRequest.call(this, itemIndex, fields, voice, reference, timeout);
	return [
		{
			json: voiceJson,
			// The preview audio is kept on the output so it can be listened to.
			binary: { voice_file: await this.helpers.prepareBinaryData(preview.data, previewName, preview.mimeType) },
		},
	];
}

/**
 * For a batch that failed without Continue On Fail: the voices already created (their outputs are
 * lost with the failure), so that a rerun does not clone them, and pay for them, twice.
 */
export function describeCreatedVoices(completed: Array<{ itemIndex: number; json: IDataObject }>): string | undefined {
	const created = completed.filter((done) => typeof done.json.voice_id === 'string');
	if (created.length === 0) return undefined;
	const shown = created
		.slice(0, 20)
		.map((done) => `item ${done.itemIndex} → ${String(done.json.voice_id)}${typeof done.json.name === 'string' ? ` ("${done.json.name}")` : ''}`);
	const more = created.length > shown.length ? `, and ${created.length - shown.length} more` : '';
	return `Before it stopped, this run created ${created.length} voice${created.length === 1 ? '' : 's'}: ${shown.join(', ')}${more}. They exist in Faseeh: do not clone those items again.`;
}
