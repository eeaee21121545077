/**
 * n8n in the shapes users run it for triggered pipelines, on one machine, for tests and benchmarks:
 *
 * - regular mode: one `n8n start` (SQLite) serving production webhooks;
 * - queue mode: Redis + Postgres (Debian's `redis-server` and `postgresql`, installed with apt-get
 *   when missing) on loopback ports with throwaway data folders, one main process (`n8n start`,
 *   `EXECUTIONS_MODE=queue`, it takes the webhooks) and N workers (`n8n worker`).
 *
 * Every process runs in its own process group and is registered here, so `stop()`, and as a last
 * resort this process's `exit`, end the whole group. Data folders are removed on stop.
 *
 * Facts this relies on (n8n 2.41.1, read from its sources):
 * - a worker's host id is `worker-<os.hostname()>` when n8n thinks it runs in a container
 *   (/.dockerenv exists), so two workers on one machine collide: each worker gets a Node preload
 *   that gives `os.hostname()` its own name (as separate machines would have);
 * - `N8N_CONCURRENCY_PRODUCTION_LIMIT` other than -1 overrides `n8n worker --concurrency`;
 * - each n8n process needs its own task-runner broker port, health port and event-log file;
 * - one user folder per process (sharing N8N_ENCRYPTION_KEY): a shared one costs ~10 s per extra
 *   process at start (its crash journal);
 * - binary data mode `filesystem` only works when all processes share one disk: use `database`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import {
	communityNodesDir,
	createUserFolder,
	findFreePort,
	httpOk,
	installPackage,
	n8nEnv,
	removeUserFolder,
	runN8n,
	sleep,
} from './n8n';
import type { CredentialImport, Env, RunResult } from './n8n';
import type { Runtime } from './runtime';

export type Log = (line: string) => void;

const defaultLog: Log = (line) => process.stderr.write(`[queue] ${line}\n`);

// --- Processes ------------------------------------------------------------------------------

export interface ManagedProcess {
	name: string;
	pid: number;
	logFile: string;
	hasExited(): boolean;
	/** Resolves with the exit code (128 + n for a signal) once the process has exited. */
	exited: Promise<number>;
	/** Ends the process group: `signal` first, SIGKILL after `graceMs`. */
	stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Process groups started here and still running: killed when this process exits. */
const liveGroups = new Set<number>();
process.once('exit', () => {
	for (const pid of liveGroups) {
		try {
			process.kill(-pid, 'SIGKILL');
		} catch {
			// already gone
		}
	}
});

/** Kills every process group this module started (for a Ctrl-C handler). */
export function killAllStarted(): void {
	for (const pid of liveGroups) {
		try {
			process.kill(-pid, 'SIGKILL');
		} catch {
			// already gone
		}
	}
	liveGroups.clear();
}

/** Starts `file args` in its own process group, stdout and stderr appended to `logFile`. */
export function startProcess(
	name: string,
	file: string,
	args: string[],
	opts: { env: NodeJS.ProcessEnv; cwd: string; logFile: string; uid?: number; gid?: number },
): ManagedProcess {
	const out = fs.openSync(opts.logFile, 'a');
	let child: ChildProcess;
	try {
		child = spawn(file, args, {
			env: opts.env,
			cwd: opts.cwd,
			stdio: ['ignore', out, out],
			detached: true,
			uid: opts.uid,
			gid: opts.gid,
		});
	} finally {
		fs.closeSync(out);
	}
	const pid = child.pid;
	if (pid === undefined) throw new Error(`${name}: could not start ${file}`);
	liveGroups.add(pid);
	let exitCode: number | undefined;
	const exited = new Promise<number>((resolve) => {
		child.on('exit', (code, signal) => {
			exitCode = code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1);
			resolve(exitCode);
		});
		child.on('error', () => {
			exitCode = exitCode ?? 127;
			resolve(exitCode);
		});
	});
	const signalGroup = (signal: NodeJS.Signals) => {
		try {
			process.kill(-pid, signal);
		} catch {
			// group already gone
		}
	};
	return {
		name,
		pid,
		logFile: opts.logFile,
		hasExited: () => exitCode !== undefined,
		exited,
		stop: async (signal = 'SIGTERM', graceMs = 20_000) => {
			if (exitCode === undefined) {
				signalGroup(signal);
				let timer: NodeJS.Timeout | undefined;
				const graceful = await Promise.race([
					exited.then(() => true),
					new Promise<boolean>((resolve) => {
						timer = setTimeout(() => resolve(false), graceMs);
					}),
				]);
				clearTimeout(timer);
				if (!graceful) {
					signalGroup('SIGKILL');
					await exited;
				}
			}
			// Stragglers of the group (a task runner, a postgres backend).
			signalGroup('SIGKILL');
			liveGroups.delete(pid);
		},
	};
}

/** Polls `ready` until it is true; throws if the process exits first or `timeoutMs` passes. */
export async function waitUntil(
	what: string,
	ready: () => Promise<boolean>,
	opts: { timeoutMs: number; process?: ManagedProcess; intervalMs?: number },
): Promise<void> {
	const deadline = Date.now() + opts.timeoutMs;
	for (;;) {
		if (opts.process?.hasExited()) {
			throw new Error(`${opts.process.name} exited (code ${await opts.process.exited}) before ${what}\n${logTail(opts.process.logFile)}`);
		}
		if (await ready()) return;
		if (Date.now() > deadline) {
			throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${opts.process ? `\n${logTail(opts.process.logFile)}` : ''}`);
		}
		await sleep(opts.intervalMs ?? 250);
	}
}

export function logTail(file: string, lines = 40): string {
	try {
		const text = fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
		return `--- last lines of ${file} ---\n${text}`;
	} catch {
		return `(no log at ${file})`;
	}
}

// --- Debian packages ----------------------------------------------------------------------------

export interface QueueTools {
	redisServer: string;
	/** Folder with initdb, postgres, pg_isready, createdb, psql. */
	postgresBin: string;
}

/** redis-server on PATH or in the usual places. */
function findRedisServer(): string | undefined {
	const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
	for (const dir of dirs) {
		const candidate = path.join(dir, 'redis-server');
		if (dir && isExecutable(candidate)) return candidate;
	}
	return undefined;
}

/** The newest /usr/lib/postgresql/<version>/bin with the tools we need (Debian's layout). */
function findPostgresBin(): string | undefined {
	const root = '/usr/lib/postgresql';
	let versions: string[] = [];
	try {
		versions = fs.readdirSync(root).filter((name) => /^\d+$/.test(name));
	} catch {
		return undefined;
	}
	versions.sort((a, b) => Number(b) - Number(a));
	for (const version of versions) {
		const bin = path.join(root, version, 'bin');
		if (['initdb', 'postgres', 'pg_isready', 'createdb', 'psql'].every((tool) => isExecutable(path.join(bin, tool)))) return bin;
	}
	return undefined;
}

function isExecutable(file: string): boolean {
	try {
		fs.accessSync(file, fs.constants.X_OK);
		return fs.statSync(file).isFile();
	} catch {
		return false;
	}
}

/**
 * Redis and Postgres from Debian, installed with apt-get when missing (idempotent: nothing is
 * run when both are there). apt-get's output is streamed through `log` as progress.
 */
export async function ensureQueueTools(log: Log = defaultLog): Promise<QueueTools> {
	let redisServer = findRedisServer();
	let postgresBin = findPostgresBin();
	const missing = [...(redisServer ? [] : ['redis-server']), ...(postgresBin ? [] : ['postgresql'])];
	if (missing.length > 0) {
		const root = process.getuid?.() === 0;
		const sudo = root ? [] : ['sudo', '-n'];
		log(`installing ${missing.join(' and ')} with apt-get (queue-mode tests need them; this happens once per machine)`);
		const started = Date.now();
		const aptOptions = ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Dpkg::Use-Pty=0'];
		await runStreaming([...sudo, 'apt-get', ...aptOptions, 'update'], log);
		await runStreaming([...sudo, 'apt-get', ...aptOptions, 'install', '-y', '--no-install-recommends', ...missing], log);
		log(`installed ${missing.join(' and ')} in ${Math.round((Date.now() - started) / 1000)} s`);
		redisServer = findRedisServer();
		postgresBin = findPostgresBin();
	}
	if (!redisServer) throw new Error('redis-server not found after installing Debian package redis-server');
	if (!postgresBin) throw new Error('Postgres tools not found under /usr/lib/postgresql/<version>/bin after installing Debian package postgresql');
	return { redisServer, postgresBin };
}

/**
 * Debian's redis-server alone (with redis-tools: redis-cli), installed with apt-get when missing:
 * for the shared limiter's wire tests, which need no Postgres. Returns the redis-server path.
 */
export async function ensureRedisServer(log: Log = defaultLog): Promise<string> {
	let redisServer = findRedisServer();
	if (!redisServer) {
		const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
		log('installing redis-server with apt-get (the shared limiter tests need it; this happens once per machine)');
		const aptOptions = ['-o', 'DPkg::Lock::Timeout=600', '-o', 'Dpkg::Use-Pty=0'];
		await runStreaming([...sudo, 'apt-get', ...aptOptions, 'update'], log);
		await runStreaming([...sudo, 'apt-get', ...aptOptions, 'install', '-y', '--no-install-recommends', 'redis-server'], log);
		redisServer = findRedisServer();
	}
	if (!redisServer) throw new Error('redis-server not found after installing Debian package redis-server');
	return redisServer;
}

/** Runs a command, every output line through `log`; throws on a non-zero exit. */
function runStreaming(command: string[], log: Log): Promise<void> {
	return new Promise((resolve, reject) => {
		const child = spawn(command[0], command.slice(1), {
			env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let pending = '';
		const onData = (data: Buffer) => {
			pending += data.toString('utf8');
			const lines = pending.split('\n');
			pending = lines.pop() ?? '';
			for (const line of lines) if (line.trim()) log(`  ${line.trimEnd()}`);
		};
		child.stdout.on('data', onData);
		child.stderr.on('data', onData);
		child.on('error', reject);
		child.on('close', (code) => {
			if (pending.trim()) log(`  ${pending.trimEnd()}`);
			if (code === 0) resolve();
			else reject(new Error(`${command.join(' ')} failed (exit ${code})`));
		});
	});
}

// --- Redis --------------------------------------------------------------------------------------

export interface RedisServer {
	host: string;
	port: number;
	process: ManagedProcess;
	stop(): Promise<void>;
}

/**
 * redis-server on 127.0.0.1 with a throwaway folder, no persistence. Resolves once it answers PING.
 * `args`: more server options (e.g. `--requirepass`; PING is then answered -NOAUTH, which counts).
 */
export async function startRedis(tools: Pick<QueueTools, 'redisServer'>, opts: { port?: number; args?: string[] } = {}): Promise<RedisServer> {
	const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'faseeh-redis-'));
	const port = opts.port ?? (await findFreePort());
	const proc = startProcess(
		'redis-server',
		tools.redisServer,
		['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', ...(opts.args ?? [])],
		{ env: process.env, cwd: dir, logFile: path.join(dir, 'redis.log') },
	);
	const stop = async () => {
		await proc.stop('SIGTERM', 5_000);
		await fs.promises.rm(dir, { recursive: true, force: true });
	};
	try {
		await waitUntil('Redis to answer PING', () => redisPing(port), { timeoutMs: 30_000, process: proc, intervalMs: 100 });
	} catch (error) {
		await stop();
		throw error;
	}
	return { host: '127.0.0.1', port, process: proc, stop };
}

function redisPing(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = net.connect(port, '127.0.0.1');
		let answer = '';
		const done = (ok: boolean) => {
			socket.destroy();
			resolve(ok);
		};
		socket.setTimeout(1000, () => done(false));
		socket.on('error', () => done(false));
		socket.on('connect', () => socket.write('PING\r\n'));
		socket.on('data', (data) => {
			answer += data.toString('latin1');
			if (answer.includes('\r\n')) done(answer.startsWith('+PONG') || answer.startsWith('-NOAUTH'));
		});
	});
}

// --- Postgres -----------------------------------------------------------------------------------

export interface PostgresServer {
	host: string;
	port: number;
	user: string;
	database: string;
	process: ManagedProcess;
	/** Runs SQL with psql; rows of tab-separated fields. */
	query(sql: string): Promise<string[][]>;
	/** DB_* variables for n8n. */
	n8nEnv(): Env;
	stop(): Promise<void>;
}

const PG_USER = 'n8n';
const PG_DATABASE = 'n8n';

/**
 * A throwaway Postgres cluster (initdb into a temp folder, trust auth, loopback only, fsync off:
 * nothing here needs to survive a crash). Postgres refuses to run as root: as root, it runs as the
 * `postgres` user Debian's package creates.
 */
export async function startPostgres(tools: QueueTools, opts: { port?: number } = {}): Promise<PostgresServer> {
	const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'faseeh-pg-'));
	const dataDir = path.join(dir, 'data');
	const port = opts.port ?? (await findFreePort());
	let ids: { uid: number; gid: number } | undefined;
	if (process.getuid?.() === 0) {
		ids = postgresUserIds();
		await fs.promises.chown(dir, ids.uid, ids.gid);
	}
	const bin = (tool: string) => path.join(tools.postgresBin, tool);
	const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', HOME: dir };
	let proc: ManagedProcess | undefined;
	const stop = async () => {
		// SIGINT = "fast shutdown" (SIGTERM would wait for n8n's connections to close).
		await proc?.stop('SIGINT', 10_000);
		await fs.promises.rm(dir, { recursive: true, force: true });
	};
	try {
		const init = spawnSync(bin('initdb'), ['-D', dataDir, '-U', PG_USER, '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], {
			env,
			cwd: dir,
			encoding: 'utf8',
			uid: ids?.uid,
			gid: ids?.gid,
			timeout: 120_000,
		});
		if (init.status !== 0) throw new Error(`initdb failed (exit ${init.status}):\n${init.stdout}\n${init.stderr}`);
		proc = startProcess(
			'postgres',
			bin('postgres'),
			[
				'-D', dataDir,
				'-p', String(port),
				'-h', '127.0.0.1',
				'-k', dir,
				'-c', 'fsync=off',
				'-c', 'synchronous_commit=off',
				'-c', 'full_page_writes=off',
				'-c', 'max_connections=200',
			],
			{ env, cwd: dir, logFile: path.join(dir, 'postgres.log'), uid: ids?.uid, gid: ids?.gid },
		);
		const isReady = async () => spawnSync(bin('pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)], { env, timeout: 5_000 }).status === 0;
		await waitUntil('Postgres to accept connections', isReady, { timeoutMs: 60_000, process: proc, intervalMs: 200 });
		const created = spawnSync(bin('createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', PG_USER, PG_DATABASE], { env, encoding: 'utf8', timeout: 30_000 });
		if (created.status !== 0) throw new Error(`createdb failed (exit ${created.status}): ${created.stderr}`);
	} catch (error) {
		await stop();
		throw error;
	}
	const server: PostgresServer = {
		host: '127.0.0.1',
		port,
		user: PG_USER,
		database: PG_DATABASE,
		process: proc,
		query: async (sql) => {
			const result = spawnSync(bin('psql'), ['-X', '-q', '-A', '-t', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', PG_USER, '-d', PG_DATABASE, '-c', sql], {
				env,
				encoding: 'utf8',
				timeout: 30_000,
			});
			if (result.status !== 0) throw new Error(`psql failed (exit ${result.status}): ${result.stderr}`);
			return result.stdout
				.split('\n')
				.filter((line) => line.length > 0)
				.map((line) => line.split('\t'));
		},
		n8nEnv: () => ({
			DB_TYPE: 'postgresdb',
			DB_POSTGRESDB_HOST: '127.0.0.1',
			DB_POSTGRESDB_PORT: String(port),
			DB_POSTGRESDB_DATABASE: PG_DATABASE,
			DB_POSTGRESDB_USER: PG_USER,
			// trust auth on loopback: any password is accepted; n8n wants one set.
			DB_POSTGRESDB_PASSWORD: 'unused',
		}),
		stop,
	};
	return server;
}

function postgresUserIds(): { uid: number; gid: number } {
	const read = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
	const uid = read('-u');
	const gid = read('-g');
	if (uid.status !== 0 || gid.status !== 0) {
		throw new Error('Postgres refuses to run as root and there is no "postgres" user (Debian\'s postgresql package creates it)');
	}
	return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

// --- n8n processes ------------------------------------------------------------------------------

export interface N8nProcess extends ManagedProcess {
	/** http://127.0.0.1:<port> of `n8n start` or of a worker's health server. */
	url: string;
	userFolder: string;
}

/**
 * `n8n start` (main) or `n8n worker` on `userFolder`, resolved once `/healthz` and
 * `/healthz/readiness` answer 200 (a worker's health server is switched on for that).
 * `hostname`: what `os.hostname()` returns inside the process (a Node preload), so each worker
 * has its own n8n host id.
 */
export async function startN8nProcess(
	rt: Runtime,
	userFolder: string,
	opts: { role: 'main' | 'worker'; env?: Env; workerConcurrency?: number; hostname?: string; timeoutMs?: number },
): Promise<N8nProcess> {
	const port = await findFreePort();
	const name = opts.hostname ?? (opts.role === 'main' ? 'n8n-main' : 'n8n-worker');
	const roleEnv: Env =
		opts.role === 'main'
			? { N8N_PORT: String(port) }
			: {
					QUEUE_HEALTH_CHECK_ACTIVE: 'true',
					QUEUE_HEALTH_CHECK_PORT: String(port),
					N8N_WORKER_SERVER_ADDRESS: '127.0.0.1',
				};
	const env = await n8nEnv(
		userFolder,
		{
			N8N_EVENTBUS_LOGWRITER_LOGBASENAME: `n8nEventLog-${name}`,
			// -1 or it overrides `n8n worker --concurrency`.
			N8N_CONCURRENCY_PRODUCTION_LIMIT: '-1',
			...roleEnv,
			...opts.env,
		},
		rt,
	);
	const nodeArgs: string[] = [];
	if (opts.hostname) {
		const preload = path.join(userFolder, 'hostname-preload.js');
		await fs.promises.writeFile(
			preload,
			`// Written by scripts/lib/queue.ts: this process's own host name (one machine, several n8n hosts).\nrequire('os').hostname = () => ${JSON.stringify(opts.hostname)};\n`,
		);
		nodeArgs.push('--require', preload);
	}
	const args = opts.role === 'main' ? ['start'] : ['worker', `--concurrency=${opts.workerConcurrency ?? 10}`];
	const proc = startProcess(name, rt.nodeBin, [...nodeArgs, rt.n8nBin, ...args], {
		env,
		cwd: userFolder,
		logFile: path.join(userFolder, `${name}.log`),
	});
	const url = `http://127.0.0.1:${port}`;
	try {
		for (const probe of ['/healthz', '/healthz/readiness']) {
			await waitUntil(`${name} to answer ${probe}`, () => httpOk(`${url}${probe}`), { timeoutMs: opts.timeoutMs ?? 180_000, process: proc, intervalMs: 300 });
		}
	} catch (error) {
		await proc.stop();
		throw error;
	}
	return { ...proc, url, userFolder };
}

// --- A whole pipeline: n8n serving published webhook workflows ------------------------------------

export interface PipelineOptions {
	mode: 'regular' | 'queue';
	/** Workers in queue mode (default 2). */
	workers?: number;
	/** `n8n worker --concurrency` (default 10). */
	workerConcurrency?: number;
	/** The package to install (its folder; `npm pack` of it is installed on every process). */
	packageDir: string;
	credentials: CredentialImport[];
	/** Workflows to import and publish (each needs an `id`). */
	workflows: Array<Record<string, unknown>>;
	/** Extra env for every n8n process (e.g. N8N_DEFAULT_BINARY_DATA_MODE). */
	env?: Env;
	log?: Log;
}

export interface Pipeline {
	mode: 'regular' | 'queue';
	/** Base URL of the main process (webhooks are under /webhook/<path>). */
	url: string;
	main: N8nProcess;
	workers: N8nProcess[];
	postgres?: PostgresServer;
	redis?: RedisServer;
	/** Output of the CLI imports and publishes (to search for the key). */
	cliOutput: string[];
	/** How long each step of the start took, ms. */
	timings: Record<string, number>;
	/** Everything every n8n process logged so far. */
	logs(): string;
	stop(): Promise<void>;
}

/**
 * Installs the package into fresh user folders, imports the credentials and workflows, publishes
 * the workflows and starts n8n (regular: one `n8n start` on SQLite; queue: Postgres + Redis, a main
 * and `workers` workers). Waits until every published webhook answers something other than 404.
 * On any failure, everything started so far is stopped and removed.
 */
export async function startPipeline(rt: Runtime, opts: PipelineOptions): Promise<Pipeline> {
	const log = opts.log ?? defaultLog;
	const timings: Record<string, number> = {};
	const timed = async <T>(step: string, run: () => Promise<T>): Promise<T> => {
		const started = Date.now();
		const result = await run();
		timings[step] = Date.now() - started;
		log(`${step}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
		return result;
	};
	const cleanups: Array<() => Promise<void>> = [];
	const cliOutput: string[] = [];
	const processes: N8nProcess[] = [];
	const stopAll = async () => {
		for (const cleanup of cleanups.reverse()) {
			try {
				await cleanup();
			} catch (error) {
				log(`cleanup: ${(error as Error).message}`);
			}
		}
		cleanups.length = 0;
	};
	const keep = (result: RunResult) => cliOutput.push(result.stdout, result.stderr);

	try {
		const workerCount = opts.mode === 'queue' ? (opts.workers ?? 2) : 0;
		let sharedEnv: Env = { ...opts.env };
		let postgres: PostgresServer | undefined;
		let redis: RedisServer | undefined;
		if (opts.mode === 'queue') {
			const tools = await timed('queue tools (apt-get when missing)', () => ensureQueueTools(log));
			[postgres, redis] = await timed('Postgres and Redis', () => Promise.all([startPostgres(tools), startRedis(tools)]));
			const pg = postgres;
			const rd = redis;
			cleanups.push(() => pg.stop(), () => rd.stop());
			sharedEnv = {
				...postgres.n8nEnv(),
				EXECUTIONS_MODE: 'queue',
				QUEUE_BULL_REDIS_HOST: redis.host,
				QUEUE_BULL_REDIS_PORT: String(redis.port),
				// Binaries must be readable by every process: filesystem mode only works on one shared disk.
				N8N_DEFAULT_BINARY_DATA_MODE: 'database',
				...sharedEnv,
			};
		}

		// One user folder per process, the same encryption key in each.
		const folders: string[] = [];
		for (let i = 0; i <= workerCount; i++) {
			const folder = await createUserFolder(i === 0 ? 'faseeh-main-' : `faseeh-worker${i}-`);
			folders.push(folder);
			cleanups.push(() => removeUserFolder(folder));
		}
		const key = fs.readFileSync(path.join(folders[0], 'encryption-key'));
		for (const folder of folders.slice(1)) fs.writeFileSync(path.join(folder, 'encryption-key'), key);

		// The package installed on the main, then the same files on each worker (a manual install per worker).
		await timed('package install', async () => {
			await installPackage(folders[0], opts.packageDir);
			for (const folder of folders.slice(1)) {
				await fs.promises.cp(communityNodesDir(folders[0]), communityNodesDir(folder), { recursive: true });
			}
		});

		await timed('credential and workflow import, publish', async () => {
			const cli = { env: sharedEnv };
			keep(await importWithEnv(rt, folders[0], 'credentials', opts.credentials, sharedEnv));
			keep(await importWithEnv(rt, folders[0], 'workflow', opts.workflows, sharedEnv));
			for (const workflow of opts.workflows) {
				const published = await runN8n(rt, folders[0], ['publish:workflow', `--id=${String(workflow.id)}`], cli);
				keep(published);
				if (published.exitCode !== 0) throw new Error(`n8n publish:workflow --id=${String(workflow.id)} failed:\n${published.stdout}\n${published.stderr}`);
			}
		});

		const main = await timed(`n8n main (${opts.mode} mode)`, () => startN8nProcess(rt, folders[0], { role: 'main', env: sharedEnv }));
		processes.push(main);
		cleanups.push(() => main.stop());
		const workers = workerCount === 0 ? [] : await timed(`${workerCount} workers`, () =>
			Promise.all(
				folders.slice(1).map((folder, index) =>
					startN8nProcess(rt, folder, {
						role: 'worker',
						env: sharedEnv,
						workerConcurrency: opts.workerConcurrency ?? 10,
						hostname: `faseeh-worker-${index + 1}`,
					}),
				),
			),
		);
		for (const worker of workers) {
			processes.push(worker);
			cleanups.push(() => worker.stop());
		}

		// Published workflows are activated (their webhooks registered) in the background after n8n
		// reports ready. A GET to a POST-only webhook tells which methods are registered for the
		// path, without starting an execution.
		await timed('webhooks registered', async () => {
			for (const workflow of opts.workflows) {
				for (const webhookPath of webhookPaths(workflow)) {
					await waitUntil(`the webhook POST ${webhookPath} to be registered`, () => postWebhookRegistered(`${main.url}/webhook/${webhookPath}`), {
						timeoutMs: 60_000,
						process: main,
						intervalMs: 200,
					});
				}
			}
		});

		return {
			mode: opts.mode,
			url: main.url,
			main,
			workers,
			postgres,
			redis,
			cliOutput,
			timings,
			logs: () => processes.map((proc) => (fs.existsSync(proc.logFile) ? fs.readFileSync(proc.logFile, 'utf8') : '')).join('\n'),
			stop: stopAll,
		};
	} catch (error) {
		await stopAll();
		throw error;
	}
}

/** Production webhook paths of the (POST) Webhook nodes in a workflow. */
export function webhookPaths(workflow: Record<string, unknown>): string[] {
	const nodes = (workflow.nodes ?? []) as Array<{ type: string; parameters?: { path?: string } }>;
	return nodes.filter((node) => node.type === 'n8n-nodes-base.webhook' && node.parameters?.path).map((node) => String(node.parameters?.path));
}

/** n8n 2.41.1 answers a GET to a path registered only for POST "... Did you mean to make a POST request?". */
async function postWebhookRegistered(url: string): Promise<boolean> {
	try {
		const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
		return /make a POST request/.test(await res.text());
	} catch {
		return false;
	}
}

/**
 * `n8n import:<kind>` with `env` (./n8n's importCredentials/importWorkflow run on the folder's
 * SQLite only). The import file holds the plain API key: written 0600 in a 0700 folder and
 * removed right after the import, whatever its outcome.
 */
async function importWithEnv(rt: Runtime, userFolder: string, kind: 'credentials' | 'workflow', content: unknown[], env: Env): Promise<RunResult> {
	const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'faseeh-import-'));
	try {
		await fs.promises.chmod(dir, 0o700);
		const file = path.join(dir, `${kind}.json`);
		await fs.promises.writeFile(file, JSON.stringify(content), { mode: 0o600 });
		const result = await runN8n(rt, userFolder, [`import:${kind}`, `--input=${file}`], { env: { ...env, N8N_LOG_LEVEL: 'info' } });
		const what = kind === 'credentials' ? 'credential' : 'workflow';
		const imported = `${result.stdout}\n${result.stderr}`.match(new RegExp(`Successfully imported (\\d+) ${what}`));
		if (result.exitCode !== 0 || !imported || Number(imported[1]) !== content.length) {
			throw new Error(`n8n import:${kind} of ${content.length} failed (exit ${result.exitCode}):\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
		}
		return result;
	} finally {
		await fs.promises.rm(dir, { recursive: true, force: true });
	}
}

/** examples/webhook-one-step-clone.json under another id, webhook path and credential. */
export function webhookCloneWorkflow(opts: { id: string; path: string; credentialId: string; credentialName: string }): Record<string, unknown> {
	const file = path.resolve(__dirname, '..', '..', 'examples', 'webhook-one-step-clone.json');
	const workflow = JSON.parse(fs.readFileSync(file, 'utf8')) as { id: string; name: string; nodes: Array<Record<string, unknown>> };
	workflow.id = opts.id;
	workflow.name = `${workflow.name} (${opts.path})`;
	for (const node of workflow.nodes) {
		if (node.type === 'n8n-nodes-base.webhook') {
			(node.parameters as Record<string, unknown>).path = opts.path;
			node.webhookId = randomUUID();
		}
		if (node.credentials) node.credentials = { faseehApi: { id: opts.credentialId, name: opts.credentialName } };
	}
	return workflow;
}

// --- Webhook load and what the Faseeh sandbox saw ------------------------------------------------

export interface WebhookCall {
	index: number;
	/** The voice name this call asked for. */
	name: string;
	status: number;
	/** Parsed JSON answer (undefined if it was not JSON). */
	json?: Record<string, unknown>;
	text: string;
	/** From sending until the answer was read, ms. */
	durationMs: number;
	error?: string;
}

/**
 * POSTs `count` multipart calls at once to `url` (examples/webhook-one-step-clone.json's shape:
 * file field `recording`, text fields `name` and `text`), voice names `${namePrefix} <i>`.
 */
export async function fireCloneWebhooks(
	url: string,
	count: number,
	opts: { recording: Buffer; text: string; namePrefix: string; timeoutMs?: number },
): Promise<{ calls: WebhookCall[]; wallMs: number }> {
	const started = performance.now();
	const calls = await Promise.all(
		Array.from({ length: count }, async (_unused, index): Promise<WebhookCall> => {
			const name = `${opts.namePrefix} ${index + 1}`;
			const form = new FormData();
			form.append('recording', new Blob([opts.recording], { type: 'audio/wav' }), `recording-${index + 1}.wav`);
			form.append('name', name);
			form.append('text', opts.text);
			const callStarted = performance.now();
			try {
				const res = await fetch(url, { method: 'POST', body: form, signal: AbortSignal.timeout(opts.timeoutMs ?? 10 * 60_000) });
				const text = await res.text();
				let json: Record<string, unknown> | undefined;
				try {
					json = JSON.parse(text) as Record<string, unknown>;
				} catch {
					// not JSON: kept as text
				}
				return { index, name, status: res.status, json, text, durationMs: performance.now() - callStarted };
			} catch (error) {
				return { index, name, status: 0, text: '', durationMs: performance.now() - callStarted, error: (error as Error).message };
			}
		}),
	);
	return { calls, wallMs: performance.now() - started };
}

/** The fields of a sandbox request this needs (test/sandbox RecordedRequest and bench RequestSummary have them). */
export interface SeenRequest {
	method: string;
	path: string;
	status?: number;
	fields?: Record<string, string>;
}

export interface CloneTally {
	/** Calls that answered 200 with a voice_id and their own voice name. */
	succeeded: number;
	failed: WebhookCall[];
	/** Clones the sandbox answered 200, per voice name. */
	clonesByName: Map<string, number>;
	/** Voices created more than once (sum of extra clones). */
	duplicateClones: number;
	/** Names asked for with no clone answered 200. */
	missingClones: string[];
	/** Previews answered 200 (each one is paid for). */
	paidPreviews: number;
	/** Every answer 429, previews and clones. */
	refused429: number;
	/** Faseeh requests that ended otherwise (not 200, not 429; or no answer). */
	otherStatuses: Record<string, number>;
	/** Requests sent to Faseeh in all (every try). */
	requests: number;
}

export function tallyClones(calls: WebhookCall[], requests: SeenRequest[]): CloneTally {
	const isApi = (request: SeenRequest, route: string) => request.method === 'POST' && request.path === `/api/v1${route}`;
	const clonesByName = new Map<string, number>();
	for (const request of requests) {
		if (isApi(request, '/voices/clone') && request.status === 200) {
			const name = request.fields?.name ?? '(no name)';
			clonesByName.set(name, (clonesByName.get(name) ?? 0) + 1);
		}
	}
	const otherStatuses: Record<string, number> = {};
	for (const request of requests) {
		if (request.status === 200 || request.status === 429) continue;
		const key = `${request.method} ${request.path} ${request.status ?? 'no answer'}`;
		otherStatuses[key] = (otherStatuses[key] ?? 0) + 1;
	}
	const ok = (call: WebhookCall) => call.status === 200 && typeof call.json?.voice_id === 'string' && call.json?.name === call.name;
	return {
		succeeded: calls.filter(ok).length,
		failed: calls.filter((call) => !ok(call)),
		clonesByName,
		duplicateClones: [...clonesByName.values()].reduce((sum, count) => sum + Math.max(0, count - 1), 0),
		missingClones: calls.map((call) => call.name).filter((name) => !clonesByName.has(name)),
		paidPreviews: requests.filter((request) => isApi(request, '/voices/preview') && request.status === 200).length,
		refused429: requests.filter((request) => request.status === 429).length,
		otherStatuses,
		requests: requests.length,
	};
}

/** "Worker started execution" lines per worker log: how many executions each worker ran. */
export function executionsPerWorker(workers: N8nProcess[]): number[] {
	return workers.map((worker) => {
		const text = fs.existsSync(worker.logFile) ? fs.readFileSync(worker.logFile, 'utf8') : '';
		return (text.match(/Worker started execution \d+/g) ?? []).length;
	});
}
