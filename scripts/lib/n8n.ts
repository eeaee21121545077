/**
 * Helpers to drive a real n8n (from ./runtime) in isolation: a temp user folder per test,
 * the community package installed the way n8n installs it, CLI import/execute, and the
 * server (`n8n start`) for manual runs or HTTP tests.
 *
 * One user folder = one SQLite database: run CLI commands against the same folder one at
 * a time (separate folders can run in parallel; each n8n gets its own free ports).
 */
import { spawn, ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

import { runtimePathEnv, type Runtime } from './runtime';

export type Env = Record<string, string | undefined>;

export interface RunResult {
	exitCode: number;
	stdout: string;
	stderr: string;
	durationMs: number;
}

export interface ExecuteResult extends RunResult {
	/** `data.resultData.runData` of the execution: node name -> task runs. */
	runData?: Record<string, unknown[]>;
	/** The whole execution object n8n printed (`{ data: { resultData, ... }, status, ... }`). */
	run?: Record<string, unknown>;
	/** `data.resultData.error.message` when the workflow failed. */
	errorMessage?: string;
}

// --- User folder and package install --------------------------------------------------

/** A fresh temp folder to use as N8N_USER_FOLDER (n8n keeps its data in `<it>/.n8n`). */
export async function createUserFolder(prefix = 'faseeh-n8n-'): Promise<string> {
	const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix));
	// n8n stores an encryption key in .n8n/config on first run; pin ours per folder so every
	// CLI call and server start on this folder agrees (a mismatch makes n8n refuse to start).
	await fs.promises.writeFile(path.join(dir, 'encryption-key'), randomBytes(24).toString('hex'));
	// Default sandbox for the Read/Write Files from Disk node (see n8nEnv).
	await fs.promises.mkdir(path.join(dir, 'files'), { recursive: true });
	return dir;
}

export async function removeUserFolder(userFolder: string): Promise<void> {
	await fs.promises.rm(userFolder, { recursive: true, force: true, maxRetries: 3 });
}

/** Where n8n looks for installed community packages. */
export function communityNodesDir(userFolder: string): string {
	return path.join(userFolder, '.n8n', 'nodes');
}

/**
 * Installs the package in `packageDir` as n8n 2.41.1 installs a community package
 * (CommunityPackagesService.downloadPackage): `npm pack` -> untar into
 * `<userFolder>/.n8n/nodes/node_modules/<name>` -> drop dev/peer/optional deps from its
 * package.json -> `npm install --ignore-scripts ...` inside it -> record it in
 * `.n8n/nodes/package.json`. Peer deps (n8n-workflow) then resolve from n8n itself.
 * Returns the installed package folder.
 */
export async function installPackage(userFolder: string, packageDir: string): Promise<string> {
	const packTmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'faseeh-pack-'));
	try {
		// --json gives the tarball name and package name without parsing human output.
		const packed = await run('npm', ['pack', '--json', '--pack-destination', packTmp], {
			cwd: packageDir,
		});
		const info = JSON.parse(extractJsonText(packed.stdout, '[')) as Array<{
			name: string;
			version: string;
			filename: string;
		}>;
		const { name, filename } = info[0];
		const tarball = path.join(packTmp, path.basename(filename));

		const nodesDir = communityNodesDir(userFolder);
		const dest = path.join(nodesDir, 'node_modules', name);
		await fs.promises.rm(dest, { recursive: true, force: true });
		await fs.promises.mkdir(dest, { recursive: true });
		// npm tarballs have everything under `package/`.
		await run('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1']);

		const pkgJsonPath = path.join(dest, 'package.json');
		const pkg = JSON.parse(await fs.promises.readFile(pkgJsonPath, 'utf8'));
		const { devDependencies, peerDependencies, optionalDependencies, ...kept } = pkg;
		void devDependencies;
		void peerDependencies;
		void optionalDependencies;
		await fs.promises.writeFile(pkgJsonPath, JSON.stringify(kept, null, 2));
		await run(
			'npm',
			[
				'install',
				'--audit=false',
				'--fund=false',
				'--bin-links=false',
				'--install-strategy=shallow',
				'--ignore-scripts=true',
				'--package-lock=false',
			],
			{ cwd: dest },
		);

		// n8n's ledger of installed packages (it rebuilds it if missing; we keep it accurate).
		const ledgerPath = path.join(nodesDir, 'package.json');
		let ledger: { name: string; private: boolean; dependencies: Record<string, string> } = {
			name: 'installed-nodes',
			private: true,
			dependencies: {},
		};
		try {
			ledger = { ...ledger, ...JSON.parse(await fs.promises.readFile(ledgerPath, 'utf8')) };
		} catch {
			// first package
		}
		ledger.dependencies = { ...ledger.dependencies, [name]: kept.version };
		await fs.promises.writeFile(ledgerPath, JSON.stringify(ledger, null, 2));
		return dest;
	} finally {
		await fs.promises.rm(packTmp, { recursive: true, force: true });
	}
}

// --- Environment ----------------------------------------------------------------------

/** A free TCP port on 127.0.0.1 (bind to port 0 and let the OS choose). */
export function findFreePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.unref();
		srv.on('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address() as net.AddressInfo;
			srv.close(() => resolve(port));
		});
	});
}

/**
 * Environment for an isolated n8n on `userFolder`. Inherited N8N_*, DB_*, NODE_OPTIONS,
 * NODE_ENV and JEST_* are dropped so the caller's shell (or jest/ts-node) cannot leak
 * settings into the test instance. `extra` wins over the defaults (pass `undefined` to unset one).
 */
export async function n8nEnv(
	userFolder: string,
	extra: Env = {},
	rt?: Pick<Runtime, 'nodeDir'> & Partial<Pick<Runtime, 'n8nMajor'>>,
): Promise<NodeJS.ProcessEnv> {
	const base: NodeJS.ProcessEnv = {};
	for (const [k, v] of Object.entries(process.env)) {
		// NODE_ENV/JEST_*: Jest sets NODE_ENV=test, which silences n8n's CLI output.
		if (/^(N8N_|DB_|QUEUE_|EXECUTIONS_|GENERIC_|WEBHOOK_URL$|NODE_OPTIONS$|NODES_|NODE_ENV$|JEST_)/.test(k)) continue;
		base[k] = v;
	}
	const keyFile = path.join(userFolder, 'encryption-key');
	if (!fs.existsSync(keyFile)) fs.writeFileSync(keyFile, randomBytes(24).toString('hex'));

	const env: NodeJS.ProcessEnv = {
		...(rt ? runtimePathEnv(rt, base) : base),
		// All n8n state (SQLite db, config, binary data, community nodes) under this folder.
		N8N_USER_FOLDER: userFolder,
		N8N_ENCRYPTION_KEY: fs.readFileSync(keyFile, 'utf8').trim(),
		// Task runner broker (Code node); default 5679 collides between parallel n8n processes.
		N8N_RUNNERS_BROKER_PORT: String(await findFreePort()),
		N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
		// HTTP port; only `n8n start` listens on it, but keep it unique anyway.
		N8N_PORT: String(await findFreePort()),
		N8N_HOST: '127.0.0.1',
		N8N_LISTEN_ADDRESS: '127.0.0.1',
		N8N_PROTOCOL: 'http',
		// Read/Write Files from Disk may only touch these folders (';'-separated); n8n's
		// default is ~/.n8n-files, outside our sandbox.
		N8N_RESTRICT_FILE_ACCESS_TO: path.join(userFolder, 'files'),
		// No calls to n8n's cloud services (the network only reaches the npm registry, and
		// these would add timeouts and noise).
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_HIRING_BANNER_ENABLED: 'false',
		// Its startup task fetches api.n8n.io and logs a stack trace when that fails. n8n 1.x has no
		// such module and refuses to start on an unknown name.
		...(rt?.n8nMajor === 1 ? {} : { N8N_DISABLED_MODULES: 'mcp-registry' }),
		// Plain http on localhost: the auth cookie must not be Secure or the browser drops it.
		N8N_SECURE_COOKIE: 'false',
		// info: import success lines and a failed execution's JSON are logged at this level.
		N8N_LOG_LEVEL: 'info',
	};
	for (const [k, v] of Object.entries(extra)) {
		if (v === undefined) delete env[k];
		else env[k] = v;
	}
	return env;
}

// --- CLI ------------------------------------------------------------------------------

/** Runs `n8n <args>` with Node 24 on `userFolder`. Never throws on a non-zero exit. */
export async function runN8n(
	rt: Runtime,
	userFolder: string,
	args: string[],
	opts: { env?: Env; timeoutMs?: number } = {},
): Promise<RunResult> {
	const env = await n8nEnv(userFolder, opts.env, rt);
	return runCapture(rt.nodeBin, [rt.n8nBin, ...args], { env, timeoutMs: opts.timeoutMs ?? 180_000 });
}

export interface CredentialImport {
	id: string;
	name: string;
	type: string;
	/** Plain-text credential fields; n8n encrypts them on import. */
	data: Record<string, unknown>;
}

export async function importCredentials(
	rt: Runtime,
	userFolder: string,
	creds: CredentialImport[],
): Promise<RunResult> {
	// The file holds the API key in plain text: private, and gone as soon as n8n has read it.
	const res = await withImportFile(userFolder, 'credentials', creds, (file) =>
		// info level: the success line is how we confirm the import did something.
		runN8n(rt, userFolder, ['import:credentials', `--input=${file}`], { env: { N8N_LOG_LEVEL: 'info' } }),
	);
	assertImported(res, 'credential', creds.length);
	return res;
}

/** Imports one workflow (or an array). Each needs an `id` (<= 21 chars) to execute it later. */
export async function importWorkflow(
	rt: Runtime,
	userFolder: string,
	workflowJson: Record<string, unknown> | Array<Record<string, unknown>>,
): Promise<RunResult> {
	const workflows = Array.isArray(workflowJson) ? workflowJson : [workflowJson];
	for (const wf of workflows) {
		if (typeof wf.id !== 'string' || wf.id.length === 0 || wf.id.length > 21) {
			throw new Error(`workflow "${String(wf.name)}" needs a string id of 1-21 chars, got ${JSON.stringify(wf.id)}`);
		}
	}
	const res = await withImportFile(userFolder, 'workflows', workflows, (file) =>
		runN8n(rt, userFolder, ['import:workflow', `--input=${file}`], { env: { N8N_LOG_LEVEL: 'info' } }),
	);
	assertImported(res, 'workflow', workflows.length);
	return res;
}

/**
 * Activates (2.x: publishes) a workflow so its triggers run under `n8n start`: `publish:workflow`
 * in n8n 2.x, `update:workflow --active=true` in 1.x (which has no publish command).
 */
export async function activateWorkflow(rt: Runtime, userFolder: string, id: string): Promise<RunResult> {
	const args =
		rt.n8nMajor === 1 ? ['update:workflow', `--id=${id}`, '--active=true'] : ['publish:workflow', `--id=${id}`];
	return await runN8n(rt, userFolder, args);
}

/**
 * `n8n execute --id <id> --rawOutput`. On success n8n prints the execution as pretty JSON,
 * possibly after log lines; on failure it logs the same JSON at info level and exits 1.
 */
export async function executeWorkflow(
	rt: Runtime,
	userFolder: string,
	id: string,
	env: Env = {},
	timeoutMs = 300_000,
): Promise<ExecuteResult> {
	const res = await runN8n(rt, userFolder, ['execute', `--id=${id}`, '--rawOutput'], { env, timeoutMs });
	const run = findExecutionJson(res.stdout) ?? findExecutionJson(res.stderr);
	const data = (run?.data ?? {}) as { resultData?: { runData?: Record<string, unknown[]>; error?: { message?: string } } };
	return {
		...res,
		run,
		runData: data.resultData?.runData,
		errorMessage: data.resultData?.error?.message,
	};
}

/** Items (`json` + `binary`) a node emitted on `output` in its last run, from a runData. */
export function nodeOutputItems(
	runData: Record<string, unknown[]> | undefined,
	nodeName: string,
	output = 0,
): Array<{ json: Record<string, unknown>; binary?: Record<string, Record<string, unknown>> }> {
	const runs = runData?.[nodeName] as Array<{ data?: { main?: unknown[][] } }> | undefined;
	const last = runs?.[runs.length - 1];
	return (last?.data?.main?.[output] ?? []) as ReturnType<typeof nodeOutputItems>;
}

type OutputItem = ReturnType<typeof nodeOutputItems>[number];

/**
 * Why `result` is not a successful execution with run data, or undefined when it is: the exit
 * code, no execution JSON in what n8n printed (with the tail of it), or the execution's error
 * and the node it came from. Tests assert it is undefined, so a failure shows the cause.
 */
export function executionProblem(result: ExecuteResult): string | undefined {
	if (!result.run) {
		return `n8n printed no execution JSON (exit code ${result.exitCode}, stdout ${result.stdout.length} bytes, stderr ${result.stderr.length} bytes); last lines:\n${tailText(`${result.stdout}\n${result.stderr}`, 30)}`;
	}
	const resultData = (result.run.data as { resultData?: { error?: { message?: string; description?: string; node?: { name?: string } }; lastNodeExecuted?: string } }).resultData;
	const error = resultData?.error;
	if (error) {
		const where = error.node?.name ?? resultData?.lastNodeExecuted;
		return `the execution failed${where ? ` at node "${where}"` : ''}: ${error.message ?? '(no message)'}${error.description ? ` (${error.description})` : ''} [exit code ${result.exitCode}]`;
	}
	if (result.exitCode !== 0) return `n8n exited with code ${result.exitCode} after an execution without error; last lines:\n${tailText(result.stderr, 30)}`;
	return undefined;
}

/**
 * Item `index` of what `nodeName` emitted on `output`; when there is none, throws an error that
 * says why (the execution's error, the nodes that ran and each one's error) instead of letting a
 * test read `.json` of undefined.
 */
export function outputItem(result: ExecuteResult, nodeName: string, index = 0, output = 0): OutputItem {
	const item = nodeOutputItems(result.runData, nodeName, output)[index];
	if (item) return item;
	const ran = Object.entries(result.runData ?? {}).map(([name, runs]) => {
		const last = (runs as Array<{ error?: { message?: string }; data?: { main?: unknown[][] } }>)[runs.length - 1];
		const count = last?.data?.main?.[output]?.length ?? 0;
		return `${name} (${last?.error ? `error: ${last.error.message}` : `${count} item${count === 1 ? '' : 's'}`})`;
	});
	throw new Error(
		`node "${nodeName}" has no output item ${index} in this execution: ${executionProblem(result) ?? 'the execution succeeded'}; nodes with run data: ${ran.length > 0 ? ran.join(', ') : 'none'}`,
	);
}

// --- Server ---------------------------------------------------------------------------

export interface N8nServer {
	url: string;
	port: number;
	pid: number;
	logFile: string;
	stop(): Promise<void>;
}

/**
 * `n8n start` in the background. Resolves once `GET /healthz` answers 200 and
 * `/healthz/readiness` (DB connected + migrated) too. Output goes to `<userFolder>/n8n-server.log`.
 */
export async function startN8nServer(
	rt: Runtime,
	userFolder: string,
	opts: { port?: number; env?: Env; timeoutMs?: number } = {},
): Promise<N8nServer> {
	const port = opts.port ?? (await findFreePort());
	const env = await n8nEnv(userFolder, { ...opts.env, N8N_PORT: String(port) }, rt);
	const logFile = path.join(userFolder, 'n8n-server.log');
	const out = fs.openSync(logFile, 'a');
	const child = spawn(rt.nodeBin, [rt.n8nBin, 'start'], {
		env,
		cwd: userFolder,
		stdio: ['ignore', out, out],
		// Own process group, so stop() reaches the task runner children too.
		detached: true,
	});
	fs.closeSync(out);
	let exited: number | null | undefined;
	const exitPromise = new Promise<void>((resolve) => {
		child.on('exit', (code, signal) => {
			exited = code ?? (signal ? 128 : 1);
			resolve();
		});
	});

	const url = `http://127.0.0.1:${port}`;
	const server: N8nServer = {
		url,
		port,
		pid: child.pid!,
		logFile,
		stop: () => stopProcessGroup(child, exitPromise, () => exited !== undefined),
	};

	const deadline = Date.now() + (opts.timeoutMs ?? 180_000);
	try {
		for (const probe of ['/healthz', '/healthz/readiness']) {
			for (;;) {
				if (exited !== undefined) {
					throw new Error(`n8n exited with code ${exited} before answering ${probe}`);
				}
				if (Date.now() > deadline) throw new Error(`n8n did not answer ${probe} in time`);
				if (await httpOk(`${url}${probe}`)) break;
				await sleep(300);
			}
		}
	} catch (err) {
		await server.stop();
		const logTail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
		throw new Error(`${(err as Error).message}\n--- last lines of ${logFile} ---\n${logTail}`);
	}
	return server;
}

async function stopProcessGroup(child: ChildProcess, exitPromise: Promise<void>, hasExited: () => boolean) {
	if (child.pid === undefined || hasExited()) return;
	const signalGroup = (sig: NodeJS.Signals) => {
		try {
			process.kill(-child.pid!, sig);
		} catch {
			// group already gone
		}
	};
	// SIGTERM lets n8n shut down gracefully (it stops its task runner and closes the DB).
	signalGroup('SIGTERM');
	let timer: NodeJS.Timeout | undefined;
	const graceful = await Promise.race([
		exitPromise.then(() => true),
		new Promise<boolean>((r) => {
			timer = setTimeout(() => r(false), 20_000);
		}),
	]);
	clearTimeout(timer); // or the timer alone keeps the caller's process alive for 20 s
	if (!graceful) {
		signalGroup('SIGKILL');
		await exitPromise;
	}
	// Any straggler in the group (e.g. a runner that ignored SIGTERM).
	signalGroup('SIGKILL');
}

// --- Owner account --------------------------------------------------------------------

export interface OwnerCredentials {
	email: string;
	/** 8-64 chars with at least one digit and one uppercase letter (n8n's password rules). */
	password: string;
	firstName?: string;
	lastName?: string;
}

/**
 * Claims the instance owner over REST (`POST /rest/owner/setup`, allowed without auth
 * until an owner exists), so the editor shows a sign-in page instead of the sign-up form.
 * Returns the session cookie; `created: false` if an owner was already set up.
 */
export async function setupOwner(
	url: string,
	owner: OwnerCredentials,
): Promise<{ created: boolean; cookie?: string; browserId: string }> {
	// n8n ties the session cookie to this header; reuse it with the cookie.
	const browserId = randomBytes(8).toString('hex');
	const res = await fetch(`${url}/rest/owner/setup`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', 'browser-id': browserId },
		body: JSON.stringify({
			email: owner.email,
			password: owner.password,
			firstName: owner.firstName ?? 'Dev',
			lastName: owner.lastName ?? 'Owner',
		}),
	});
	const text = await res.text();
	if (res.status === 400 && /already setup/i.test(text)) return { created: false, browserId };
	if (!res.ok) throw new Error(`POST /rest/owner/setup failed: HTTP ${res.status} ${text.slice(0, 500)}`);
	const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] || undefined;
	return { created: true, cookie, browserId };
}

/** Signs in over REST; returns the session cookie (throws on bad credentials). */
export async function login(
	url: string,
	email: string,
	password: string,
): Promise<{ cookie: string; browserId: string }> {
	const browserId = randomBytes(8).toString('hex');
	const res = await fetch(`${url}/rest/login`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', 'browser-id': browserId },
		body: JSON.stringify({ emailOrLdapLoginId: email, password }),
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`POST /rest/login failed: HTTP ${res.status} ${text.slice(0, 500)}`);
	const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
	return { cookie, browserId };
}

/**
 * Alternative with no HTTP call: env vars that make n8n create (and on every start,
 * overwrite) the owner itself (`N8N_INSTANCE_OWNER_MANAGED_BY_ENV`, n8n >= 2.x). n8n wants
 * a bcrypt hash, computed here with the bcryptjs that n8n itself ships.
 */
export async function ownerEnv(rt: Runtime, owner: OwnerCredentials): Promise<Env> {
	const hash = (
		await runCapture(
			rt.nodeBin,
			[
				'-e',
				'const b = require(require.resolve("bcryptjs", { paths: [process.argv[1]] })); process.stdout.write(b.hashSync(process.argv[2], 10));',
				rt.n8nDir,
				owner.password,
			],
			{ env: process.env, timeoutMs: 30_000 },
		)
	).stdout.trim();
	if (!/^\$2[aby]\$\d{2}\$/.test(hash)) throw new Error(`could not bcrypt the owner password: ${hash}`);
	return {
		N8N_INSTANCE_OWNER_MANAGED_BY_ENV: 'true',
		N8N_INSTANCE_OWNER_EMAIL: owner.email,
		N8N_INSTANCE_OWNER_PASSWORD_HASH: hash,
		N8N_INSTANCE_OWNER_FIRST_NAME: owner.firstName ?? 'Dev',
		N8N_INSTANCE_OWNER_LAST_NAME: owner.lastName ?? 'Owner',
	};
}

// --- Internals ------------------------------------------------------------------------

/**
 * Writes `content` to a file only this user can read (0600, in a fresh 0700 folder inside the
 * user folder), runs `use` on it, and removes file and folder afterwards, success or failure.
 */
async function withImportFile<T>(
	userFolder: string,
	kind: string,
	content: unknown,
	use: (file: string) => Promise<T>,
): Promise<T> {
	await fs.promises.mkdir(userFolder, { recursive: true });
	// mkdtemp creates the folder with mode 0700.
	const dir = await fs.promises.mkdtemp(path.join(userFolder, `import-${kind}-`));
	try {
		const file = path.join(dir, `${kind}.json`);
		await fs.promises.writeFile(file, JSON.stringify(content, null, 2), { mode: 0o600, flag: 'wx' });
		return await use(file);
	} finally {
		await fs.promises.rm(dir, { recursive: true, force: true });
	}
}

function assertImported(res: RunResult, what: string, count: number) {
	const all = `${res.stdout}\n${res.stderr}`;
	const m = all.match(new RegExp(`Successfully imported (\\d+) ${what}`));
	if (res.exitCode !== 0 || !m || Number(m[1]) !== count) {
		throw new Error(
			`n8n import of ${count} ${what}(s) failed (exit ${res.exitCode}, ${m ? `imported ${m[1]}` : 'no success line'}):\n${tailText(all, 60)}`,
		);
	}
}

/**
 * Finds the execution object in n8n's output: tries each `{` that starts a line, takes the
 * balanced JSON text from there (string-aware), and keeps the first that parses and has
 * `data.resultData`. Log lines before or after do not matter.
 */
export function findExecutionJson(text: string): Record<string, unknown> | undefined {
	const starts: number[] = [];
	for (let i = 0; i < text.length; i++) {
		if (text[i] === '{' && (i === 0 || text[i - 1] === '\n')) starts.push(i);
	}
	for (const start of starts) {
		const end = balancedEnd(text, start);
		if (end < 0) continue;
		try {
			const obj = JSON.parse(text.slice(start, end + 1));
			if (obj && typeof obj === 'object' && obj.data && typeof obj.data === 'object' && 'resultData' in obj.data) {
				return obj;
			}
		} catch {
			// not JSON (e.g. a log line starting with "{"); try the next candidate
		}
	}
	return undefined;
}

/** Index of the bracket closing the one at `start`, ignoring brackets inside strings; -1 if none. */
function balancedEnd(text: string, start: number): number {
	let depth = 0;
	let inString = false;
	for (let i = start; i < text.length; i++) {
		const c = text[i];
		if (inString) {
			if (c === '\\') i++;
			else if (c === '"') inString = false;
			continue;
		}
		if (c === '"') inString = true;
		else if (c === '{' || c === '[') depth++;
		else if (c === '}' || c === ']') {
			depth--;
			if (depth === 0) return i;
		}
	}
	return -1;
}

/** The JSON text starting at the first line beginning with `open` (for `npm pack --json`). */
function extractJsonText(text: string, open: '{' | '['): string {
	const m = text.match(new RegExp(`(^|\\n)\\${open}`));
	if (!m || m.index === undefined) throw new Error(`no JSON in output:\n${text}`);
	const start = m.index + m[1].length;
	const end = balancedEnd(text, start);
	return text.slice(start, end + 1);
}

async function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<RunResult> {
	const res = await runCapture(cmd, args, { cwd: opts.cwd, env: process.env, timeoutMs: 600_000 });
	if (res.exitCode !== 0) {
		throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.exitCode}) in ${opts.cwd ?? process.cwd()}:\n${tailText(`${res.stdout}\n${res.stderr}`, 40)}`);
	}
	return res;
}

/**
 * Runs a command and collects its output. Own process group, so a timeout also kills what
 * it spawned (n8n's task runner). Rejects only if the command cannot be started.
 *
 * Output goes to files, not pipes: n8n's CLI prints an execution as one large JSON write and
 * calls process.exit() about 100 ms later, and Node writes to a pipe asynchronously, so what
 * the reader had not drained by then was lost. A busy test process got the first ~220 KB of a
 * 5 MB execution (n8n 1.x's in-memory binary mode) and no run data; writes to a file are
 * synchronous, so nothing is lost at exit.
 */
export function runCapture(
	file: string,
	args: string[],
	opts: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number },
): Promise<RunResult> {
	const start = Date.now();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-run-'));
	const outFile = path.join(dir, 'stdout');
	const errFile = path.join(dir, 'stderr');
	const outFd = fs.openSync(outFile, 'w');
	const errFd = fs.openSync(errFile, 'w');
	const collect = () => {
		const read = (name: string) => (fs.existsSync(name) ? fs.readFileSync(name, 'utf8') : '');
		const output = { stdout: read(outFile), stderr: read(errFile) };
		fs.rmSync(dir, { recursive: true, force: true });
		return output;
	};
	return new Promise((resolve, reject) => {
		let child: ChildProcess;
		try {
			child = spawn(file, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', outFd, errFd], detached: true });
		} finally {
			// The child has its own copies; ours would keep the files open.
			fs.closeSync(outFd);
			fs.closeSync(errFd);
		}
		let timedOut = false;
		let settled = false;
		const timer = setTimeout(() => {
			timedOut = true;
			try {
				process.kill(-child.pid!, 'SIGKILL');
			} catch {
				// already gone
			}
		}, opts.timeoutMs);
		child.on('error', (e) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			collect();
			reject(e);
		});
		// 'exit' is enough: a file holds everything the process wrote before it ended.
		child.on('exit', (code, signal) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			const { stdout, stderr } = collect();
			resolve({
				exitCode: timedOut ? 124 : (code ?? (signal ? 128 : 1)),
				stdout,
				stderr: stderr + (timedOut ? `\n[killed after ${opts.timeoutMs} ms timeout]` : ''),
				durationMs: Date.now() - start,
			});
		});
	});
}

/** True when a GET answers 2xx within 3 s. */
export async function httpOk(url: string): Promise<boolean> {
	try {
		const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
		await res.arrayBuffer();
		return res.ok;
	} catch {
		return false;
	}
}

function tailText(text: string, lines: number): string {
	return text.split('\n').slice(-lines).join('\n');
}

export function sleep(ms: number): Promise<void> {
	return new Promise((r) => setTimeout(r, ms));
}
