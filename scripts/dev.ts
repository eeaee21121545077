/**
 * `npm run dev`: an n8n editor with this package, for trying the nodes by hand.
 *
 * Builds the package, starts the Faseeh sandbox on 127.0.0.1:8787 (or uses the real API when
 * FASEEH_API_KEY is set), installs the freshly built package into a persistent dev user folder
 * (~/.cache/n8n-nodes-faseeh/dev-user), imports the "Faseeh API" credential and the example
 * workflows, and starts n8n on http://127.0.0.1:5678 with an owner account. Runs until Ctrl-C.
 *
 *   npm run dev                # keeps the dev folder (workflows you edited stay as they are)
 *   npm run dev -- --reset     # wipes the dev folder first (a brand-new n8n)
 *
 * Env: FASEEH_API_KEY, FASEEH_BASE_URL (real API; its host and port are tried first),
 * FASEEH_DEV_PORT (default 5678).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

import { findFreePort, importWorkflow, installPackage, login, ownerEnv, startN8nServer } from './lib/n8n';
import type { N8nServer } from './lib/n8n';
import { ensureRuntime } from './lib/runtime';
import {
	EXAMPLE_FILES,
	EXAMPLES_DIR,
	REPO,
	buildPackage,
	checkReachable,
	importFaseehCredential,
	loadExample,
	portIsFree,
	prepareFixedUserFolder,
	redact,
	seconds,
	startFaseehTarget,
	syntheticRecording,
	toolCacheDir,
} from './lib/stack';
import type { FaseehTarget } from './lib/stack';

const SANDBOX_PORT = 8787;
const DEFAULT_N8N_PORT = 5678;
/** Local only: the editor listens on 127.0.0.1, so a fixed, printed password is fine. */
const OWNER = { email: 'dev@example.com', password: 'Faseeh-dev-1', firstName: 'Faseeh', lastName: 'Dev' };
/** Records which example files (by content hash) were imported, so edits made in the editor survive restarts. */
const IMPORTED_MARKER = 'imported-examples.json';

const secret = process.env.FASEEH_API_KEY?.trim() || undefined;

function log(line: string): void {
	console.log(redact(`[dev] ${line}`, secret));
}

/** Thrown between startup steps when Ctrl-C arrived, to skip to the cleanup. */
class StopRequested extends Error {}

let stopRequested = false;
/** Resolves on Ctrl-C / SIGTERM, or when n8n exits by itself. */
let wakeUp: (reason: string) => void = () => undefined;
const stopped = new Promise<string>((resolve) => {
	wakeUp = resolve;
});

function onSignal(signal: NodeJS.Signals): void {
	if (stopRequested) {
		// A second Ctrl-C: the user does not want to wait for a clean stop.
		console.log('[dev] second signal: exiting now (n8n may still be stopping)');
		process.exit(130);
	}
	stopRequested = true;
	console.log(`\n[dev] ${signal} received, stopping...`);
	wakeUp(signal);
}

function checkStop(): void {
	if (stopRequested) throw new StopRequested('stopped before startup finished');
}

/**
 * Imports the examples that are new or changed in examples/ since the last run. An example
 * already imported unchanged is left alone, so edits made to it in the editor are kept.
 */
async function importChangedExamples(rt: Awaited<ReturnType<typeof ensureRuntime>>, userFolder: string): Promise<void> {
	const markerFile = path.join(userFolder, IMPORTED_MARKER);
	let imported: Record<string, string> = {};
	try {
		imported = JSON.parse(fs.readFileSync(markerFile, 'utf8')) as Record<string, string>;
	} catch {
		// first run
	}
	const filesDir = path.join(userFolder, 'files');
	const hashes = Object.fromEntries(
		EXAMPLE_FILES.map((file) => [file, createHash('sha256').update(fs.readFileSync(path.join(EXAMPLES_DIR, file))).digest('hex')]),
	);
	const toImport = EXAMPLE_FILES.filter((file) => imported[file] !== hashes[file]);
	const kept = EXAMPLE_FILES.filter((file) => !toImport.includes(file));
	if (toImport.length > 0) {
		const started = Date.now();
		await importWorkflow(rt, userFolder, toImport.map((file) => loadExample(file, filesDir)));
		for (const file of toImport) imported[file] = hashes[file];
		fs.writeFileSync(markerFile, JSON.stringify(imported, null, 2));
		log(`imported example workflows (new or changed in examples/): ${toImport.join(', ')} (${seconds(started)})`);
	}
	if (kept.length > 0) log(`kept example workflows already imported (your edits stay): ${kept.join(', ')}`);
}

async function main(): Promise<number> {
	process.on('SIGINT', onSignal);
	process.on('SIGTERM', onSignal);
	const started = Date.now();
	let target: FaseehTarget | undefined;
	let server: N8nServer | undefined;
	let watcher: NodeJS.Timeout | undefined;
	try {
		if (process.env.FASEEH_API_KEY?.trim()) {
			// First, so a wrong FASEEH_BASE_URL fails in seconds, not after the build and the runtime.
			const probe = await startFaseehTarget();
			await checkReachable(probe.baseUrl);
		}
		await buildPackage(log);
		checkStop();
		const rt = await ensureRuntime({ log: (line) => log(`runtime: ${line}`) });
		checkStop();

		const reset = process.argv.includes('--reset');
		const userFolder = prepareFixedUserFolder(path.join(toolCacheDir(), 'dev-user'), reset);
		log(`${reset ? 'fresh' : 'persistent'} dev user folder: ${userFolder}`);
		// The clone-and-speak example reads this file; keep any recording the user put there.
		const recording = path.join(userFolder, 'files', 'recording.wav');
		if (!fs.existsSync(recording)) fs.writeFileSync(recording, syntheticRecording());

		const installStarted = Date.now();
		await installPackage(userFolder, REPO);
		log(`installed the freshly built package into n8n (${seconds(installStarted)})`);
		checkStop();

		target = await startFaseehTarget({
			sandboxPort: SANDBOX_PORT,
			longRunning: true,
			onSandboxRequest: (request) => {
				const outcome = request.status !== undefined ? String(request.status) : 'aborted';
				console.log(`[sandbox] ${request.method} ${request.path} ${outcome} ${request.durationMs ?? 0}ms`);
			},
		});
		if (target.portFallbackFrom) log(`port ${target.portFallbackFrom} is busy: the sandbox uses ${target.baseUrl} instead`);

		// Always re-imported (same id): it must point at this run's sandbox port or the real API.
		await importFaseehCredential(rt, userFolder, target);
		await importChangedExamples(rt, userFolder);
		checkStop();

		const wantedPort = Number(process.env.FASEEH_DEV_PORT || DEFAULT_N8N_PORT);
		let port = wantedPort;
		if (!(await portIsFree(port))) {
			port = await findFreePort();
			log(`port ${wantedPort} is busy: n8n uses port ${port} instead`);
		}
		// One log per run (startN8nServer appends).
		fs.writeFileSync(path.join(userFolder, 'n8n-server.log'), '');
		log(`starting n8n on port ${port} ...`);
		const serverStarted = Date.now();
		server = await startN8nServer(rt, userFolder, {
			port,
			timeoutMs: 240_000,
			// The owner comes from env vars (re-applied on every start), so the password below always works.
			env: { ...(await ownerEnv(rt, OWNER)), N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' },
		});
		// Prove the printed login works before telling the user to use it.
		await login(server.url, OWNER.email, OWNER.password);
		log(`n8n is up (${seconds(serverStarted)}; ${seconds(started)} in all)`);
		checkStop();

		const runningServer = server;
		console.log('');
		console.log(`  n8n editor:  ${runningServer.url}`);
		console.log(`  sign in:     ${OWNER.email} / ${OWNER.password}`);
		console.log(
			!target.real
				? `  Faseeh API:  sandbox at ${target.baseUrl} (requests are logged below as [sandbox] lines)`
				: target.local
					? `  Faseeh API:  ${target.baseUrl} (your FASEEH_API_KEY; a server on this machine)`
					: `  Faseeh API:  ${target.baseUrl} (your FASEEH_API_KEY; calls spend wallet balance)`,
		);
		console.log('  workflows:   the examples, e.g. "Faseeh: clone a voice from a recording and speak with it"');
		console.log('               (the AI Agent example also needs an OpenAI credential of your own)');
		console.log(`  files:       ${path.join(userFolder, 'files')} (recording.wav is read, first-words.wav written)`);
		console.log(`  n8n log:     ${runningServer.logFile}`);
		console.log('  stop:        Ctrl-C');
		console.log('');

		// If n8n dies by itself, say so instead of sitting there.
		watcher = setInterval(() => {
			try {
				process.kill(runningServer.pid, 0);
			} catch {
				wakeUp('n8n exited');
			}
		}, 2000);
		const reason = await stopped;
		if (reason === 'n8n exited') {
			console.error(`[dev] n8n exited unexpectedly; see ${runningServer.logFile}`);
			return 1;
		}
		return 0;
	} catch (err) {
		if (err instanceof StopRequested) return 130;
		throw err;
	} finally {
		if (watcher) clearInterval(watcher);
		if (server) {
			await server.stop();
			log('n8n stopped');
		}
		if (target) {
			await target.stop();
			if (target.sandbox) log('sandbox stopped');
		}
	}
}

main().then(
	(code) => process.exit(code),
	(err: unknown) => {
		const message = err instanceof Error ? err.message : String(err);
		console.error(redact(`\n[dev] FAILED: ${message}`, secret));
		process.exit(1);
	},
);
