import type { IExecuteFunctions } from 'n8n-workflow';

import type { AudioAnswer } from './audio';
import type { AudioInput } from './binary';
import { appendAudioPart, multipartBody } from './binary';
import { API_PATHS, faseehAudio, plainDecimal } from './transport';

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

/**
 * Sends POST /voices/preview (multipart: text, similarity, model_id, optional speed, file) and
 * returns the answer as read by its bytes: Faseeh answers headerless PCM16 LE, 24 kHz, mono (or a
 * WAV); a real container (an MP3...) is kept with its own type. `answerAsFile` makes it a file.
 */
export async function requestVoicePreview(
	this: IExecuteFunctions,
	itemIndex: number,
	request: PreviewRequest,
): Promise<AudioAnswer> {
	const buildForm = async () =>
		await multipartBody(async (form) => {
			form.append('text', request.text);
			form.append('similarity', plainDecimal(request.similarity));
			form.append('model_id', request.model);
			if (request.speed !== undefined) form.append('speed', plainDecimal(request.speed));
			await appendAudioPart.call(this, form, 'file', request.recording, itemIndex);
		});

	const { answer } = await faseehAudio.call(this, {
		method: 'POST',
		path: API_PATHS.voicePreview,
		body: buildForm,
		retryServerErrors: request.retryServerErrors,
		timeoutSeconds: request.timeoutSeconds,
		itemIndex,
	});
	return answer;
}
