/**
 * End-to-end: the packed package installed into a real n8n 2.41.1 (Node 24) the way n8n installs
 * community packages, running the example workflows against the strict Faseeh sandbox.
 */
import { bestCorrelation, decodeWithLibrary, parseMp3Frames, parseOggPages } from '../helpers/audio';
import { synthesize } from '../sandbox/catalog';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

import {
	createUserFolder,
	executeWorkflow,
	importCredentials,
	importWorkflow,
	installPackage,
	executionProblem,
	outputItem,
	removeUserFolder,
	runN8n,
	setupOwner,
	startN8nServer,
} from '../../scripts/lib/n8n';
import type { ExecuteResult } from '../../scripts/lib/n8n';
import { ensureRuntime } from '../../scripts/lib/runtime';
import type { Runtime } from '../../scripts/lib/runtime';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { submitFormAndCheckClone } from './formUpload';
import { TEST_API_KEY, part, requestsTo, sha256, startSandbox, wavRecording } from '../helpers/faseeh';
import { encodeNote, ffprobe, pcmToFloat, speechPcm } from '../helpers/voiceNotes';
import { parseWav } from '../../nodes/shared/audio';

const REPO = path.resolve(__dirname, '..', '..');
const EXAMPLES = path.join(REPO, 'examples');
const RECORDING = wavRecording(1.5, 180);
const CREDENTIAL_ID = 'faseehCredential1';

let runtime: Runtime;
let sandbox: FaseehSandbox;
const folders: string[] = [];
/** Everything n8n printed in this suite, searched for the API key at the end. */
const n8nOutput: string[] = [];

function loadExample(file: string, filesDir: string): Record<string, unknown> {
	const text = fs.readFileSync(path.join(EXAMPLES, file), 'utf8').split('/home/node/.n8n-files/').join(`${filesDir}/`);
	return JSON.parse(text) as Record<string, unknown>;
}

/** A user folder with the package installed, the credential and one example imported. */
async function prepareN8n(example: string): Promise<{ userFolder: string; filesDir: string; workflowId: string }> {
	const userFolder = await createUserFolder();
	folders.push(userFolder);
	await installPackage(userFolder, REPO);
	const filesDir = path.join(userFolder, 'files');
	fs.writeFileSync(path.join(filesDir, 'recording.wav'), RECORDING);
	const imported = await importCredentials(runtime, userFolder, [
		{ id: CREDENTIAL_ID, name: 'Faseeh API', type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
	]);
	const workflow = loadExample(example, filesDir);
	const importedWorkflow = await importWorkflow(runtime, userFolder, workflow);
	n8nOutput.push(imported.stdout, imported.stderr, importedWorkflow.stdout, importedWorkflow.stderr);
	return { userFolder, filesDir, workflowId: String(workflow.id) };
}

async function execute(userFolder: string, workflowId: string, binaryMode: string): Promise<ExecuteResult> {
	const result = await executeWorkflow(runtime, userFolder, workflowId, { N8N_DEFAULT_BINARY_DATA_MODE: binaryMode });
	n8nOutput.push(result.stdout, result.stderr);
	return result;
}

function wavHeader(wav: Buffer) {
	return { riff: wav.toString('latin1', 0, 4), wave: wav.toString('latin1', 8, 12), sampleRate: wav.readUInt32LE(24), channels: wav.readUInt16LE(22) };
}

beforeAll(async () => {
	runtime = await ensureRuntime();
	sandbox = await startSandbox();
}, 30 * 60_000);

afterEach(() => sandbox.reset());

afterAll(async () => {
	await sandbox?.stop();
	for (const folder of folders) await removeUserFolder(folder);
});

describe.each(['filesystem', 'database', 'default'])('examples/clone-and-speak.json in binary mode %s', (binaryMode) => {
	it('reads the recording, previews, clones, speaks and writes the WAV', async () => {
		const { userFolder, filesDir, workflowId } = await prepareN8n('clone-and-speak.json');
		const result = await execute(userFolder, workflowId, binaryMode);
		expect(executionProblem(result)).toBeUndefined();

		// What the sandbox received.
		const [preview] = requestsTo(sandbox, 'POST', '/voices/preview');
		expect(preview.status).toBe(200);
		expect(part(preview, 'file')).toMatchObject({ filename: 'recording.wav', contentType: 'audio/wav', sha256: sha256(RECORDING) });
		const [clone] = requestsTo(sandbox, 'POST', '/voices/clone');
		expect(clone.status).toBe(200);
		expect(clone.chunked).toBe(false);
		expect(clone.contentLength).toBe(clone.bodySize);
		const voiceFile = part(clone, 'voice_file');
		expect(voiceFile.contentType).toBe('audio/wav');
		expect(sandbox.knownPreview(voiceFile.sha256)).toEqual({ text: preview.fields?.text, modelId: 'faseeh-v1-preview' });
		expect(voiceFile.data.subarray(0, 4).toString('latin1')).toBe('RIFF');
		expect(part(clone, 'reference_audio_file').sha256).toBe(sha256(RECORDING));
		expect(clone.fields).toEqual({
			text: preview.fields?.text,
			stability: '0.5',
			name: 'My Narrator',
			model: 'faseeh-v1-preview',
			languages: 'ar',
			dialects: 'najdi',
			gender: 'female',
		});

		// What n8n output.
		const voice = outputItem(result, 'Faseeh Voice Clone');
		expect(voice.json.voice_id).toMatch(/^cl-/);
		expect(voice.json.name).toBe('My Narrator');
		const [speechRequest] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
		expect((speechRequest.json as { voice_id: string }).voice_id).toBe(voice.json.voice_id);
		const speech = outputItem(result, 'Speak With New Voice');
		expect(speech.json).toMatchObject({ voice_id: voice.json.voice_id, mimeType: 'audio/wav', fileName: 'first-words.wav' });
		const written = fs.readFileSync(path.join(filesDir, 'first-words.wav'));
		expect(wavHeader(written)).toEqual({ riff: 'RIFF', wave: 'WAVE', sampleRate: 24000, channels: 1 });
		expect(written.length).toBe(speech.json.fileSize);
		const previewItem = outputItem(result, 'Preview Voice');
		expect(previewItem.binary?.voice_file).toMatchObject({ mimeType: 'audio/wav' });
		if (binaryMode === 'default') expect(previewItem.binary?.voice_file.id).toBeUndefined();
		else expect(String(previewItem.binary?.voice_file.id)).toMatch(new RegExp(`^${binaryMode}`));
	});
});

it('fails with Faseeh’s own message when the wallet is empty (402)', async () => {
	const { userFolder, workflowId } = await prepareN8n('clone-and-speak.json');
	sandbox.inject({
		route: 'POST /voices/clone',
		kind: 'status',
		status: 402,
		body: { errorCode: 40201, errorMessage: 'Insufficient wallet balance. Required: $0.05, Available: $0.02' },
	});
	const result = await execute(userFolder, workflowId, 'filesystem');
	expect(result.exitCode).not.toBe(0);
	expect(result.errorMessage).toBe('Insufficient wallet balance. Required: $0.05, Available: $0.02');
	const runs = result.runData?.['Faseeh Voice Clone'] as Array<{ error?: { description?: string; httpCode?: string } }>;
	expect(runs[0].error?.httpCode).toBe('402');
	expect(runs[0].error?.description).toContain('Faseeh error code 40201');
	expect(requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview')).toHaveLength(0);
});

it('examples/form-upload-one-step-clone.json: a form upload becomes a voice', async () => {
	const { userFolder, workflowId } = await prepareN8n('form-upload-one-step-clone.json');
	const published = await runN8n(runtime, userFolder, ['publish:workflow', `--id=${workflowId}`]);
	n8nOutput.push(published.stdout, published.stderr);
	expect(published.exitCode).toBe(0);
	const server = await startN8nServer(runtime, userFolder, { env: { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' } });
	try {
		await submitFormAndCheckClone(server.url, sandbox, RECORDING);
	} finally {
		await server.stop();
		n8nOutput.push(fs.existsSync(server.logFile) ? fs.readFileSync(server.logFile, 'utf8') : '');
	}
});

it('examples/telegram-voice-reply.json under `n8n start`: a text becomes an OGG/Opus voice note (and, switched to MP3, an MP3)', async () => {
	const TEXT = 'مرحبا بك في فصيح، هذه رسالتك الصوتية لهذا اليوم. نتمنى لك يوما سعيدا.';
	const pcm = synthesize(`tts\nfaseeh-v1-preview\nar-najdi-male-2\n${TEXT}`, TEXT, 24000);
	const reference = Float32Array.from({ length: pcm.length / 2 }, (_u, i) => pcm.readInt16LE(i * 2) / 32768);
	const seconds = reference.length / 24000;
	for (const format of ['oggOpus', 'mp3'] as const) {
		const userFolder = await createUserFolder();
		folders.push(userFolder);
		await installPackage(userFolder, REPO);
		const imported = await importCredentials(runtime, userFolder, [
			{ id: CREDENTIAL_ID, name: 'Faseeh API', type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
		]);
		const workflow = loadExample('telegram-voice-reply.json', path.join(userFolder, 'files')) as { id: string; nodes: Array<{ type: string; parameters: Record<string, unknown> }> };
		const speak = workflow.nodes.find((node) => node.type === 'n8n-nodes-faseeh.faseeh') as { parameters: Record<string, unknown> };
		if (format === 'mp3') speak.parameters = { ...speak.parameters, outputFormat: 'mp3', mp3BitRate: 64, options: { fileName: 'reply.mp3' } };
		const importedWorkflow = await importWorkflow(runtime, userFolder, workflow);
		const published = await runN8n(runtime, userFolder, ['publish:workflow', `--id=${workflow.id}`]);
		n8nOutput.push(imported.stdout, imported.stderr, importedWorkflow.stdout, importedWorkflow.stderr, published.stdout, published.stderr);
		expect(published.exitCode).toBe(0);
		const server = await startN8nServer(runtime, userFolder, { env: { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' } });
		let response: Response | undefined;
		let audio = Buffer.alloc(0);
		try {
			const deadline = Date.now() + 60_000;
			for (;;) {
				response = await fetch(`${server.url}/webhook/faseeh-voice-note`, {
					method: 'POST',
					headers: { 'content-type': 'application/json' },
					body: JSON.stringify({ text: TEXT }),
				});
				if (response.status !== 404 || Date.now() > deadline) break;
				await new Promise((resolve) => setTimeout(resolve, 500));
			}
			audio = Buffer.from(await response.arrayBuffer());
		} finally {
			await server.stop();
			n8nOutput.push(fs.existsSync(server.logFile) ? fs.readFileSync(server.logFile, 'utf8') : '');
		}
		expect(response?.status).toBe(200);
		expect(response?.headers.get('content-type')).toMatch(format === 'mp3' ? /^audio\/mpeg/ : /^audio\/ogg/);
		const decoded = decodeWithLibrary(format === 'mp3' ? 'mp3' : 'ogg', audio);
		expect(decoded.errors).toEqual([]);
		if (format === 'oggOpus') {
			expect(parseOggPages(audio)[0].packets[0][9]).toBe(1); // mono
			expect(Math.abs(decoded.samplesDecoded / decoded.sampleRate - seconds) / seconds).toBeLessThan(0.01);
		} else {
			expect(new Set(parseMp3Frames(audio).map((frame) => `${frame.sampleRate} ${frame.channelMode} ${frame.bitrateKbps}`))).toEqual(new Set(['24000 mono 64']));
			// The Info tag tells mpg123 LAME's delay and padding: it plays exactly the speech's samples.
			expect(decoded.samplesDecoded).toBe(reference.length);
		}
		const step = decoded.sampleRate / 24000;
		const down = Float32Array.from({ length: Math.floor(decoded.samples.length / step) }, (_u, i) => decoded.samples[Math.round(i * step)]);
		expect(bestCorrelation(reference, down, 3000).r).toBeGreaterThan(0.8);
	}
});

it('examples/telegram-clone-my-voice.json under `n8n start`: an OGG/Opus voice note in, a voice note in the new voice out', async () => {
	const TEXT = 'أهلا بك، هذا صوتك الجديد يقرأ رسالة قصيرة من فصيح.';
	const source = speechPcm(8, 24000, 11);
	const note = encodeNote(source, 'ogg', '32k');
	const userFolder = await createUserFolder();
	folders.push(userFolder);
	await installPackage(userFolder, REPO);
	const imported = await importCredentials(runtime, userFolder, [
		{ id: CREDENTIAL_ID, name: 'Faseeh API', type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
	]);
	const workflow = loadExample('telegram-clone-my-voice.json', path.join(userFolder, 'files')) as { id: string };
	const importedWorkflow = await importWorkflow(runtime, userFolder, workflow);
	const published = await runN8n(runtime, userFolder, ['publish:workflow', `--id=${workflow.id}`]);
	n8nOutput.push(imported.stdout, imported.stderr, importedWorkflow.stdout, importedWorkflow.stderr, published.stdout, published.stderr);
	expect(published.exitCode).toBe(0);
	const server = await startN8nServer(runtime, userFolder, { env: { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' } });
	let response: Response | undefined;
	let audio = Buffer.alloc(0);
	try {
		const deadline = Date.now() + 60_000;
		for (;;) {
			const form = new FormData();
			form.append('voice', new Blob([new Uint8Array(note)], { type: 'audio/ogg' }), 'note.ogg');
			form.append('name', 'صوت سارة');
			form.append('text', TEXT);
			response = await fetch(`${server.url}/webhook/faseeh-clone-my-voice`, { method: 'POST', body: form });
			if (response.status !== 404 || Date.now() > deadline) break;
			await new Promise((resolve) => setTimeout(resolve, 500));
		}
		audio = Buffer.from(await response.arrayBuffer());
	} finally {
		await server.stop();
		n8nOutput.push(fs.existsSync(server.logFile) ? fs.readFileSync(server.logFile, 'utf8') : '');
	}
	expect({ status: response?.status, body: response?.status === 200 ? '' : audio.toString('utf8').slice(0, 500) }).toEqual({ status: 200, body: '' });
	expect(response?.headers.get('content-type')).toMatch(/^audio\/ogg/);

	// The note reached Faseeh as a 24 kHz mono WAV of the same speech, once for the preview and once for the clone.
	const previewFile = part(requestsTo(sandbox, 'POST', '/voices/preview')[0], 'file');
	expect(previewFile).toMatchObject({ filename: 'note.wav', contentType: 'audio/wav' });
	const wav = parseWav(previewFile.data);
	expect(wav).toMatchObject({ sampleRate: 24000, channels: 1, bitsPerSample: 16 });
	const received = pcmToFloat(previewFile.data.subarray(wav!.dataOffset));
	expect(bestCorrelation(received, pcmToFloat(source), 500, 0, received.length - 500).r).toBeGreaterThan(0.9);
	const [clone] = requestsTo(sandbox, 'POST', '/voices/clone');
	expect(part(clone, 'reference_audio_file').sha256).toBe(previewFile.sha256);
	expect(clone.fields).toMatchObject({ name: 'صوت سارة' });

	// The answer is spoken in the new voice and comes back as a mono OGG/Opus voice note.
	const voice = sandbox.voices().find((candidate) => candidate.type === 'cloned' && candidate.name === 'صوت سارة');
	expect(voice).toBeDefined();
	const [speech] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
	expect(speech.json).toMatchObject({ voice_id: voice?.voice_id, text: TEXT });
	expect(ffprobe(audio)).toMatchObject({ codec: 'opus', channels: 1, formatName: 'ogg' });
	const decoded = decodeWithLibrary('ogg', audio);
	expect(decoded.errors).toEqual([]);
	const pcm = synthesize(`tts\nfaseeh-v1-preview\n${voice?.voice_id}\n${TEXT}`, TEXT, 24000);
	const reference = pcmToFloat(pcm);
	expect(Math.abs(decoded.samplesDecoded / decoded.sampleRate - reference.length / 24000) / (reference.length / 24000)).toBeLessThan(0.01);
	const step = decoded.sampleRate / 24000;
	const down = Float32Array.from({ length: Math.floor(decoded.samples.length / step) }, (_u, i) => decoded.samples[Math.round(i * step)]);
	expect(bestCorrelation(reference, down, 3000).r).toBeGreaterThan(0.8);
});

it('saving a credential tests it over https or loopback only: the key never goes over plain http to another host', async () => {
	// A listener on every address: "[::ffff:127.0.0.1]" reaches it, yet is not a loopback name the
	// credential accepts, so a key sent there would arrive here (and nowhere off this machine).
	let received = 0;
	const trap = http.createServer((req, res) => {
		received++;
		res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
	});
	await new Promise<void>((resolve) => trap.listen(0, '::', resolve));
	const trapPort = (trap.address() as AddressInfo).port;
	const userFolder = await createUserFolder();
	folders.push(userFolder);
	await installPackage(userFolder, REPO);
	const server = await startN8nServer(runtime, userFolder);
	try {
		const owner = await setupOwner(server.url, { email: 'credential-test@example.com', password: 'Credential-test-1' });
		const headers = { 'content-type': 'application/json', cookie: owner.cookie ?? '', 'browser-id': owner.browserId };
		const test = async (data: Record<string, string>) => {
			const response = await fetch(`${server.url}/rest/credentials/test`, {
				method: 'POST',
				headers,
				body: JSON.stringify({ credentials: { id: '', name: 'Faseeh API', type: 'faseehApi', data: { apiKey: TEST_API_KEY, ...data } } }),
			});
			if (response.status !== 200) throw new Error(`credentials/test: HTTP ${response.status} ${await response.text()}`);
			return ((await response.json()) as { data: { status: string; message: string } }).data;
		};
		const insecure = await test({ baseUrl: 'custom', customBaseUrl: `http://[::ffff:127.0.0.1]:${trapPort}/api/v1` });
		expect(insecure.status).toBe('Error');
		expect(insecure.message).toMatch(/must use https/);
		expect(insecure.message).not.toContain(TEST_API_KEY);
		expect(received).toBe(0);
		// A custom Base URL that redirects: the test stops at the 3xx and says why; the host the
		// Location names (a second loopback name, which the key could otherwise reach) gets nothing.
		const redirectTarget = `http://localhost:${trapPort}/api/v1/models`;
		const redirector = http.createServer((req, res) => {
			res.writeHead(302, { location: redirectTarget }).end();
		});
		await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
		try {
			const redirectPort = (redirector.address() as AddressInfo).port;
			const redirected = await test({ baseUrl: 'custom', customBaseUrl: `http://127.0.0.1:${redirectPort}/api/v1` });
			expect(redirected.status).toBe('Error');
			expect(redirected.message).toMatch(/redirect \(HTTP 302\).*does not follow it/);
			expect(redirected.message).not.toContain(TEST_API_KEY);
			expect(received).toBe(0);
		} finally {
			await new Promise((resolve) => redirector.close(resolve));
		}
		// The same test passes against the sandbox: as a custom URL, and as a URL saved with the old text field.
		expect(await test({ baseUrl: 'custom', customBaseUrl: sandbox.baseUrl })).toMatchObject({ status: 'OK' });
		expect(await test({ baseUrl: sandbox.baseUrl })).toMatchObject({ status: 'OK' });
		expect(requestsTo(sandbox, 'GET', '/models').map((request) => request.headers['x-api-key'])).toEqual([TEST_API_KEY, TEST_API_KEY]);
	} finally {
		await server.stop();
		await new Promise((resolve) => trap.close(resolve));
		n8nOutput.push(fs.existsSync(server.logFile) ? fs.readFileSync(server.logFile, 'utf8') : '');
	}
});

it('the API key appears nowhere in what n8n printed or logged', () => {
	expect(n8nOutput.length).toBeGreaterThan(10);
	const everything = n8nOutput.join('\n');
	expect(everything).toContain('Faseeh');
	expect(everything).not.toContain(TEST_API_KEY);
});
