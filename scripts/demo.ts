/**
 * `npm run demo`: the whole package in a real n8n, headless, in one command.
 *
 * Builds the package, installs it into a fresh n8n user folder the way n8n installs community
 * packages, imports the "Faseeh API" credential and examples/clone-and-speak.json, runs it
 * with `n8n execute`, and prints the cloned voice and the WAV it spoke.
 *
 * Faseeh API: the in-process sandbox by default. With FASEEH_API_KEY the real API is used
 * (base URL FASEEH_BASE_URL, default https://api.faseeh.ai/api/v1): that spends wallet balance
 * and creates a voice "My Narrator" in the account (unless FASEEH_BASE_URL is on this machine).
 * The base URL's host and port are tried first, so a wrong one fails in seconds. FASEEH_DEMO_RECORDING=/path/to/voice.wav
 * uses a real recording instead of the synthetic tone.
 *
 * Run: node -r ts-node/register/transpile-only scripts/demo.ts
 */
import * as fs from 'fs';
import * as path from 'path';

import { executeWorkflow, importWorkflow, installPackage, nodeOutputItems } from './lib/n8n';
import type { ExecuteResult } from './lib/n8n';
import { ensureRuntime } from './lib/runtime';
import {
	REPO,
	buildPackage,
	checkReachable,
	hostAndPort,
	importFaseehCredential,
	loadExample,
	prepareFixedUserFolder,
	readWavInfo,
	redact,
	seconds,
	startFaseehTarget,
	syntheticRecording,
	tail,
	toolCacheDir,
} from './lib/stack';
import type { FaseehTarget } from './lib/stack';

const EXAMPLE = 'clone-and-speak.json';
/** Node names in examples/clone-and-speak.json that the demo reads. */
const READ_NODE = 'Read Recording';
const CLONE_NODE = 'Faseeh Voice Clone';
const SPEAK_NODE = 'Speak With New Voice';
const OUTPUT_FILE = 'first-words.wav';
const DEMO_OUTPUT_DIR = path.join(REPO, 'demo-output');

/** The key, so every line we print can be scrubbed of it (defence in depth: nothing should contain it). */
const secret = process.env.FASEEH_API_KEY?.trim() || undefined;

function log(line: string): void {
	console.log(redact(`[demo] ${line}`, secret));
}

function warn(line: string): void {
	console.warn(redact(`[demo] WARNING: ${line}`, secret));
}

/** Puts the recording into the user folder's files dir; returns its path. */
function placeRecording(filesDir: string, target: FaseehTarget): string {
	const custom = process.env.FASEEH_DEMO_RECORDING?.trim();
	if (custom) {
		if (!fs.existsSync(custom)) throw new Error(`FASEEH_DEMO_RECORDING: no such file: ${custom}`);
		// Keep the extension: n8n's Read/Write Files node derives the MIME type from it.
		const dest = path.join(filesDir, `recording${path.extname(custom).toLowerCase() || '.wav'}`);
		fs.copyFileSync(custom, dest);
		log(`recording: ${custom} (${fs.statSync(dest).size} bytes)`);
		return dest;
	}
	const dest = path.join(filesDir, 'recording.wav');
	fs.writeFileSync(dest, syntheticRecording());
	log(`recording: synthetic 3 s tone (valid 24 kHz WAV) at ${dest}`);
	if (target.real && !target.local) {
		warn(
			'the synthetic recording is a tone, not a real voice: Faseeh may refuse it or clone a tone. ' +
				'Set FASEEH_DEMO_RECORDING=/path/to/your-voice.wav (1-3 minutes of one speaker) for a real clone.',
		);
	}
	return dest;
}

/** A clear message from a failed `n8n execute`: n8n's own error, the node, and its details. */
function describeFailure(result: ExecuteResult, target: FaseehTarget): string {
	const resultData = (result.run?.data as { resultData?: { lastNodeExecuted?: string } } | undefined)?.resultData;
	const node = resultData?.lastNodeExecuted;
	const { host, port } = hostAndPort(target.baseUrl);
	const lines = [`the workflow failed (n8n execute exit code ${result.exitCode}; Faseeh API at ${host}:${port})`];
	if (result.errorMessage) lines.push(`n8n error: ${result.errorMessage}`);
	if (node) {
		lines.push(`in node: ${node}`);
		const runs = result.runData?.[node] as Array<{ error?: { description?: string } }> | undefined;
		const description = runs?.[runs.length - 1]?.error?.description;
		if (description) lines.push(`details: ${description}`);
	}
	if (!result.errorMessage) {
		// No execution JSON (n8n crashed or was killed): show the end of what it printed.
		lines.push(`last lines n8n printed:\n${tail(`${result.stdout}\n${result.stderr}`, 30)}`);
	}
	return lines.join('\n');
}

async function main(): Promise<void> {
	const started = Date.now();
	// First, so a wrong FASEEH_BASE_URL fails in seconds, not after the build and the runtime.
	const target = await startFaseehTarget();
	try {
		if (target.real) await checkReachable(target.baseUrl);
		await runDemo(started, target);
	} finally {
		await target.stop();
	}
}

async function runDemo(started: number, target: FaseehTarget): Promise<void> {
	await buildPackage(log);

	const runtimeStarted = Date.now();
	const rt = await ensureRuntime({ log: (line) => log(`runtime: ${line}`) });
	log(`n8n ${rt.n8nVersion} on Node 24 ready (${seconds(runtimeStarted)})`);

	// A fixed path (wiped each run) so the logs are easy to find and /tmp does not fill up.
	const userFolder = prepareFixedUserFolder(path.join(toolCacheDir(), 'demo-user'), true);
	const filesDir = path.join(userFolder, 'files');
	const logsDir = path.join(userFolder, 'logs');
	fs.mkdirSync(logsDir, { recursive: true });
	log(`fresh n8n user folder: ${userFolder}`);

	const installStarted = Date.now();
	const installed = await installPackage(userFolder, REPO);
	log(`installed the packed package as a community package at ${installed} (${seconds(installStarted)})`);

	// An old result must not pass for this run's if this run fails.
	fs.rmSync(path.join(DEMO_OUTPUT_DIR, OUTPUT_FILE), { force: true });

	log(`Faseeh API: ${describeTarget(target)}`);
	const recording = placeRecording(filesDir, target);

	const importStarted = Date.now();
	const credentialImport = await importFaseehCredential(rt, userFolder, target);
	const workflow = loadExample(EXAMPLE, filesDir);
	setRecordingPath(workflow, recording);
	const workflowImport = await importWorkflow(rt, userFolder, workflow);
	writeLog(path.join(logsDir, 'n8n-import.log'), [credentialImport.stdout, credentialImport.stderr, workflowImport.stdout, workflowImport.stderr]);
	log(`imported the credential and examples/${EXAMPLE} (${seconds(importStarted)})`);

	log('running the workflow with `n8n execute`: read recording -> preview -> clone -> speak -> write WAV ...');
	const executeStarted = Date.now();
	const result = await executeWorkflow(rt, userFolder, String(workflow.id), { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' });
	const executeLog = path.join(logsDir, 'n8n-execute.log');
	writeLog(executeLog, [result.stdout, result.stderr]);
	if (result.exitCode !== 0 || result.errorMessage || !result.run) {
		throw new Error(`${describeFailure(result, target)}\nn8n's output: ${executeLog}`);
	}
	log(`workflow succeeded (${seconds(executeStarted)})`);

	const [voice] = nodeOutputItems(result.runData, CLONE_NODE);
	const [speech] = nodeOutputItems(result.runData, SPEAK_NODE);
	if (!voice || !speech) throw new Error(`the workflow ran but "${CLONE_NODE}" or "${SPEAK_NODE}" produced no item; see ${executeLog}`);

	const written = path.join(filesDir, OUTPUT_FILE);
	if (!fs.existsSync(written)) throw new Error(`the workflow did not write ${written}; see ${executeLog}`);
	fs.mkdirSync(DEMO_OUTPUT_DIR, { recursive: true });
	const copy = path.join(DEMO_OUTPUT_DIR, OUTPUT_FILE);
	fs.copyFileSync(written, copy);
	const wav = fs.readFileSync(copy);
	const info = readWavInfo(wav);

	console.log('');
	console.log(redact(`Created voice (output of "${CLONE_NODE}"):`, secret));
	console.log(redact(JSON.stringify(voice.json, null, 2), secret));
	console.log('');
	console.log(`Spoken WAV: ${path.relative(process.cwd(), copy) || copy}`);
	console.log(`  (written by n8n to ${written})`);
	console.log(`  size ${wav.length} bytes (${(wav.length / 1024).toFixed(1)} KiB), duration ${info.durationSeconds.toFixed(2)} s, ${info.sampleRate} Hz, ${info.channels} channel(s), ${info.bitsPerSample}-bit`);
	console.log(`  text: ${String(speech.json.text ?? '(see the workflow)')}`);
	if (!target.real) console.log('  (the sandbox speaks a tone, not words: use FASEEH_API_KEY for real speech)');
	console.log('');
	console.log(`n8n's logs: ${logsDir} (n8n-import.log, n8n-execute.log)`);
	console.log(`n8n user folder (database, files): ${userFolder}`);
	console.log(`demo finished in ${seconds(started)}`);
}

function describeTarget(target: FaseehTarget): string {
	if (!target.real) return `the local sandbox at ${target.baseUrl} (set FASEEH_API_KEY to use the real API)`;
	if (target.local) return `${target.baseUrl} with your FASEEH_API_KEY (a server on this machine, not a Faseeh account)`;
	return `${target.baseUrl} with your FASEEH_API_KEY (a real account: this spends wallet balance and creates a voice "My Narrator")`;
}

/** Points the example's Read Recording node at the recording we placed. */
function setRecordingPath(workflow: Record<string, unknown>, recording: string): void {
	const nodes = workflow.nodes as Array<{ name: string; parameters: Record<string, unknown> }>;
	const read = nodes.find((node) => node.name === READ_NODE);
	if (!read) throw new Error(`examples/${EXAMPLE} has no node "${READ_NODE}"`);
	read.parameters.fileSelector = recording;
}

/** Writes n8n's output to a log file, scrubbed of the key (it should never be there). */
function writeLog(file: string, parts: string[]): void {
	const text = parts.join('\n');
	if (secret && text.includes(secret)) warn(`n8n printed the API key; it was removed from ${file}. Please report this.`);
	fs.writeFileSync(file, redact(text, secret));
}

main().then(
	() => process.exit(0),
	(err: unknown) => {
		const message = err instanceof Error ? err.message : String(err);
		console.error(redact(`\n[demo] FAILED: ${message}`, secret));
		process.exit(1);
	},
);
