/**
 * Memory in a real n8n 2.41.1 (Node 24, `n8n execute`, filesystem binary mode): peak RSS of the
 * n8n process uploading a 200 MiB voice file minus the same with a 1 MiB file, for the Faseeh
 * Voice Clone node and for n8n's HTTP Request node doing the identical multipart POST. Then the
 * Faseeh node and the read-only workflow again in `database` binary mode (SQLite), where n8n's
 * store reads a file whole: what one item's upload costs there.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createUserFolder, findExecutionJson, importCredentials, importWorkflow, installPackage, n8nEnv, nodeOutputItems, removeUserFolder } from '../lib/n8n';
import { ensureRuntime } from '../lib/runtime';
import type { Runtime } from '../lib/runtime';
import { makePcm16, wrapWav } from '../../test/sandbox/audio';
import type { Figure } from './common';
import { CLONE_TEXT, MiB, fmt, log, median, sha256 } from './common';
import type { RemoteSandbox } from './sandboxClient';
import { startRemoteSandbox } from './sandboxClient';
import type { RequestSummary } from './sandboxChild';
import { writeWavFile } from './wav';

const REPO = path.resolve(__dirname, '..', '..');
const BIG_BYTES = 200 * MiB;
const SMALL_BYTES = 1 * MiB;
const REFERENCE_WAV = wrapWav(makePcm16(1, 24000, 200));
const CREDENTIAL_ID = 'benchFaseehCred';
export const TARGET_DELTA_MIB = 32;
const TARGET_SHARE = 0.15;
const SAMPLE_EVERY_MS = 20;
const EXECUTE_TIMEOUT_MS = 5 * 60_000;
const UPLOAD_NODE = 'Upload';

/**
 * faseeh: the Faseeh Voice Clone node. httpRequest: n8n's HTTP Request 4.5 as a user leaves it
 * (redirects followed, the default). httpRequestNoRedirect: the same with "Follow Redirects" off
 * (informational). none: the same workflow without an upload node (what reading the files costs).
 */
export type Uploader = 'faseeh' | 'httpRequest' | 'httpRequestNoRedirect' | 'none';
const UPLOADERS: Uploader[] = ['faseeh', 'httpRequest', 'httpRequestNoRedirect', 'none'];
/** Workflow ids must be at most 21 characters. */
const WORKFLOW_TAG: Record<Uploader, string> = { faseeh: 'faseeh', httpRequest: 'http', httpRequestNoRedirect: 'http-nr', none: 'read' };
/**
 * Diagnosis only: Node flags for the n8n process (e.g. "--trace-gc"; space-separated, put before
 * n8n's script), and a folder to keep each execution's output in. Unset in a normal run.
 */
const DIAGNOSTIC_NODE_FLAGS = (process.env.BENCH_N8N_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const DIAGNOSTIC_LOG_DIR = process.env.BENCH_N8N_LOG_DIR;

/**
 * n8n's binary data mode for a run. `database` (issue 17.10): n8n's database store has no
 * streaming read, so the node reads each input once per item; measured for the Faseeh node and
 * the read-only workflow.
 */
export type BinaryMode = 'filesystem' | 'database';
const DATABASE_UPLOADERS: Uploader[] = ['faseeh', 'none'];

interface Config {
	uploader: Uploader;
	binaryMode: BinaryMode;
	sizeBytes: number;
	workflowId: string;
	voiceFile: string;
	voiceSha256: string;
}

export interface MemoryRun {
	uploader: Uploader;
	binaryMode: BinaryMode;
	sizeBytes: number;
	/** VmHWM of the main n8n process (KiB from /proc, here in MiB). */
	peakMiB: number;
	/** Highest VmHWM among its child processes (task runner), MiB; 0 if none seen. */
	childPeakMiB: number;
	/** VmRSS growth while the upload node ran (see uploadWindow), MiB. */
	uploadGrowthMiB?: number;
	durationMs: number;
	/** Request as the sandbox received it. */
	contentLength?: number;
	chunked: boolean;
}

export interface MemoryResult {
	reps: number;
	runs: MemoryRun[];
	/** Median peak per uploader and size. */
	peaks: Record<Uploader, { small: number; big: number; delta: number }>;
	/** Δ faseeh / Δ httpRequest (the target). */
	share: number;
	/** Median RSS growth during the upload node, per uploader and size. */
	uploadGrowth: Record<Uploader, { small: number; big: number }>;
	/** Peak minus the read-only workflow's peak, per uploader and size, and their difference. */
	own: Record<Uploader, { small: number; big: number; delta: number }>;
	/** own delta of faseeh / of httpRequest. */
	ownShare: number;
	/** Database binary mode: peaks, own peaks and upload-window growth of the Faseeh node and the read-only workflow. */
	database: {
		peaks: Record<'faseeh' | 'none', { small: number; big: number; delta: number }>;
		own: { small: number; big: number; delta: number };
		uploadGrowth: { small: number; big: number };
	};
	figures: Figure[];
}

/** n8n process groups running now and temp folders in use, for abortMemory(). */
const activeGroups = new Set<number>();
const tempPaths = new Set<string>();

/** On Ctrl-C: n8n runs in its own process group (it would survive the bench), so end it here. */
export function abortMemory(): void {
	for (const pid of activeGroups) {
		try {
			process.kill(-pid, 'SIGKILL');
		} catch {
			// already gone
		}
	}
	for (const dir of tempPaths) fs.rmSync(dir, { recursive: true, force: true });
}

// -------------------------------------------------------------------------------------------
// The package, built from the current sources into a temp folder (the repo's dist/ is left alone:
// other processes may be using it).
// -------------------------------------------------------------------------------------------

export function stagePackage(): string {
	const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-bench-pkg-'));
	const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
	const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(REPO, 'tsconfig.json'), '--outDir', path.join(stage, 'dist')], {
		cwd: REPO,
		encoding: 'utf8',
	});
	const entry = path.join(stage, 'dist', 'nodes', 'FaseehVoiceClone', 'FaseehVoiceClone.node.js');
	if (compiled.status !== 0) {
		// Type errors still emit JavaScript; only a missing output is fatal.
		log(`tsc reported errors (exit ${compiled.status}); continuing with its output:\n${compiled.stdout}${compiled.stderr}`);
	}
	if (!fs.existsSync(entry)) throw new Error(`tsc produced no ${entry}`);
	// What `gulp build:icons` does: SVG/PNG icons next to the compiled files.
	copyIcons(path.join(REPO, 'icons'), path.join(stage, 'dist', 'icons'));
	copyIcons(path.join(REPO, 'nodes'), path.join(stage, 'dist', 'nodes'));
	for (const file of ['package.json', 'index.js', 'README.md', 'LICENSE']) {
		fs.copyFileSync(path.join(REPO, file), path.join(stage, file));
	}
	return stage;
}

function copyIcons(from: string, to: string): void {
	for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
		const source = path.join(from, entry.name);
		if (entry.isDirectory()) copyIcons(source, path.join(to, entry.name));
		else if (/\.(svg|png)$/.test(entry.name)) {
			fs.mkdirSync(to, { recursive: true });
			fs.copyFileSync(source, path.join(to, entry.name));
		}
	}
}

// -------------------------------------------------------------------------------------------
// Workflows: Manual Trigger → two Read/Write Files from Disk nodes (voice → `voice_file`,
// reference → `reference_audio_file`) → Merge (combine by position, so both binaries end up on
// one item) → the uploader.
// -------------------------------------------------------------------------------------------

function workflow(config: Config, referenceFile: string, baseUrl: string, apiKey: string): Record<string, unknown> {
	const node = (name: string, type: string, typeVersion: number, x: number, y: number, parameters: Record<string, unknown>) => ({
		id: `${config.workflowId}-${name.replace(/\W/g, '')}`,
		name,
		type,
		typeVersion,
		position: [x, y],
		parameters,
	});
	const readFile = (name: string, file: string, field: string, y: number) =>
		node(name, 'n8n-nodes-base.readWriteFile', 1.1, 220, y, {
			operation: 'read',
			fileSelector: file,
			options: { dataPropertyName: field },
		});
	const upload =
		config.uploader === 'none'
			? undefined
			: config.uploader === 'faseeh'
			? {
					...node(UPLOAD_NODE, 'n8n-nodes-faseeh.faseehVoiceClone', 1, 660, 0, {
						voiceSource: 'binary',
						voiceBinaryPropertyName: 'voice_file',
						referenceBinaryPropertyName: 'reference_audio_file',
						text: CLONE_TEXT,
						stability: 0.5,
						name: 'Bench Voice',
						model: 'faseeh-v1-preview',
						additionalFields: {},
						// The default limit (100 MB) would refuse the 200 MiB file.
						options: { maxFileSizeMb: 300 },
					}),
					credentials: { faseehApi: { id: CREDENTIAL_ID, name: 'Faseeh API' } },
				}
			: node(UPLOAD_NODE, 'n8n-nodes-base.httpRequest', 4.5, 660, 0, {
					method: 'POST',
					url: `${baseUrl}/voices/clone`,
					sendHeaders: true,
					specifyHeaders: 'keypair',
					headerParameters: { parameters: [{ name: 'x-api-key', value: apiKey }] },
					sendBody: true,
					contentType: 'multipart-form-data',
					bodyParameters: {
						// Text fields first: the sandbox, like streaming multipart parsers, wants them before the files.
						parameters: [
							{ parameterType: 'formData', name: 'text', value: CLONE_TEXT },
							{ parameterType: 'formData', name: 'stability', value: '0.5' },
							{ parameterType: 'formData', name: 'name', value: 'Bench Voice' },
							{ parameterType: 'formData', name: 'model', value: 'faseeh-v1-preview' },
							{ parameterType: 'formBinaryData', name: 'voice_file', inputDataFieldName: 'voice_file' },
							{ parameterType: 'formBinaryData', name: 'reference_audio_file', inputDataFieldName: 'reference_audio_file' },
						],
					},
					// Defaults otherwise (as a user would leave them).
					options: config.uploader === 'httpRequestNoRedirect' ? { redirect: { redirect: { followRedirects: false } } } : {},
				});
	return {
		id: config.workflowId,
		name: `bench ${config.uploader} ${config.sizeBytes / MiB} MiB`,
		nodes: [
			node('Start', 'n8n-nodes-base.manualTrigger', 1, 0, 0, {}),
			readFile('Read Voice', config.voiceFile, 'voice_file', -100),
			readFile('Read Reference', referenceFile, 'reference_audio_file', 100),
			node('Merge', 'n8n-nodes-base.merge', 3.2, 440, 0, { mode: 'combine', combineBy: 'combineByPosition', options: {} }),
			...(upload ? [upload] : []),
		],
		connections: {
			Start: {
				main: [
					[
						{ node: 'Read Voice', type: 'main', index: 0 },
						{ node: 'Read Reference', type: 'main', index: 0 },
					],
				],
			},
			'Read Voice': { main: [[{ node: 'Merge', type: 'main', index: 0 }]] },
			'Read Reference': { main: [[{ node: 'Merge', type: 'main', index: 1 }]] },
			...(upload ? { Merge: { main: [[{ node: UPLOAD_NODE, type: 'main', index: 0 }]] } } : {}),
		},
		settings: { executionOrder: 'v1' },
		active: false,
		pinData: {},
	};
}

// -------------------------------------------------------------------------------------------
// One `n8n execute`, with its memory sampled from /proc.
// -------------------------------------------------------------------------------------------

function readStatusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
	try {
		const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
		const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
		return match ? Number(match[1]) : undefined;
	} catch {
		return undefined; // gone
	}
}

/** Child pids of `pid` (all its threads), recursively. */
function descendants(pid: number): number[] {
	const found: number[] = [];
	let tasks: string[] = [];
	try {
		tasks = fs.readdirSync(`/proc/${pid}/task`);
	} catch {
		return found;
	}
	for (const task of tasks) {
		let children = '';
		try {
			children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
		} catch {
			continue;
		}
		for (const child of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
			found.push(child, ...descendants(child));
		}
	}
	return found;
}

interface ExecuteOutcome {
	/** VmRSS of the main process every ~20 ms (Date.now(), KiB). */
	samples: Array<{ at: number; rssKiB: number }>;
	exitCode: number;
	stdout: string;
	stderr: string;
	durationMs: number;
	peakKiB: number;
	childPeakKiB: number;
}

async function executeSampled(rt: Runtime, userFolder: string, workflowId: string, binaryMode: BinaryMode): Promise<ExecuteOutcome> {
	const env = await n8nEnv(
		userFolder,
		{ N8N_DEFAULT_BINARY_DATA_MODE: binaryMode, N8N_AVAILABLE_BINARY_DATA_MODES: 'filesystem,database' },
		rt,
	);
	const started = Date.now();
	const child = spawn(rt.nodeBin, [...DIAGNOSTIC_NODE_FLAGS, rt.n8nBin, 'execute', `--id=${workflowId}`, '--rawOutput'], {
		env,
		stdio: ['ignore', 'pipe', 'pipe'],
		// Own process group, so a timeout also ends n8n's task runner.
		detached: true,
	});
	const pid = child.pid as number;
	activeGroups.add(pid);
	const out: Buffer[] = [];
	const err: Buffer[] = [];
	child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
	child.stderr.on('data', (chunk: Buffer) => err.push(chunk));

	let peakKiB = 0;
	const samples: ExecuteOutcome['samples'] = [];
	const childPeaks = new Map<number, number>();
	const sample = () => {
		// VmHWM is the kernel's own high-water mark of RSS, so sampling cannot miss a short peak;
		// VmRSS is kept as a timeline to look at one node's window.
		const rssKiB = readStatusKiB(pid, 'VmRSS');
		if (rssKiB !== undefined) samples.push({ at: Date.now(), rssKiB });
		peakKiB = Math.max(peakKiB, readStatusKiB(pid, 'VmHWM') ?? 0, rssKiB ?? 0);
		for (const descendant of descendants(pid)) {
			const hwm = readStatusKiB(descendant, 'VmHWM');
			if (hwm !== undefined) childPeaks.set(descendant, Math.max(childPeaks.get(descendant) ?? 0, hwm));
		}
	};
	const sampler = setInterval(sample, SAMPLE_EVERY_MS);
	let timedOut = false;
	const killer = setTimeout(() => {
		timedOut = true;
		try {
			process.kill(-pid, 'SIGKILL');
		} catch {
			// already gone
		}
	}, EXECUTE_TIMEOUT_MS);
	// Sampling stops when n8n has exited. VmHWM only grows, so the last sample (at most 20 ms
	// before the exit, after the upload finished) already holds the peak of the upload.
	const exitCode = await new Promise<number>((resolve) => {
		child.on('close', (code, signal) => resolve(timedOut ? 124 : (code ?? (signal ? 128 : 1))));
	});
	clearInterval(sampler);
	clearTimeout(killer);
	activeGroups.delete(pid);
	try {
		// Stragglers of the group (a task runner that outlived n8n).
		process.kill(-pid, 'SIGKILL');
	} catch {
		// none left
	}
	return {
		samples,
		exitCode,
		stdout: Buffer.concat(out).toString('utf8'),
		stderr: Buffer.concat(err).toString('utf8'),
		durationMs: Date.now() - started,
		peakKiB,
		childPeakKiB: Math.max(0, ...childPeaks.values()),
	};
}

/** Throws unless n8n succeeded and the sandbox got exactly this upload, byte for byte. */
function checkUpload(config: Config, outcome: ExecuteOutcome, requests: RequestSummary[]): RequestSummary | undefined {
	const run = findExecutionJson(outcome.stdout) ?? findExecutionJson(outcome.stderr);
	const data = run?.data as { resultData?: { runData?: Record<string, unknown[]>; error?: { message?: string } } } | undefined;
	const where = `${config.uploader} ${config.sizeBytes / MiB} MiB (${config.binaryMode})`;
	const tailText = `${outcome.stdout}\n${outcome.stderr}`.split('\n').slice(-30).join('\n');
	if (outcome.exitCode !== 0 || data?.resultData?.error) {
		throw new Error(`${where}: n8n execute failed (exit ${outcome.exitCode}): ${data?.resultData?.error?.message ?? ''}\n${tailText}`);
	}
	const uploads = requests.filter((request) => request.method === 'POST' && request.path === '/api/v1/voices/clone');
	if (config.uploader === 'none') {
		const [merged] = nodeOutputItems(data?.resultData?.runData, 'Merge');
		const binary = merged?.binary ?? {};
		if (binary.voice_file?.fileSize === undefined || binary.reference_audio_file === undefined || uploads.length !== 0) {
			throw new Error(`${where}: the Merge node did not output both binaries, or something was uploaded`);
		}
		return undefined;
	}
	const [output] = nodeOutputItems(data?.resultData?.runData, UPLOAD_NODE);
	if (typeof output?.json?.voice_id !== 'string') throw new Error(`${where}: the ${UPLOAD_NODE} node output no voice_id`);

	if (uploads.length !== 1 || uploads[0].status !== 200) {
		throw new Error(`${where}: expected one clone answered 200, got ${JSON.stringify(uploads.map((request) => request.status))}`);
	}
	const upload = uploads[0];
	const part = (name: string) => upload.parts?.find((candidate) => candidate.name === name);
	const voice = part('voice_file');
	const reference = part('reference_audio_file');
	if (voice?.size !== config.sizeBytes || voice.sha256 !== config.voiceSha256) {
		throw new Error(`${where}: voice_file arrived as ${voice?.size} bytes, expected ${config.sizeBytes} with the file's sha256`);
	}
	if (reference?.size !== REFERENCE_WAV.length || reference.sha256 !== sha256(REFERENCE_WAV)) {
		throw new Error(`${where}: reference_audio_file arrived as ${reference?.size} bytes, expected ${REFERENCE_WAV.length}`);
	}
	const fields = JSON.stringify(upload.fields);
	const expected = JSON.stringify({ text: CLONE_TEXT, stability: '0.5', name: 'Bench Voice', model: 'faseeh-v1-preview' });
	if (fields !== expected) throw new Error(`${where}: text fields ${fields}, expected ${expected}`);
	return upload;
}

/**
 * RSS growth while the upload node ran: the highest VmRSS sample inside its run (n8n's own
 * startTime + executionTime) minus the last sample before it started.
 */
function uploadWindowGrowthMiB(outcome: ExecuteOutcome): number | undefined {
	const run = findExecutionJson(outcome.stdout) ?? findExecutionJson(outcome.stderr);
	const runData = (run?.data as { resultData?: { runData?: Record<string, Array<{ startTime?: number; executionTime?: number }>> } })
		?.resultData?.runData;
	const task = runData?.[UPLOAD_NODE]?.[0];
	if (task?.startTime === undefined || task.executionTime === undefined) return undefined;
	const start = task.startTime;
	const end = start + task.executionTime + SAMPLE_EVERY_MS;
	const before = outcome.samples.filter((sample) => sample.at <= start).pop();
	const inside = outcome.samples.filter((sample) => sample.at > start && sample.at <= end);
	if (!before || inside.length === 0) return undefined;
	return (Math.max(...inside.map((sample) => sample.rssKiB)) - before.rssKiB) / 1024;
}

// -------------------------------------------------------------------------------------------

export async function runMemory(reps: number): Promise<MemoryResult> {
	const rt = await ensureRuntime({ log: (line) => log(`runtime: ${line}`) });
	log('memory: compiling the package into a temp folder');
	const stage = stagePackage();
	tempPaths.add(stage);
	const userFolder = await createUserFolder('faseeh-bench-n8n-');
	tempPaths.add(userFolder);
	let sandbox: RemoteSandbox | undefined;
	const runs: MemoryRun[] = [];
	try {
		log('memory: installing it into a fresh n8n user folder');
		await installPackage(userFolder, stage);
		const filesDir = path.join(userFolder, 'files');
		const referenceFile = path.join(filesDir, 'reference.wav');
		fs.writeFileSync(referenceFile, REFERENCE_WAV);
		log('memory: writing the 200 MiB and 1 MiB voice files');
		const bigFile = path.join(filesDir, 'voice-200MiB.wav');
		const smallFile = path.join(filesDir, 'voice-1MiB.wav');
		const bigSha = await writeWavFile(bigFile, BIG_BYTES);
		const smallSha = await writeWavFile(smallFile, SMALL_BYTES);

		// A key only this run knows; the sandbox runs in its own process (its memory is not n8n's).
		const apiKey = `fsk-bench-${sha256(Buffer.from(`${process.pid}-${Date.now()}`)).slice(0, 24)}`;
		sandbox = await startRemoteSandbox({ apiKey, latencyMs: 0 });
		const configs: Config[] = [];
		for (const [binaryMode, uploaders] of [
			['filesystem', UPLOADERS],
			['database', DATABASE_UPLOADERS],
		] as const) {
			for (const uploader of uploaders) {
				for (const [sizeBytes, voiceFile, voiceSha256] of [
					[SMALL_BYTES, smallFile, smallSha],
					[BIG_BYTES, bigFile, bigSha],
				] as const) {
					const tag = `${WORKFLOW_TAG[uploader]}${binaryMode === 'database' ? '-db' : ''}`;
					configs.push({ uploader, binaryMode, sizeBytes, voiceFile, voiceSha256, workflowId: `bench-${tag}-${sizeBytes / MiB}` });
				}
			}
		}
		await importCredentials(rt, userFolder, [
			{ id: CREDENTIAL_ID, name: 'Faseeh API', type: 'faseehApi', data: { apiKey, baseUrl: sandbox.baseUrl } },
		]);
		await importWorkflow(rt, userFolder, configs.map((config) => workflow(config, referenceFile, sandbox!.baseUrl, apiKey)));

		for (let rep = 0; rep < reps; rep++) {
			// Alternate the order so drift (page cache, disk) does not favour one configuration.
			const order = rep % 2 === 0 ? configs : [...configs].reverse();
			for (const config of order) {
				await sandbox.reset();
				const outcome = await executeSampled(rt, userFolder, config.workflowId, config.binaryMode);
				if (DIAGNOSTIC_LOG_DIR) {
					fs.mkdirSync(DIAGNOSTIC_LOG_DIR, { recursive: true });
					fs.writeFileSync(path.join(DIAGNOSTIC_LOG_DIR, `${config.workflowId}-rep${rep + 1}.log`), `${outcome.stdout}\n--- stderr ---\n${outcome.stderr}`);
				}
				const upload = checkUpload(config, outcome, (await sandbox.stats()).requests);
				const run: MemoryRun = {
					uploader: config.uploader,
					binaryMode: config.binaryMode,
					sizeBytes: config.sizeBytes,
					peakMiB: outcome.peakKiB / 1024,
					childPeakMiB: outcome.childPeakKiB / 1024,
					uploadGrowthMiB: upload ? uploadWindowGrowthMiB(outcome) : undefined,
					durationMs: outcome.durationMs,
					contentLength: upload?.contentLength,
					chunked: upload?.chunked ?? false,
				};
				runs.push(run);
				log(
					`memory rep ${rep + 1}/${reps} ${config.uploader} ${config.sizeBytes / MiB} MiB (${config.binaryMode}): peak RSS ${fmt(run.peakMiB)} MiB (children ${fmt(run.childPeakMiB)}), upload window +${fmt(run.uploadGrowthMiB ?? Number.NaN)} MiB, ${fmt(run.durationMs / 1000, 1)} s, ${!upload ? 'no upload' : run.chunked ? 'chunked' : `Content-Length ${run.contentLength}`}`,
				);
			}
		}
	} finally {
		await sandbox?.stop();
		await removeUserFolder(userFolder);
		fs.rmSync(stage, { recursive: true, force: true });
		tempPaths.delete(userFolder);
		tempPaths.delete(stage);
	}

	/** Median over the runs of one uploader and size (runs without the value are skipped). */
	const medianOf = (uploader: Uploader, sizeBytes: number, value: (run: MemoryRun) => number | undefined, binaryMode: BinaryMode = 'filesystem') =>
		median(
			runs
				.filter((run) => run.uploader === uploader && run.sizeBytes === sizeBytes && run.binaryMode === binaryMode)
				.map(value)
				.filter((measured): measured is number => measured !== undefined),
		);
	const peaks = {} as MemoryResult['peaks'];
	const uploadGrowth = {} as MemoryResult['uploadGrowth'];
	for (const uploader of UPLOADERS) {
		const small = medianOf(uploader, SMALL_BYTES, (run) => run.peakMiB);
		const big = medianOf(uploader, BIG_BYTES, (run) => run.peakMiB);
		peaks[uploader] = { small, big, delta: big - small };
		uploadGrowth[uploader] = {
			small: medianOf(uploader, SMALL_BYTES, (run) => run.uploadGrowthMiB),
			big: medianOf(uploader, BIG_BYTES, (run) => run.uploadGrowthMiB),
		};
	}
	const share = peaks.faseeh.delta / peaks.httpRequest.delta;
	// What the upload node itself adds: each workflow's peak minus the read-only workflow's peak at
	// the same size, then 200 MiB minus 1 MiB as in the whole-run figure.
	const own = {} as MemoryResult['own'];
	for (const uploader of UPLOADERS) {
		const small = peaks[uploader].small - peaks.none.small;
		const big = peaks[uploader].big - peaks.none.big;
		own[uploader] = { small, big, delta: big - small };
	}
	const ownShare = own.faseeh.delta / own.httpRequest.delta;
	const dbPeak = (uploader: 'faseeh' | 'none') => {
		const small = medianOf(uploader, SMALL_BYTES, (run) => run.peakMiB, 'database');
		const big = medianOf(uploader, BIG_BYTES, (run) => run.peakMiB, 'database');
		return { small, big, delta: big - small };
	};
	const dbPeaks = { faseeh: dbPeak('faseeh'), none: dbPeak('none') };
	const dbOwnSmall = dbPeaks.faseeh.small - dbPeaks.none.small;
	const dbOwnBig = dbPeaks.faseeh.big - dbPeaks.none.big;
	const database: MemoryResult['database'] = {
		peaks: dbPeaks,
		own: { small: dbOwnSmall, big: dbOwnBig, delta: dbOwnBig - dbOwnSmall },
		uploadGrowth: {
			small: medianOf('faseeh', SMALL_BYTES, (run) => run.uploadGrowthMiB, 'database'),
			big: medianOf('faseeh', BIG_BYTES, (run) => run.uploadGrowthMiB, 'database'),
		},
	};
	const figures: Figure[] = [
		{
			section: 'memory',
			figure: 'whole run (as specified): Faseeh Voice Clone workflow peak RSS (VmHWM) 1 MiB → 200 MiB, delta',
			measured: `${fmt(peaks.faseeh.small)} → ${fmt(peaks.faseeh.big)} MiB, Δ ${fmt(peaks.faseeh.delta)} MiB`,
			target: `Δ ≤ ${TARGET_DELTA_MIB} MiB`,
			pass: peaks.faseeh.delta <= TARGET_DELTA_MIB,
		},
		{
			section: 'memory',
			figure: 'whole run: HTTP Request 4.5 workflow peak RSS (VmHWM) 1 MiB → 200 MiB, delta',
			measured: `${fmt(peaks.httpRequest.small)} → ${fmt(peaks.httpRequest.big)} MiB, Δ ${fmt(peaks.httpRequest.delta)} MiB`,
			target: '—',
		},
		{
			section: 'memory',
			figure: 'whole run: HTTP Request 4.5, Follow Redirects off (info): delta',
			measured: `${fmt(peaks.httpRequestNoRedirect.small)} → ${fmt(peaks.httpRequestNoRedirect.big)} MiB, Δ ${fmt(peaks.httpRequestNoRedirect.delta)} MiB`,
			target: '—',
		},
		{
			section: 'memory',
			figure: 'whole run: same workflow without an upload node (info): delta',
			measured: `${fmt(peaks.none.small)} → ${fmt(peaks.none.big)} MiB, Δ ${fmt(peaks.none.delta)} MiB`,
			target: '—',
		},
		{
			section: 'memory',
			figure: "upload node's own peak (workflow peak − the same workflow without it), 1 MiB → 200 MiB, delta: Faseeh Voice Clone",
			measured: `${fmt(own.faseeh.small)} → ${fmt(own.faseeh.big)} MiB, Δ ${fmt(own.faseeh.delta)} MiB`,
			target: `Δ ≤ ${TARGET_DELTA_MIB} MiB`,
			pass: own.faseeh.delta <= TARGET_DELTA_MIB,
		},
		{
			section: 'memory',
			figure: "upload node's own peak, 1 MiB → 200 MiB, delta: HTTP Request 4.5",
			measured: `${fmt(own.httpRequest.small)} → ${fmt(own.httpRequest.big)} MiB, Δ ${fmt(own.httpRequest.delta)} MiB`,
			target: '—',
		},
		{
			section: 'memory',
			figure: "upload node's own peak: delta of Faseeh Voice Clone / delta of HTTP Request",
			measured: fmt(ownShare, 3),
			target: `≤ ${TARGET_SHARE}`,
			pass: own.httpRequest.delta > 0 && ownShare <= TARGET_SHARE,
		},
		{
			section: 'memory',
			figure: 'RSS growth while the upload node ran, 200 MiB (1 MiB), info: Faseeh / HTTP Request',
			measured: `${fmt(uploadGrowth.faseeh.big)} (${fmt(uploadGrowth.faseeh.small)}) / ${fmt(uploadGrowth.httpRequest.big)} (${fmt(uploadGrowth.httpRequest.small)}) MiB`,
			target: '—',
		},
		{
			section: 'memory',
			figure: 'whole run: delta of Faseeh Voice Clone / delta of HTTP Request',
			measured: fmt(share, 3),
			target: `≤ ${TARGET_SHARE}`,
			// A non-positive HTTP Request delta makes the ratio meaningless: not a pass.
			pass: peaks.httpRequest.delta > 0 && share <= TARGET_SHARE,
		},
		{
			section: 'memory',
			figure: 'database binary mode (info): Faseeh Voice Clone workflow peak RSS 1 MiB → 200 MiB, delta; the same without the upload node',
			measured: `${fmt(dbPeaks.faseeh.small)} → ${fmt(dbPeaks.faseeh.big)} MiB, Δ ${fmt(dbPeaks.faseeh.delta)}; without: ${fmt(dbPeaks.none.small)} → ${fmt(dbPeaks.none.big)} MiB, Δ ${fmt(dbPeaks.none.delta)}`,
			target: '—',
		},
		{
			section: 'memory',
			// Info, not a target: n8n's database store reads a file whole (its getAsStream is
			// Readable.from(the row)), so the node cannot stream there; it reads it once per item
			// (issue 17.10). The same run with the earlier code (a read for the check and one per
			// upload attempt) measured +591 MiB while the node ran (2026-12-06, 2 reps).
			figure: "database binary mode (info): RSS growth while Faseeh Voice Clone ran, 200 MiB (1 MiB); its own peak (workflow peak − the same without it)",
			measured: `+${fmt(database.uploadGrowth.big)} MiB (+${fmt(database.uploadGrowth.small)}), ${fmt(database.uploadGrowth.big / (BIG_BYTES / MiB), 2)}× the file; own peak ${fmt(database.own.big)} MiB (1 MiB: ${fmt(database.own.small)})`,
			target: '—',
		},
	];
	return { reps, runs, peaks, share, uploadGrowth, own, ownShare, database, figures };
}
