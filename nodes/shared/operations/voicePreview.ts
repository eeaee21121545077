import type { IExecuteFunctions } from 'n8n-workflow';

import { FASEEH_PCM_FORMAT, isRawPcmMimeType, wrapPcmAsWav } from '../audio';
import type { AudioInput } from '../binary';
import { appendAudioPart, multipartBody } from '../binary';
import { API_PATHS, faseehAudio, plainDecimal } from '../transport';

export interface PreviewRequest {
	text: string;
	similarity: number;
	model: string;
	speed?: number;
	recording: AudioInput;
	timeoutSeconds?: number;
	/** Retry 5xx answers (the user's opt-in; never used for the one-step clone's preview). */
	retryServerErrors?: boolean;
}

export interface PreviewAudio {
	/** The preview as a WAV file, ready to play or to send as the clone's voice_file. */
	wav: Buffer;
	durationSeconds: number;
}

/**
 * Sends POST /voices/preview (multipart: text, similarity, model_id, optional speed, file) and
 * returns the answer as WAV: Faseeh answers headerless PCM16 LE, 24 kHz, mono.
 */
export async function requestVoicePreview(
	this: IExecuteFunctions,
	itemIndex: number,
	request: PreviewRequest,
): Promise<PreviewAudio> {
	const buildForm = async () =>
		await multipartBody(async (form) => {
			form.append('text', request.text);
			form.append('similarity', plainDecimal(request.similarity));
			form.append('model_id', request.model);
			if (request.speed !== undefined) form.append('speed', plainDecimal(request.speed));
			await appendAudioPart.call(this, form, 'file', request.recording, itemIndex);
		});

	const { audio, contentType } = await faseehAudio.call(this, {
		method: 'POST',
		path: API_PATHS.voicePreview,
		body: buildForm,
		retryServerErrors: request.retryServerErrors,
		timeoutSeconds: request.timeoutSeconds,
		itemIndex,
	});
	return toWav(audio, contentType);
}

/** Raw PCM (the documented answer) is wrapped; an answer that already is a WAV is kept. */
export function toWav(audio: Buffer, contentType: string): PreviewAudio {
	const isWav = audio.subarray(0, 4).toString('latin1') === 'RIFF';
	if (isWav || !isRawPcmMimeType(contentType)) {
		return { wav: audio, durationSeconds: wavDurationSeconds(audio) };
	}
	const sampleRate = Number(/rate=(\d+)/i.exec(contentType)?.[1] ?? FASEEH_PCM_FORMAT.sampleRate);
	const channels = Number(/channels=(\d+)/i.exec(contentType)?.[1] ?? FASEEH_PCM_FORMAT.channels);
	const wav = wrapPcmAsWav(audio, { sampleRate, channels, bitsPerSample: 16 });
	return { wav, durationSeconds: wavDurationSeconds(wav) };
}

/** Duration from a canonical WAV header; 0 when the header is not one. */
export function wavDurationSeconds(wav: Buffer): number {
	if (wav.length < 44 || wav.toString('latin1', 0, 4) !== 'RIFF') return 0;
	const byteRate = wav.readUInt32LE(28);
	const dataSize = Math.min(wav.readUInt32LE(40), wav.length - 44);
	return byteRate > 0 ? Math.round((dataSize / byteRate) * 1000) / 1000 : 0;
}
