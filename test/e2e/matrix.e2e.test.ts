/**
 * End-to-end compatibility matrix: the packed package installed into each supported n8n (2.41.1 on
 * Node 24, the newest 1.123.x and the oldest claimed 1.85.x on Node 22; scripts/lib/runtime.ts),
 * the way n8n installs community packages, against the strict Faseeh sandbox:
 * - examples/clone-and-speak.json in each binary mode the version is run in (1.x: its default
 *   in-memory mode and filesystem; 2.41.1's run is in examples.e2e.test.ts);
 * - failures that must read the same on every version: an API error (402), a timeout, an answer cut
 *   off mid-body and a connection dropped mid-upload;
 * - Speech → Generate in every Output Format (issue 15): examples/article-to-podcast.json's long
 *   article as MP3, a longer text as one WAV equal to the sandbox's pieces in order, a voice note as
 *   OGG/Opus and raw PCM, each written to disk by n8n and decoded by another library;
 * - the API key in nothing n8n printed and in no file it left in its user folder.
 * One provisioned runtime and one user folder per version; the 1.x runtimes provision in parallel.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
	activateWorkflow,
	createUserFolder,
	executeWorkflow,
	importCredentials,
	importWorkflow,
	installPackage,
	executionProblem,
	outputItem,
	removeUserFolder,
	runN8n,
	startN8nServer,
} from '../../scripts/lib/n8n';
import type { ExecuteResult } from '../../scripts/lib/n8n';
import { ensureRuntime } from '../../scripts/lib/runtime';
import type { Runtime } from '../../scripts/lib/runtime';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { splitForSpeech } from '../../nodes/shared/speech/split';
import { bestCorrelation, decodeWithLibrary, parseMp3Frames, parseOggPages } from '../helpers/audio';
import { startCutOffServer } from '../helpers/cutOffServer';
import type { CutOffServer } from '../helpers/cutOffServer';
import { submitFormAndCheckClone } from './formUpload';
import { TEST_API_KEY, part, requestsTo, sha256, startSandbox, wavRecording } from '../helpers/faseeh';
import { longArabicText } from '../helpers/longText';
import { synthesize } from '../sandbox/catalog';

const REPO = path.resolve(__dirname, '..', '..');
const RECORDING = wavRecording(1.5, 180);
const CREDENTIAL_ID = 'faseehCredential1';
const CUT_OFF_CREDENTIAL_ID = 'faseehCutOffCred';
const FORM_WORKFLOW_ID = 'faseehFormClone';

interface MatrixEntry {
	/** An n8n line of scripts/lib/runtime.ts. */
	version: string;
	/** Binary modes clone-and-speak runs in here ('default' = in memory). */
	exampleModes: string[];
	/** The mode the failure cases run in (a dropped upload runs in every example mode too). */
	errorMode: string;
	/** Run examples/form-upload-one-step-clone.json under `n8n start` (2.41.1: in examples.e2e.test.ts). */
	form: boolean;
	/** Binary modes the speech formats workflow runs in. */
	speechModes: string[];
}

const MATRIX: MatrixEntry[] = [
	{ version: '2.41.x', exampleModes: [], errorMode: 'filesystem', form: false, speechModes: ['filesystem', 'database'] },
	{ version: '1.123.x', exampleModes: ['default', 'filesystem'], errorMode: 'default', form: true, speechModes: ['default', 'filesystem'] },
	{ version: '1.85.x', exampleModes: ['default', 'filesystem'], errorMode: 'default', form: true, speechModes: ['default', 'filesystem'] },
];

/** The messages a user reads, whatever the n8n version. */
const EXPECTED = {
	wallet: 'Insufficient wallet balance. Required: $0.05, Available: $0.02',
	timeout: 'Faseeh did not answer within 3 seconds (timeout)',
	cutOff: 'Faseeh’s answer was cut off: the connection closed before the whole answer arrived',
	dropped: 'The connection to Faseeh was closed before an answer arrived',
};

let sandbox: FaseehSandbox;
let cutOff: CutOffServer;
/** Provisioning of every runtime, started together in beforeAll. */
let runtimes: Map<string, Promise<Runtime>>;

/** clone-and-speak with its paths in `filesDir`, a new id, and `change` applied to its clone node. */
function cloneAndSpeak(filesDir: string, id: string, change: (clone: Record<string, unknown>) => void = () => undefined) {
	const text = fs
		.readFileSync(path.join(REPO, 'examples', 'clone-and-speak.json'), 'utf8')
		.split('/home/node/.n8n-files/')
		.join(`${filesDir}/`);
	const workflow = JSON.parse(text) as { id: string; name: string; nodes: Array<Record<string, unknown>> };
	workflow.id = id;
	workflow.name = `${workflow.name} (${id})`;
	change(workflow.nodes.find((node) => node.name === 'Faseeh Voice Clone')!);
	return workflow;
}

function withCloneTimeout(seconds: number) {
	return (clone: Record<string, unknown>) => {
		(clone.parameters as { options: Record<string, unknown> }).options = { timeout: seconds };
	};
}

const SPEECH_WORKFLOW_ID = 'matrixSpeechFormats';
const VOICE = 'ar-najdi-male-2';
/** Spoken as one WAV in pieces of at most 1000 characters (about 7 pieces). */
const LONG_TEXT = longArabicText(6000, 7);
const VOICE_NOTE_TEXT = 'أهلا بك، هذه رسالة صوتية قصيرة من فصيح لتجربة الصيغ.';
const LONG_PAUSE_MS = 300;

/** What the sandbox speaks for `text` split at `maxCharacters`, joined with `pauseMs` of silence. */
function spokenPcm(model: string, text: string, maxCharacters: number, pauseMs: number, rate = 24000): { pieces: string[]; pcm: Buffer } {
	const pieces = splitForSpeech(text, maxCharacters);
	const pause = Buffer.alloc(Math.round((pauseMs * rate) / 1000) * 2);
	const pcm = Buffer.concat(pieces.flatMap((piece, i) => [...(i > 0 ? [pause] : []), synthesize(`tts\n${model}\n${VOICE}\n${piece}`, piece, rate)]));
	return { pieces, pcm };
}

const toFloat = (pcm: Buffer) => Float32Array.from({ length: pcm.length / 2 }, (_u, i) => pcm.readInt16LE(i * 2) / 32768);

/**
 * examples/article-to-podcast.json's Article and Speak nodes as shipped (MP3), then Speech →
 * Generate as WAV (a 6,000-character text), OGG/Opus and raw PCM (16 kHz); each output is written
 * to `filesDir` by n8n's Read/Write Files node.
 */
function speechFormatsWorkflow(filesDir: string) {
	const example = JSON.parse(fs.readFileSync(path.join(REPO, 'examples', 'article-to-podcast.json'), 'utf8')) as {
		nodes: Array<{ name: string; type: string; parameters: Record<string, unknown> }>;
	};
	const article = example.nodes.find((node) => node.type === 'n8n-nodes-base.set')!;
	const podcast = example.nodes.find((node) => node.type === 'n8n-nodes-faseeh.faseeh')!;
	const speak = (name: string, parameters: Record<string, unknown>) => ({
		...podcast,
		name,
		parameters: { resource: 'speech', operation: 'generate', voiceId: { __rl: true, mode: 'id', value: VOICE }, stability: 0.5, binaryPropertyName: 'data', ...parameters },
	});
	const write = (name: string, file: string) => ({
		name,
		type: 'n8n-nodes-base.readWriteFile',
		typeVersion: 1.1,
		position: [0, 0],
		parameters: { operation: 'write', fileName: path.join(filesDir, file), dataPropertyName: 'data', options: {} },
	});
	const chain = [
		{ name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		article,
		podcast,
		write('Write Podcast', 'podcast.mp3'),
		speak('Speak Long WAV', { text: LONG_TEXT, model: 'faseeh-mini-v1-preview', options: { maxCharacters: 1000, pauseMs: LONG_PAUSE_MS, fileName: 'long.wav' } }),
		write('Write WAV', 'long.wav'),
		speak('Speak Voice Note', { text: VOICE_NOTE_TEXT, model: 'faseeh-mini-v1-preview', outputFormat: 'oggOpus', opusBitRate: 24, options: { fileName: 'note.ogg' } }),
		write('Write OGG', 'note.ogg'),
		// The note just written comes back in as a voice note: decoded to WAV (opus-decoder, an ES module loaded with import()) before the preview.
		{
			...podcast,
			name: 'Preview From Note',
			parameters: { resource: 'voice', operation: 'preview', binaryPropertyName: 'data', text: VOICE_NOTE_TEXT, similarity: 0.75, model: 'faseeh-v1-preview', options: {} },
		},
		speak('Speak Raw PCM', { text: VOICE_NOTE_TEXT, model: 'faseeh-v1-preview', outputFormat: 'pcm', options: { sampleRate: 16000, fileName: 'note.pcm' } }),
		write('Write PCM', 'note.pcm'),
	];
	const nodes = chain.map((node, i) => ({ ...node, id: `5f0c2f7e-0099-4000-8000-${String(i).padStart(12, '0')}`, position: [i * 220, 0] }));
	const connections = Object.fromEntries(
		nodes.slice(0, -1).map((node, i) => [node.name, { main: [[{ node: nodes[i + 1].name, type: 'main', index: 0 }]] }]),
	);
	for (const node of nodes.filter((candidate) => candidate.type === 'n8n-nodes-faseeh.faseeh')) {
		(node as Record<string, unknown>).credentials = { faseehApi: { id: CREDENTIAL_ID, name: 'Faseeh API' } };
	}
	const articleText = String(
		(article.parameters.assignments as { assignments: Array<{ name: string; value: string }> }).assignments.find((field) => field.name === 'article')?.value,
	);
	const podcastOptions = podcast.parameters.options as { maxCharacters: number; pauseMs: number };
	return {
		workflow: { id: SPEECH_WORKFLOW_ID, name: 'Speech formats (matrix)', nodes, connections, settings: {}, active: false },
		article: { text: articleText, ...podcastOptions, model: String(podcast.parameters.model) },
	};
}

/** Every file under `dir` whose bytes contain `needle` (SQLite, logs, binary data, config...). */
function filesContaining(dir: string, needle: string): string[] {
	const found: string[] = [];
	const bytes = Buffer.from(needle);
	for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
		if (!entry.isFile()) continue;
		const file = path.join(entry.parentPath, entry.name);
		if (fs.readFileSync(file).includes(bytes)) found.push(path.relative(dir, file));
	}
	return found;
}

beforeAll(async () => {
	// Start every provisioning now (each runtime has its own lock and cache folder), so a cold
	// machine installs the 1.x runtimes in parallel with the first version's tests.
	runtimes = new Map(MATRIX.map((entry) => [entry.version, ensureRuntime({ version: entry.version })]));
	for (const promise of runtimes.values()) promise.catch(() => undefined); // awaited per version below
	sandbox = await startSandbox();
	cutOff = await startCutOffServer();
});

afterEach(() => sandbox.reset());

afterAll(async () => {
	await sandbox?.stop();
	await cutOff?.stop();
	// Let an install still running finish (it holds a lock), so jest does not leave it half done.
	await Promise.allSettled(runtimes?.values() ?? []);
});

describe.each(MATRIX)('n8n $version', (entry) => {
	let runtime: Runtime;
	let userFolder: string;
	let filesDir: string;
	/** Everything this n8n printed, searched for the API key at the end. */
	const output: string[] = [];

	async function execute(workflowId: string, binaryMode: string): Promise<ExecuteResult> {
		const result = await executeWorkflow(runtime, userFolder, workflowId, { N8N_DEFAULT_BINARY_DATA_MODE: binaryMode });
		output.push(result.stdout, result.stderr);
		return result;
	}

	function cloneRun(result: ExecuteResult) {
		const runs = result.runData?.['Faseeh Voice Clone'] as Array<{ error?: { message?: string; description?: string; httpCode?: string } }> | undefined;
		return runs?.[0];
	}

	beforeAll(async () => {
		runtime = await runtimes.get(entry.version)!;
		userFolder = await createUserFolder('faseeh-matrix-');
		filesDir = path.join(userFolder, 'files');
		fs.writeFileSync(path.join(filesDir, 'recording.wav'), RECORDING);
		await installPackage(userFolder, REPO);
		const imported = await importCredentials(runtime, userFolder, [
			{ id: CREDENTIAL_ID, name: 'Faseeh API', type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
			{ id: CUT_OFF_CREDENTIAL_ID, name: 'Faseeh API (cut off)', type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: cutOff.url } },
		]);
		const workflows = await importWorkflow(runtime, userFolder, [
			cloneAndSpeak(filesDir, 'matrixCloneAndSpeak'),
			cloneAndSpeak(filesDir, 'matrixCloneTimeout3', withCloneTimeout(3)),
			cloneAndSpeak(filesDir, 'matrixCloneCutOff', (clone) => {
				clone.credentials = { faseehApi: { id: CUT_OFF_CREDENTIAL_ID, name: 'Faseeh API (cut off)' } };
			}),
			JSON.parse(fs.readFileSync(path.join(REPO, 'examples', 'form-upload-one-step-clone.json'), 'utf8')) as Record<string, unknown>,
			speechFormatsWorkflow(filesDir).workflow,
		]);
		output.push(imported.stdout, imported.stderr, workflows.stdout, workflows.stderr);
	}, 45 * 60_000);

	afterAll(async () => {
		if (userFolder) await removeUserFolder(userFolder);
	});

	it('runs the wanted n8n on the wanted Node', async () => {
		const version = await runN8n(runtime, userFolder, ['--version']);
		expect(version.stdout.trim().split(/\s+/)).toContain(runtime.n8nVersion);
		expect(runtime.n8nVersion.startsWith(entry.version.replace(/x$/, ''))).toBe(true);
		expect(execFileSync(runtime.nodeBin, ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${runtime.nodeVersion}`);
	});

	// 2.41.1 runs clone-and-speak in examples.e2e.test.ts (filesystem, database and default).
	(entry.exampleModes.length > 0 ? it.each(entry.exampleModes) : it.skip.each(['none']))(
		'examples/clone-and-speak.json in binary mode %s',
		async (binaryMode) => {
			const result = await execute('matrixCloneAndSpeak', binaryMode);
			expect(executionProblem(result)).toBeUndefined();

			const [preview] = requestsTo(sandbox, 'POST', '/voices/preview');
			expect(preview.status).toBe(200);
			// Sent with the MIME type the Read node declared: 'audio/wave' in n8n 1.85, 'audio/wav' later.
			const read = outputItem(result, 'Read Recording');
			const declared = String(read.binary?.data.mimeType);
			expect(declared).toMatch(/^audio\/wave?$/);
			expect(part(preview, 'file')).toMatchObject({ filename: 'recording.wav', contentType: declared, sha256: sha256(RECORDING) });
			const [clone] = requestsTo(sandbox, 'POST', '/voices/clone');
			expect(clone.status).toBe(200);
			expect(clone.chunked).toBe(false);
			expect(clone.contentLength).toBe(clone.bodySize);
			const voiceFile = part(clone, 'voice_file');
			expect(sandbox.knownPreview(voiceFile.sha256)).toEqual({ text: preview.fields?.text, modelId: 'faseeh-v1-preview' });
			expect(part(clone, 'reference_audio_file').sha256).toBe(sha256(RECORDING));
			expect(clone.fields).toMatchObject({ name: 'My Narrator', model: 'faseeh-v1-preview', languages: 'ar', dialects: 'najdi' });

			const voice = outputItem(result, 'Faseeh Voice Clone');
			expect(voice.json.voice_id).toMatch(/^cl-/);
			const [speechRequest] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
			expect((speechRequest.json as { voice_id: string }).voice_id).toBe(voice.json.voice_id);
			const speech = outputItem(result, 'Speak With New Voice');
			expect(speech.json).toMatchObject({ voice_id: voice.json.voice_id, mimeType: 'audio/wav', fileName: 'first-words.wav' });
			const written = fs.readFileSync(path.join(filesDir, 'first-words.wav'));
			expect(written.toString('latin1', 0, 4)).toBe('RIFF');
			expect(written.length).toBe(speech.json.fileSize);
			// The mode really was the one asked for: in memory (no id) or a filesystem id.
			const previewItem = outputItem(result, 'Preview Voice');
			if (binaryMode === 'default') expect(previewItem.binary?.voice_file.id).toBeUndefined();
			else expect(String(previewItem.binary?.voice_file.id)).toMatch(new RegExp(`^${binaryMode}`));
		},
	);

	it.each(entry.speechModes)(
		'Speech → Generate in every Output Format (article-to-podcast MP3, a long text as one WAV, OGG/Opus, raw PCM) in binary mode %s',
		async (binaryMode) => {
			const { article } = speechFormatsWorkflow(filesDir);
			const result = await execute(SPEECH_WORKFLOW_ID, binaryMode);
			expect(executionProblem(result)).toBeUndefined();
			const output = (node: string) => outputItem(result, node);
			const sent = (model: string) =>
				requestsTo(sandbox, 'POST', `/text-to-speech/${model}`).map((request) => ({ status: request.status, text: (request.json as { text: string }).text }));

			// The article: the example's own MP3, its pieces each requested once, decoded by mpg123.
			const podcast = spokenPcm(article.model, article.text, article.maxCharacters, article.pauseMs);
			expect(podcast.pieces.length).toBeGreaterThanOrEqual(2);
			const podcastSent = sent(article.model).filter((request) => podcast.pieces.includes(request.text));
			expect(podcastSent.every((request) => request.status === 200)).toBe(true);
			expect(podcastSent.map((request) => request.text).sort()).toEqual([...podcast.pieces].sort());
			const mp3 = fs.readFileSync(path.join(filesDir, 'podcast.mp3'));
			const mp3Item = outputItem(result, 'Speak the Article');
			expect(mp3Item.json).toMatchObject({ format: 'mp3', mimeType: 'audio/mpeg', pieces: podcast.pieces.length, fileSize: mp3.length, bitRateKbps: 64 });
			expect(String(mp3Item.json.fileName)).toMatch(/\.mp3$/);
			expect(new Set(parseMp3Frames(mp3).map((frame) => `${frame.sampleRate} ${frame.channelMode} ${frame.bitrateKbps}`))).toEqual(new Set(['24000 mono 64']));
			const podcastSeconds = podcast.pcm.length / 48000;
			const decodedMp3 = decodeWithLibrary('mp3', mp3);
			expect(decodedMp3.errors).toEqual([]);
			// The Info tag tells mpg123 LAME's delay and padding: it plays the pieces' samples exactly.
			expect(decodedMp3.samplesDecoded).toBe(podcast.pcm.length / 2);
			expect(Math.abs((mp3Item.json.durationSeconds as number) - podcastSeconds) / podcastSeconds).toBeLessThan(0.01);
			expect(bestCorrelation(toFloat(podcast.pcm), decodedMp3.samples, 3000).r).toBeGreaterThan(0.9);

			// The long text: one WAV whose samples are the sandbox's pieces in order, each sent once.
			const long = spokenPcm('faseeh-mini-v1-preview', LONG_TEXT, 1000, LONG_PAUSE_MS);
			expect(long.pieces.length).toBeGreaterThanOrEqual(6);
			const longSent = sent('faseeh-mini-v1-preview').filter((request) => request.text !== VOICE_NOTE_TEXT);
			expect(longSent.map((request) => request.text).sort()).toEqual([...long.pieces].sort());
			const wav = fs.readFileSync(path.join(filesDir, 'long.wav'));
			expect({ riff: wav.toString('latin1', 0, 4), channels: wav.readUInt16LE(22), rate: wav.readUInt32LE(24), bits: wav.readUInt16LE(34) }).toEqual({ riff: 'RIFF', channels: 1, rate: 24000, bits: 16 });
			expect(wav.readUInt32LE(40)).toBe(wav.length - 44);
			expect(wav.subarray(44).equals(long.pcm)).toBe(true);
			expect(output('Speak Long WAV').json).toMatchObject({ format: 'wav', mimeType: 'audio/wav', fileName: 'long.wav', pieces: long.pieces.length, fileSize: wav.length });
			expect(output('Speak Long WAV').json.durationSeconds).toBeCloseTo(long.pcm.length / 48000, 2);

			// The voice note: OGG/Opus, mono, decoded by libopus to the sandbox's speech within 1 % of its length.
			const note = synthesize(`tts\nfaseeh-mini-v1-preview\n${VOICE}\n${VOICE_NOTE_TEXT}`, VOICE_NOTE_TEXT, 24000);
			const ogg = fs.readFileSync(path.join(filesDir, 'note.ogg'));
			expect(output('Speak Voice Note').json).toMatchObject({ format: 'oggOpus', mimeType: 'audio/ogg', fileName: 'note.ogg', sampleRate: 24000, bitRateKbps: 24, fileSize: ogg.length });
			const head = parseOggPages(ogg)[0].packets[0];
			expect(head.toString('latin1', 0, 8)).toBe('OpusHead');
			expect(head[9]).toBe(1);
			const decodedOgg = decodeWithLibrary('ogg', ogg);
			expect(decodedOgg.errors).toEqual([]);
			expect(decodedOgg.channels).toBe(1);
			const noteSeconds = note.length / 48000;
			expect(Math.abs(decodedOgg.samplesDecoded / decodedOgg.sampleRate - noteSeconds) / noteSeconds).toBeLessThan(0.01);
			const step = decodedOgg.sampleRate / 24000;
			const down = Float32Array.from({ length: Math.floor(decodedOgg.samples.length / step) }, (_u, i) => decodedOgg.samples[Math.round(i * step)]);
			expect(bestCorrelation(toFloat(note), down, 3000).r).toBeGreaterThan(0.8);

			// The OGG/Opus note as an input: the preview received it decoded to a 24 kHz mono WAV of the same speech.
			const previewFile = (requestsTo(sandbox, 'POST', '/voices/preview')[0].parts ?? []).find((entry) => entry.name === 'file');
			expect(previewFile).toMatchObject({ filename: 'note.wav', contentType: 'audio/wav' });
			expect(output('Preview From Note').json.input).toMatchObject({ format: 'ogg', converted: true, sentAs: 'note.wav' });
			const previewWav = previewFile!.data;
			expect({ rate: previewWav.readUInt32LE(24), channels: previewWav.readUInt16LE(22) }).toEqual({ rate: 24000, channels: 1 });
			expect(bestCorrelation(toFloat(note), toFloat(previewWav.subarray(44)), 3000).r).toBeGreaterThan(0.8);

			// Raw PCM at 16 kHz: the sandbox's samples exactly.
			const pcm = fs.readFileSync(path.join(filesDir, 'note.pcm'));
			expect(pcm.equals(synthesize(`tts\nfaseeh-v1-preview\n${VOICE}\n${VOICE_NOTE_TEXT}`, VOICE_NOTE_TEXT, 16000))).toBe(true);
			expect(output('Speak Raw PCM').json).toMatchObject({ format: 'pcm', mimeType: 'application/octet-stream', sampleRate: 16000, fileName: 'note.pcm' });
		},
	);

	it('an API error (402) fails with Faseeh’s own message', async () => {
		sandbox.inject({
			route: 'POST /voices/clone',
			kind: 'status',
			status: 402,
			body: { errorCode: 40201, errorMessage: EXPECTED.wallet },
		});
		const result = await execute('matrixCloneAndSpeak', entry.errorMode);
		expect(result.exitCode).not.toBe(0);
		expect(result.errorMessage).toBe(EXPECTED.wallet);
		expect(cloneRun(result)?.error?.httpCode).toBe('402');
		expect(cloneRun(result)?.error?.description).toContain('Faseeh error code 40201');
		expect(requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview')).toHaveLength(0);
	});

	it('a clone that is never answered times out after the 3 s set in Options, and says so', async () => {
		sandbox.inject({ route: 'POST /voices/clone', kind: 'hang' });
		const started = Date.now();
		const result = await execute('matrixCloneTimeout3', entry.errorMode);
		expect(result.exitCode).not.toBe(0);
		expect(result.errorMessage).toBe(EXPECTED.timeout);
		expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(1); // a clone is never resent
		expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
	});

	it('a clone answer cut off mid-body says so, not "check the Base URL"', async () => {
		const before = cutOff.requests();
		const result = await execute('matrixCloneCutOff', entry.errorMode);
		expect(result.exitCode).not.toBe(0);
		expect(result.errorMessage).toBe(EXPECTED.cutOff);
		expect(cutOff.requests() - before).toBe(1);
		expect(requestsTo(sandbox, 'POST', '/voices/preview')).toHaveLength(1);
	});

	it.each([...new Set([entry.errorMode, ...entry.exampleModes])])(
		'a connection dropped in the middle of the clone upload says so (binary mode %s)',
		async (binaryMode) => {
			sandbox.inject({ route: 'POST /voices/clone', kind: 'reset', afterBytes: 16 * 1024 });
			const result = await execute('matrixCloneAndSpeak', binaryMode);
			expect(result.exitCode).not.toBe(0);
			expect(result.errorMessage).toBe(EXPECTED.dropped);
			const [clone] = requestsTo(sandbox, 'POST', '/voices/clone');
			expect(clone.aborted).toBe(true);
			expect(clone.bodySize).toBeLessThan(clone.contentLength ?? 0);
		},
	);

	(entry.form ? it : it.skip)('examples/form-upload-one-step-clone.json: a form upload becomes a voice (n8n start)', async () => {
		const activated = await activateWorkflow(runtime, userFolder, FORM_WORKFLOW_ID);
		output.push(activated.stdout, activated.stderr);
		expect(activated.exitCode).toBe(0);
		const server = await startN8nServer(runtime, userFolder, { env: { N8N_DEFAULT_BINARY_DATA_MODE: entry.errorMode } });
		try {
			await submitFormAndCheckClone(server.url, sandbox, RECORDING);
		} finally {
			await server.stop();
			output.push(fs.existsSync(server.logFile) ? fs.readFileSync(server.logFile, 'utf8') : '');
		}
	});

	it('the API key appears nowhere in what n8n printed, logged or stored', () => {
		expect(output.length).toBeGreaterThanOrEqual(4); // at least the imports in beforeAll
		const everything = output.join('\n');
		expect(everything).toContain('Faseeh');
		expect(everything).not.toContain(TEST_API_KEY);
		// Its database (executions, errors), logs, binary data and config; the credential import
		// file we wrote is removed by importCredentials.
		expect(filesContaining(path.join(userFolder, '.n8n'), TEST_API_KEY)).toEqual([]);
		expect(filesContaining(userFolder, TEST_API_KEY)).toEqual([]);
	});
});
