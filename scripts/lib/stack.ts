/**
 * Shared setup for `npm run demo` and `npm run dev` (and the browser e2e test): build the
 * package, pick the Faseeh API to talk to (the in-process sandbox, or the real API when
 * FASEEH_API_KEY is set), and put the credential and the example workflows into an n8n
 * user folder.
 *
 * Nothing here prints the API key: callers get it only inside the credential import.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

import { FaseehSandbox } from '../../test/sandbox/FaseehSandbox';
import type { RecordedRequest } from '../../test/sandbox/FaseehSandbox';
import { makePcm16, wrapWav } from '../../test/sandbox/audio';
import { findFreePort, importCredentials, importWorkflow } from './n8n';
import type { RunResult } from './n8n';
import type { Runtime } from './runtime';

export const REPO = path.resolve(__dirname, '..', '..');
export const EXAMPLES_DIR = path.join(REPO, 'examples');
/** The credential id every example workflow refers to. */
export const CREDENTIAL_ID = 'faseehCredential1';
export const CREDENTIAL_NAME = 'Faseeh API';
export const DEFAULT_BASE_URL = 'https://api.faseeh.ai/api/v1';
/** The path the examples use for files (n8n's Docker default); rewritten into the user folder. */
export const EXAMPLE_FILES_PREFIX = '/home/node/.n8n-files/';
export const EXAMPLE_FILES = ['clone-and-speak.json', 'form-upload-one-step-clone.json', 'ai-agent-speech-tool.json', 'webhook-one-step-clone.json'];

export type Log = (line: string) => void;

/** `~/.cache/n8n-nodes-faseeh` (or `$XDG_CACHE_HOME/n8n-nodes-faseeh`): next to the runtime. */
export function toolCacheDir(): string {
	const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
	return path.join(cacheHome, 'n8n-nodes-faseeh');
}

/**
 * `npm run build` in the repo. Output is kept quiet (it is long) and shown only on failure,
 * so a broken build stops the script with the compiler's message.
 */
export async function buildPackage(log: Log): Promise<void> {
	const started = Date.now();
	log('building the package (npm run build)...');
	const result = await new Promise<{ code: number; output: string }>((resolve, reject) => {
		const child = spawn('npm', ['run', 'build'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
		const chunks: Buffer[] = [];
		child.stdout.on('data', (d: Buffer) => chunks.push(d));
		child.stderr.on('data', (d: Buffer) => chunks.push(d));
		child.on('error', reject);
		child.on('close', (code) => resolve({ code: code ?? 1, output: Buffer.concat(chunks).toString('utf8') }));
	});
	if (result.code !== 0) {
		throw new Error(`npm run build failed (exit ${result.code}):\n${tail(result.output, 40)}`);
	}
	log(`built in ${seconds(started)}`);
}

// --- Which Faseeh API ---------------------------------------------------------------------

export interface FaseehTarget {
	/** True when FASEEH_API_KEY is set: the API at baseUrl, no sandbox. */
	real: boolean;
	/**
	 * True for the sandbox and for a loopback FASEEH_BASE_URL (127.0.0.0/8, ::1, localhost): a
	 * server on this machine, so no real account's wallet is spent.
	 */
	local: boolean;
	baseUrl: string;
	/** Only for the credential import; never print it. */
	apiKey: string;
	/** The in-process sandbox (undefined with a real key). */
	sandbox?: FaseehSandbox;
	/** Set when the wanted sandbox port was busy and another one was used. */
	portFallbackFrom?: number;
	stop(): Promise<void>;
}

export interface TargetOptions {
	/** Sandbox port; 0 or undefined = any free port. If busy, a free port is used instead. */
	sandboxPort?: number;
	/** Called once per finished sandbox request (a one-line log for `npm run dev`). */
	onSandboxRequest?: (request: RecordedRequest) => void;
	/** Long-running use: do not keep every upload in memory. */
	longRunning?: boolean;
}

/**
 * The real API when FASEEH_API_KEY is set (base URL from FASEEH_BASE_URL or the default),
 * otherwise the Faseeh sandbox started in this process.
 */
export async function startFaseehTarget(opts: TargetOptions = {}): Promise<FaseehTarget> {
	const key = process.env.FASEEH_API_KEY?.trim();
	if (key) {
		const baseUrl = (process.env.FASEEH_BASE_URL?.trim() || DEFAULT_BASE_URL).replace(/\/+$/, '');
		return { real: true, local: isLoopbackUrl(baseUrl), baseUrl, apiKey: key, stop: async () => undefined };
	}
	let port = opts.sandboxPort ?? 0;
	let portFallbackFrom: number | undefined;
	if (port !== 0 && !(await portIsFree(port))) {
		portFallbackFrom = port;
		port = await findFreePort();
	}
	const sandbox = new FaseehSandbox({
		port,
		keepPartData: opts.longRunning ? false : undefined,
		maxRecorded: opts.longRunning ? 100 : undefined,
		onRequestDone: opts.onSandboxRequest,
	});
	const baseUrl = await sandbox.start();
	return { real: false, local: true, baseUrl, apiKey: sandbox.apiKey, sandbox, portFallbackFrom, stop: () => sandbox.stop() };
}

/** True when the URL's host is this machine (127.0.0.0/8, ::1 or localhost). */
export function isLoopbackUrl(url: string): boolean {
	let host: string;
	try {
		host = new URL(url).hostname.toLowerCase();
	} catch {
		return false;
	}
	if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
	if (host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true;
	return net.isIPv4(host) && host.startsWith('127.');
}

/** The host and port a base URL connects to (the scheme's default port when none is given). */
export function hostAndPort(baseUrl: string): { host: string; port: number } {
	const url = new URL(baseUrl);
	const port = url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
	return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * Opens (and closes) one TCP connection to the base URL's host and port, so an unreachable
 * FASEEH_BASE_URL fails in seconds with a message naming what was tried, not after the build.
 */
export async function checkReachable(baseUrl: string, timeoutMs = 10_000): Promise<void> {
	let target: { host: string; port: number };
	try {
		target = hostAndPort(baseUrl);
	} catch {
		throw new Error(`FASEEH_BASE_URL is not a URL: ${baseUrl}`);
	}
	const where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
	await new Promise<void>((resolve, reject) => {
		const socket = net.connect({ host: target.host, port: target.port });
		const fail = (reason: string) => {
			socket.destroy();
			reject(new Error(`cannot reach the Faseeh API at ${where} (from ${baseUrl}): ${reason}`));
		};
		socket.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs / 1000} s`));
		socket.once('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
		socket.once('connect', () => {
			socket.end();
			resolve();
		});
	});
}

/** True if nothing listens on 127.0.0.1:`port` (we can bind it). */
export function portIsFree(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const srv = net.createServer();
		srv.once('error', () => resolve(false));
		srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
	});
}

// --- User folder content ------------------------------------------------------------------

/** Imports (or overwrites: same id) the "Faseeh API" credential the examples refer to. */
export async function importFaseehCredential(rt: Runtime, userFolder: string, target: FaseehTarget): Promise<RunResult> {
	return importCredentials(rt, userFolder, [
		{ id: CREDENTIAL_ID, name: CREDENTIAL_NAME, type: 'faseehApi', data: { apiKey: target.apiKey, baseUrl: target.baseUrl } },
	]);
}

/** An example workflow with its `/home/node/.n8n-files/` paths pointed at `filesDir`. */
export function loadExample(file: string, filesDir: string): Record<string, unknown> {
	const text = fs.readFileSync(path.join(EXAMPLES_DIR, file), 'utf8').split(EXAMPLE_FILES_PREFIX).join(`${filesDir}/`);
	return JSON.parse(text) as Record<string, unknown>;
}

/** Imports the given examples (all of them by default) in one n8n CLI call. */
export async function importExamples(
	rt: Runtime,
	userFolder: string,
	files: string[] = EXAMPLE_FILES,
): Promise<{ result: RunResult; workflows: Array<Record<string, unknown>> }> {
	const filesDir = path.join(userFolder, 'files');
	const workflows = files.map((file) => loadExample(file, filesDir));
	const result = await importWorkflow(rt, userFolder, workflows);
	return { result, workflows };
}

/**
 * A user folder at a fixed path, laid out like createUserFolder() makes them (encryption key
 * file + `files/`). `fresh` wipes it first; otherwise what is there is kept.
 */
export function prepareFixedUserFolder(dir: string, fresh: boolean): string {
	if (fresh) fs.rmSync(dir, { recursive: true, force: true });
	fs.mkdirSync(path.join(dir, 'files'), { recursive: true });
	// Its database holds the credential, encrypted with the key file beside it: this user only.
	fs.chmodSync(dir, 0o700);
	// Earlier versions of these scripts left the imported credential here in plain text.
	fs.rmSync(path.join(dir, 'imports'), { recursive: true, force: true });
	// n8nEnv() creates the encryption key file when it is missing, and reuses it afterwards.
	return dir;
}

/**
 * A synthetic recording: a valid 24 kHz mono PCM16 WAV with a few tones (not a real voice;
 * the sandbox accepts any valid audio, the real API may clone a tone or refuse it).
 */
export function syntheticRecording(secondsPerTone = 1, frequencies = [196, 220, 247]): Buffer {
	const pcm = Buffer.concat(frequencies.map((hz) => makePcm16(secondsPerTone, 24000, hz)));
	return wrapWav(pcm);
}

// --- WAV ------------------------------------------------------------------------------------

export interface WavInfo {
	sampleRate: number;
	channels: number;
	bitsPerSample: number;
	dataBytes: number;
	durationSeconds: number;
}

/** Reads a RIFF/WAVE header by walking its chunks (fmt and data may not be at fixed offsets). */
export function readWavInfo(wav: Buffer): WavInfo {
	if (wav.length < 12 || wav.toString('latin1', 0, 4) !== 'RIFF' || wav.toString('latin1', 8, 12) !== 'WAVE') {
		throw new Error('not a RIFF/WAVE file');
	}
	let offset = 12;
	let fmt: { channels: number; sampleRate: number; bitsPerSample: number; byteRate: number } | undefined;
	while (offset + 8 <= wav.length) {
		const id = wav.toString('latin1', offset, offset + 4);
		const size = wav.readUInt32LE(offset + 4);
		const body = offset + 8;
		if (id === 'fmt ' && body + 16 <= wav.length) {
			fmt = {
				channels: wav.readUInt16LE(body + 2),
				sampleRate: wav.readUInt32LE(body + 4),
				byteRate: wav.readUInt32LE(body + 8),
				bitsPerSample: wav.readUInt16LE(body + 14),
			};
		}
		if (id === 'data') {
			if (!fmt) throw new Error('WAV data chunk before its fmt chunk');
			// A streamed WAV may carry a placeholder size: count the bytes actually there.
			const dataBytes = Math.min(size, wav.length - body);
			return {
				sampleRate: fmt.sampleRate,
				channels: fmt.channels,
				bitsPerSample: fmt.bitsPerSample,
				dataBytes,
				durationSeconds: fmt.byteRate > 0 ? dataBytes / fmt.byteRate : 0,
			};
		}
		offset = body + size + (size % 2); // chunks are padded to an even size
	}
	throw new Error('WAV has no data chunk');
}

// --- Small helpers --------------------------------------------------------------------------

/** Replaces every occurrence of `secret` (when set) so it can be printed or written safely. */
export function redact(text: string, secret: string | undefined): string {
	if (!secret) return text;
	return text.split(secret).join('[redacted API key]');
}

export function tail(text: string, lines: number): string {
	return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** "12.3s" since `startedMs`. */
export function seconds(startedMs: number): string {
	return `${((Date.now() - startedMs) / 1000).toFixed(1)}s`;
}
