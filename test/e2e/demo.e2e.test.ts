/**
 * `npm run demo` as a user runs it, with FASEEH_API_KEY set to a distinctive key and
 * FASEEH_BASE_URL pointing at a local sandbox that accepts only that key: the demo must succeed,
 * say that no real account is used, and leave the key nowhere on disk (not in the cache folder
 * with n8n's user folder, database and logs, not in the repo). And with an unreachable
 * FASEEH_BASE_URL it must fail fast, naming the host and port it tried.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { findFreePort } from '../../scripts/lib/n8n';
import { ensureRuntime, runtimeCacheDir } from '../../scripts/lib/runtime';
import { FaseehSandbox } from '../sandbox/FaseehSandbox';

const REPO = path.resolve(__dirname, '..', '..');
const KEY = `fsh-leak-probe-${randomBytes(12).toString('hex')}`;

let cacheHome: string;
let runtimeDir: string;

interface DemoRun {
	code: number | null;
	output: string;
}

/** `npm run demo` (the same command line), its cache folder redirected to a temp folder. */
function runDemo(env: Record<string, string>): Promise<DemoRun> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'scripts/demo.ts'], {
			cwd: REPO,
			env: {
				...process.env,
				XDG_CACHE_HOME: cacheHome,
				// The 2.8 GB runtime stays where it is; everything else the demo writes goes to cacheHome.
				FASEEH_N8N_RUNTIME_DIR: runtimeDir,
				FASEEH_DEMO_RECORDING: '',
				...env,
			},
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let output = '';
		child.stdout.on('data', (c: Buffer) => (output += c.toString()));
		child.stderr.on('data', (c: Buffer) => (output += c.toString()));
		child.on('error', reject);
		child.on('close', (code) => resolve({ code, output }));
	});
}

/** Every regular file under `dir` (symlinks not followed), skipping folder names in `skip`. */
function filesUnder(dir: string, skip: string[] = []): string[] {
	const out: string[] = [];
	for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
		const full = path.join(dir, entry.name);
		if (entry.isDirectory()) {
			if (!skip.includes(entry.name)) out.push(...filesUnder(full, skip));
		} else if (entry.isFile()) {
			out.push(full);
		}
	}
	return out;
}

/** The files whose bytes contain `needle`. */
function filesContaining(files: string[], needle: string): string[] {
	const bytes = Buffer.from(needle, 'utf8');
	return files.filter((file) => fs.readFileSync(file).includes(bytes));
}

beforeAll(async () => {
	await ensureRuntime();
	runtimeDir = runtimeCacheDir();
	cacheHome = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-demo-cache-'));
}, 30 * 60_000);

afterAll(() => {
	if (cacheHome) fs.rmSync(cacheHome, { recursive: true, force: true });
});

test('with a key and a loopback FASEEH_BASE_URL: succeeds, spends no wallet, leaves the key nowhere on disk', async () => {
	const sandbox = new FaseehSandbox({ apiKey: KEY });
	const baseUrl = await sandbox.start();
	let run: DemoRun;
	try {
		run = await runDemo({ FASEEH_API_KEY: KEY, FASEEH_BASE_URL: baseUrl });
	} finally {
		await sandbox.stop();
	}
	if (run.code !== 0) throw new Error(`the demo failed (exit ${run.code}):\n${run.output.slice(-3000)}`);
	// It really talked to this sandbox with the key (a 401 would have failed the run).
	expect(sandbox.requests.filter((r) => r.path.endsWith('/voices/clone') && r.status === 200)).toHaveLength(1);

	expect(run.output).toContain(`Faseeh API: ${baseUrl} with your FASEEH_API_KEY (a server on this machine`);
	expect(run.output).not.toMatch(/wallet/i);
	expect(run.output).not.toContain('may refuse it or clone a tone');
	expect(run.output).not.toContain('n8n printed the API key');
	expect(run.output).not.toContain(KEY);

	const demoUser = path.join(cacheHome, 'n8n-nodes-faseeh', 'demo-user');
	const cacheFiles = filesUnder(cacheHome);
	// The search covers what n8n wrote: its database, its logs and the demo's logs.
	expect(cacheFiles).toEqual(
		expect.arrayContaining([
			path.join(demoUser, '.n8n', 'database.sqlite'),
			path.join(demoUser, 'logs', 'n8n-import.log'),
			path.join(demoUser, 'logs', 'n8n-execute.log'),
		]),
	);
	expect(filesContaining(cacheFiles, KEY)).toEqual([]);
	expect(filesContaining(filesUnder(REPO, ['node_modules', '.git']), KEY)).toEqual([]);
	expect(fs.statSync(demoUser).mode & 0o777).toBe(0o700);
}, 10 * 60_000);

test('with an unreachable FASEEH_BASE_URL: fails in seconds, naming the host and port it tried', async () => {
	const port = await findFreePort(); // nothing listens there
	const run = await runDemo({ FASEEH_API_KEY: KEY, FASEEH_BASE_URL: `http://127.0.0.1:${port}/api/v1` });
	expect(run.code).toBe(1);
	expect(run.output).toContain(`cannot reach the Faseeh API at 127.0.0.1:${port}`);
	expect(run.output).toContain('ECONNREFUSED');
	expect(run.output).not.toContain('building the package');
	expect(run.output).not.toContain(KEY);
	// "In seconds" is the path, not a clock: refused at once (ECONNREFUSED), before any build.
}, 5 * 60_000);
