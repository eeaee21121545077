/**
 * examples/form-upload-one-step-clone.json driven as a person would: open the form of a running
 * `n8n start`, upload a recording with a name and a sentence, and check what Faseeh received.
 */
import { part, requestsTo, sha256 } from '../helpers/faseeh';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';

/** The form trigger's path in examples/form-upload-one-step-clone.json. */
export const FORM_PATH = '/form/4f1d4a0e-6a77-4c1a-9a57-6b1f4f9c2a01';
const NAME = 'صوت المدونة';
const SENTENCE = 'مرحبا بكم في المدونة الصوتية الجديدة';

export async function submitFormAndCheckClone(serverUrl: string, sandbox: FaseehSandbox, recording: Buffer): Promise<void> {
	// Active workflows are activated just after n8n reports ready: wait for the form.
	const formUrl = `${serverUrl}${FORM_PATH}`;
	const activeBy = Date.now() + 60_000;
	while ((await fetch(formUrl)).status !== 200 && Date.now() < activeBy) {
		await new Promise((resolve) => setTimeout(resolve, 500));
	}
	const form = new FormData();
	form.append('field-0', new Blob([recording], { type: 'audio/wav' }), 'my voice.wav');
	form.append('field-1', NAME);
	form.append('field-2', SENTENCE);
	const response = await fetch(formUrl, { method: 'POST', body: form });
	expect(response.status).toBe(200);
	const deadline = Date.now() + 60_000;
	while (requestsTo(sandbox, 'POST', '/voices/clone').length === 0 && Date.now() < deadline) {
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
	const [preview] = requestsTo(sandbox, 'POST', '/voices/preview');
	const [clone] = requestsTo(sandbox, 'POST', '/voices/clone');
	expect(clone?.status).toBe(200);
	expect(part(preview, 'file').sha256).toBe(sha256(recording));
	expect(preview.fields).toEqual({ text: SENTENCE, similarity: '0.75', model_id: 'faseeh-v1-preview' });
	expect(part(clone, 'reference_audio_file')).toMatchObject({ filename: 'my voice.wav', sha256: sha256(recording) });
	expect(sandbox.knownPreview(part(clone, 'voice_file').sha256)?.text).toBe(SENTENCE);
	expect(clone.fields).toMatchObject({ name: NAME, text: SENTENCE, languages: 'ar' });
	expect(sandbox.voices().map((voice) => voice.name)).toContain(NAME);
}
