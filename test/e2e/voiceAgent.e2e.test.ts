/**
 * End-to-end: examples/arabic-voice-agent.json as shipped, published in a real `n8n start` (2.41.x
 * and 1.123.x). A WhatsApp-style OGG/Opus voice note (the sandbox's speech of a question, encoded by
 * ffmpeg) is POSTed to its webhook; Faseeh → Audio → Transcribe sends it to the sandbox's Munsit STT
 * as it is, the AI Agent's OpenAI Chat Model (a local OpenAI-compatible stand-in,
 * test/helpers/fakeOpenAi.ts) answers the transcript, Faseeh → Speech → Generate speaks the answer
 * as a WhatsApp Voice Note and Respond to Webhook returns it.
 *
 * Checked: the note reached STT byte for byte, the model received exactly the transcript, the spoken
 * text is exactly the model's answer, the returned audio is a mono OGG/Opus note of at most 512 KB
 * that decodes to the sandbox's speech of the answer.
 */
import { bestCorrelation, decodeWithLibrary, parseOggPages } from '../helpers/audio';
import { synthesize } from '../sandbox/catalog';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
	activateWorkflow,
	createUserFolder,
	importCredentials,
	importWorkflow,
	installPackage,
	removeUserFolder,
	startN8nServer,
} from '../../scripts/lib/n8n';
import { ensureRuntime } from '../../scripts/lib/runtime';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { FakeOpenAi } from '../helpers/fakeOpenAi';
import { TEST_API_KEY, part, requestsTo, sha256, startSandbox } from '../helpers/faseeh';
import { encodeNote } from '../helpers/voiceNotes';
import { WHATSAPP_VOICE_LIMIT_BYTES } from '../../nodes/shared/speech/voiceNote';

const REPO = path.resolve(__dirname, '..', '..');
const OPENAI_TEST_KEY = `sk-test-${createHash('sha256').update('faseeh voice agent e2e').digest('hex').slice(0, 32)}`;
const QUESTION = 'مرحبا، أريد أن أحجز موعدا في العيادة صباح الغد';
const answerTo = (transcript: string) => `أهلا بك، تم حجز موعدك غدا في العاشرة صباحا. سألت: ${transcript.slice(0, 12).trim()}`;
const WEBHOOK_PATH = 'faseeh-voice-agent';

let sandbox: FaseehSandbox;
let openAi: FakeOpenAi;
const userMessages: string[] = [];
const folders: string[] = [];

beforeAll(async () => {
	sandbox = await startSandbox();
	openAi = new FakeOpenAi({
		apiKey: OPENAI_TEST_KEY,
		reply: (userMessage) => {
			userMessages.push(userMessage);
			return answerTo(userMessage);
		},
	});
	await openAi.start();
});

afterAll(async () => {
	await openAi?.stop();
	await sandbox?.stop();
	for (const folder of folders) await removeUserFolder(folder);
});

/** The sandbox's own speech of `text`, as Speech → Generate would get it. */
async function sandboxSpeech(text: string): Promise<Buffer> {
	const response = await fetch(`${sandbox.baseUrl}/text-to-speech/faseeh-v1-preview`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', 'x-api-key': TEST_API_KEY },
		body: JSON.stringify({ voice_id: 'ar-najdi-male-2', text, stability: 0.5, streaming: false }),
	});
	expect(response.status).toBe(200);
	return Buffer.from(await response.arrayBuffer());
}

describe.each(['2.41.x', '1.123.x'])('examples/arabic-voice-agent.json in n8n %s', (version) => {
	it('a voice note in, the spoken answer out: transcript → model → speech, checked at every hop', async () => {
		const runtime = await ensureRuntime({ version });
		sandbox.reset();
		userMessages.length = 0;
		const userFolder = await createUserFolder('faseeh-voice-agent-');
		folders.push(userFolder);
		await installPackage(userFolder, REPO);
		const output: string[] = [];
		const credentials = await importCredentials(runtime, userFolder, [
			{ id: 'faseehCredential1', name: 'Faseeh API', type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
			{ id: 'openAiCredential1', name: 'Fake OpenAI', type: 'openAiApi', data: { apiKey: OPENAI_TEST_KEY, url: openAi.baseUrl } },
		]);
		const workflow = JSON.parse(fs.readFileSync(path.join(REPO, 'examples', 'arabic-voice-agent.json'), 'utf8')) as {
			id: string;
			nodes: Array<{ type: string; credentials?: Record<string, unknown> }>;
		};
		// The example leaves the OpenAI credential to the user: the test gives it the stand-in's.
		for (const node of workflow.nodes) {
			if (node.type === '@n8n/n8n-nodes-langchain.lmChatOpenAi') node.credentials = { openAiApi: { id: 'openAiCredential1', name: 'Fake OpenAI' } };
		}
		const imported = await importWorkflow(runtime, userFolder, workflow);
		const activated = await activateWorkflow(runtime, userFolder, workflow.id);
		output.push(credentials.stdout, credentials.stderr, imported.stdout, imported.stderr, activated.stdout, activated.stderr);
		expect(activated.exitCode).toBe(0);

		// The question as a WhatsApp-style voice note: OGG/Opus made by ffmpeg from the sandbox's speech.
		const voiceNote = encodeNote((await sandboxSpeech(QUESTION)).subarray(44), 'ogg', '24k');
		const server = await startN8nServer(runtime, userFolder, { env: { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' } });
		let response: Response | undefined;
		let audio = Buffer.alloc(0);
		try {
			const url = `${server.url}/webhook/${WEBHOOK_PATH}`;
			// Active workflows are registered just after n8n reports ready.
			const deadline = Date.now() + 60_000;
			for (;;) {
				const form = new FormData();
				form.append('voice', new Blob([new Uint8Array(voiceNote)], { type: 'audio/ogg' }), 'question.ogg');
				response = await fetch(url, { method: 'POST', body: form });
				if (response.status !== 404 || Date.now() > deadline) break;
				await new Promise((resolve) => setTimeout(resolve, 500));
			}
			audio = Buffer.from(await response.arrayBuffer());
		} finally {
			await server.stop();
			output.push(fs.existsSync(server.logFile) ? fs.readFileSync(server.logFile, 'utf8') : '');
		}
		expect({ status: response?.status, body: response?.status === 200 ? '' : audio.toString('utf8').slice(0, 500) }).toEqual({ status: 200, body: '' });
		expect(response?.headers.get('content-type')).toMatch(/^audio\/ogg/);

		// Hop 1: the voice note reached Munsit STT as sent (Munsit takes .ogg: Auto sends it as it is).
		const [stt] = requestsTo(sandbox, 'POST', '/audio/transcribe');
		expect(stt.status).toBe(200);
		expect(part(stt, 'file')).toMatchObject({ filename: 'question.ogg', contentType: 'audio/ogg', sha256: sha256(voiceNote) });
		expect(stt.fields).toMatchObject({ model: 'munsit', return_timestamps: 'true' });
		const transcript = sandbox.transcripts().get(sha256(voiceNote)) as string;
		expect(typeof transcript).toBe('string');

		// Hop 2: the model received exactly that transcript as the user's message.
		expect(openAi.completions.length).toBeGreaterThanOrEqual(1);
		expect(userMessages).toEqual([transcript]);
		expect(openAi.requests.every((request) => request.authorization === `Bearer ${OPENAI_TEST_KEY}`)).toBe(true);

		// Hop 3: the spoken text is exactly the model's answer.
		// (The first request is the test's own, which made the voice note.)
		const speech = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview').filter((request) => request.headers['user-agent'] === 'n8n');
		expect(speech).toHaveLength(1);
		expect(speech[0].json).toEqual({ voice_id: 'ar-hijazi-female-1', text: answerTo(transcript), stability: 0.5, streaming: false });

		// Hop 4: the webhook answered with that speech as a WhatsApp voice note (mono OGG/Opus, at most
		// 512 KB) that libopus decodes to the sandbox's speech of the answer (same length within 1 %, same sound).
		expect(audio.length).toBeLessThanOrEqual(WHATSAPP_VOICE_LIMIT_BYTES);
		const pages = parseOggPages(audio);
		expect(pages[0].packets[0].subarray(0, 8).toString('latin1')).toBe('OpusHead');
		expect(pages[0].packets[0][9]).toBe(1);
		expect(pages.every((page) => page.crc === page.crcComputed)).toBe(true);
		const decoded = decodeWithLibrary('ogg', audio);
		expect(decoded.errors).toEqual([]);
		const answer = answerTo(transcript);
		const pcm = synthesize(`tts\nfaseeh-v1-preview\nar-hijazi-female-1\n${answer}`, answer, 24000);
		const reference = Float32Array.from({ length: pcm.length / 2 }, (_u, i) => pcm.readInt16LE(i * 2) / 32768);
		expect(Math.abs(decoded.samplesDecoded / decoded.sampleRate - reference.length / 24000) / (reference.length / 24000)).toBeLessThan(0.01);
		const step = decoded.sampleRate / 24000;
		const down = Float32Array.from({ length: Math.floor(decoded.samples.length / step) }, (_u, i) => decoded.samples[Math.round(i * step)]);
		expect(bestCorrelation(reference, down, 3000).r).toBeGreaterThan(0.8);

		const everything = output.join('\n');
		expect(everything).not.toContain(TEST_API_KEY);
		expect(everything).not.toContain(OPENAI_TEST_KEY);
	}, 30 * 60_000);
});
