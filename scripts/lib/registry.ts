/**
 * A local npm registry on loopback for installer tests: verdaccio (installed once into the tool
 * cache, never a project dependency) with `n8n-nodes-faseeh` served only from what we publish and
 * every other package proxied to the registry this machine's npm uses (so `form-data` resolves).
 *
 * Also the two pieces that keep n8n's installer on that registry without a licence:
 * - an `npm` wrapper for n8n's PATH that swaps the `--registry` n8n passes for the local one
 *   (n8n 2.41.1 refuses a custom N8N_COMMUNITY_PACKAGES_REGISTRY without
 *   feat:communityNodes:customRegistry);
 * - an egress guard: a loopback HTTP proxy that refuses everything, for HTTP(S)_PROXY, so n8n's
 *   own registry and api.n8n.io lookups fail fast on loopback instead of leaving the machine
 *   (n8n then falls back to `npm view`, which the wrapper points at the local registry).
 *
 * A publish token lives only in memory and in a temp npmrc that is deleted right after use.
 */
import { spawn, execFile, ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

import { findFreePort } from './n8n';
import { pidAlive } from './runtime';
import { toolCacheDir } from './stack';

export const VERDACCIO_VERSION = '6.8.0';

type Log = (line: string) => void;

function defaultLog(line: string) {
	process.stderr.write(`[registry] ${line}\n`);
}

// --- Install verdaccio (once) -------------------------------------------------------------

export function verdaccioDir(): string {
	return path.join(toolCacheDir(), 'tools', `verdaccio-${VERDACCIO_VERSION}`);
}

function verdaccioBin(dir: string): string {
	return path.join(dir, 'node_modules', 'verdaccio', 'bin', 'verdaccio');
}

/**
 * `npm install --prefix <cache>/tools/verdaccio-6.8.0 verdaccio@6.8.0`, once. A marker file
 * says the install finished; a lock folder keeps two processes from installing at once.
 * Returns the verdaccio CLI script (run it with the current Node: 6.8.0 supports Node 20).
 */
export async function ensureVerdaccio(log: Log = defaultLog): Promise<string> {
	const dir = verdaccioDir();
	const marker = path.join(dir, 'install-complete.json');
	const bin = verdaccioBin(dir);
	if (fs.existsSync(marker) && fs.existsSync(bin)) return bin;
	const lock = `${dir}.lock`;
	fs.mkdirSync(path.dirname(dir), { recursive: true });
	const waitStart = Date.now();
	for (;;) {
		try {
			fs.mkdirSync(lock);
			fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
			break;
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
		}
		if (fs.existsSync(marker) && fs.existsSync(bin)) return bin;
		const owner = lockOwnerPid(lock);
		const ownerAlive = owner > 0 && pidAlive(owner);
		const lockAge = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0);
		// A dead owner's lock, or one whose pid file never got written: take it over.
		if (!ownerAlive && (owner > 0 || lockAge > 10_000)) {
			log(`removing stale lock ${lock}`);
			fs.rmSync(lock, { recursive: true, force: true });
			continue;
		}
		if (Date.now() - waitStart > 10 * 60_000) throw new Error(`timed out waiting for lock ${lock}`);
		await sleep(500);
	}
	try {
		if (fs.existsSync(marker) && fs.existsSync(bin)) return bin;
		const started = Date.now();
		log(`installing verdaccio ${VERDACCIO_VERSION} into ${dir} (once; about 20 s)`);
		fs.rmSync(dir, { recursive: true, force: true });
		fs.mkdirSync(dir, { recursive: true });
		// cwd = the cache folder, so the repo's .npmrc does not apply.
		const res = await capture('npm', ['install', '--prefix', dir, `verdaccio@${VERDACCIO_VERSION}`, '--no-audit', '--no-fund', '--no-update-notifier', '--no-package-lock'], {
			cwd: dir,
			env: process.env,
			timeoutMs: 10 * 60_000,
		});
		if (res.code !== 0 || !fs.existsSync(bin)) {
			throw new Error(`npm install verdaccio@${VERDACCIO_VERSION} failed (exit ${res.code}):\n${tail(res.output, 30)}`);
		}
		fs.writeFileSync(marker, JSON.stringify({ version: VERDACCIO_VERSION, seconds: (Date.now() - started) / 1000 }));
		log(`verdaccio installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
		return bin;
	} finally {
		fs.rmSync(lock, { recursive: true, force: true });
	}
}

// --- Run it -------------------------------------------------------------------------------

export interface LocalRegistry {
	/** `http://127.0.0.1:<port>` (no trailing slash). */
	url: string;
	/** Where every other package is proxied from (the machine's npm registry). */
	uplink: string;
	logFile: string;
	/** Registers a throwaway user through the registry API and returns its token (kept in memory only). */
	addUser(): Promise<string>;
	/** `npm publish <tarball>` with `token`, through a temp npmrc deleted afterwards. */
	publish(tarball: string, token: string): Promise<void>;
	/** The registry's packument for `name` (what `npm view` reads). */
	packument(name: string): Promise<Record<string, unknown> | undefined>;
	stop(): Promise<void>;
}

/** The registry this machine's npm uses (`npm config get registry`), with a trailing slash. */
export async function machineRegistry(): Promise<string> {
	const res = await capture('npm', ['config', 'get', 'registry'], { cwd: os.tmpdir(), env: process.env, timeoutMs: 60_000 });
	const url = res.output.trim().split('\n').pop()?.trim() ?? '';
	if (res.code !== 0 || !/^https?:\/\//.test(url)) throw new Error(`npm config get registry gave "${res.output.trim()}"`);
	return url.endsWith('/') ? url : `${url}/`;
}

/**
 * Starts verdaccio on a free loopback port with its config, storage and users in a temp folder
 * (removed by stop()). `localOnly` packages are never fetched from the uplink.
 */
export async function startLocalRegistry(opts: { localOnly: string[]; log?: Log }): Promise<LocalRegistry> {
	const log = opts.log ?? defaultLog;
	const bin = await ensureVerdaccio(log);
	const uplink = await machineRegistry();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-registry-'));
	const port = await findFreePort();
	const url = `http://127.0.0.1:${port}`;
	const local = opts.localOnly
		.map((name) => `  '${name}':\n    access: $all\n    publish: $authenticated\n    unpublish: $authenticated\n`)
		.join('');
	fs.writeFileSync(
		path.join(dir, 'config.yaml'),
		[
			`storage: ${JSON.stringify(path.join(dir, 'storage'))}`,
			'auth:',
			'  htpasswd:',
			`    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
			'    max_users: 100',
			'uplinks:',
			'  machine:',
			`    url: ${JSON.stringify(uplink)}`,
			'    timeout: 60s',
			'packages:',
			local.trimEnd(),
			"  '**':",
			'    access: $all',
			'    publish: $authenticated',
			'    proxy: machine',
			'web:',
			'  enable: false',
			'log: { type: stdout, format: pretty, level: http }',
			'',
		].join('\n'),
	);
	const logFile = path.join(dir, 'verdaccio.log');
	const out = fs.openSync(logFile, 'a');
	const child = spawn(process.execPath, [bin, '--config', path.join(dir, 'config.yaml'), '--listen', `127.0.0.1:${port}`], {
		cwd: dir,
		env: { ...process.env, NODE_ENV: 'production' },
		stdio: ['ignore', out, out],
		detached: true,
	});
	fs.closeSync(out);
	let exited = false;
	const exitPromise = new Promise<void>((resolve) => child.on('exit', () => {
		exited = true;
		resolve();
	}));
	const stop = async () => {
		await stopGroup(child, exitPromise, () => exited);
		fs.rmSync(dir, { recursive: true, force: true });
	};
	const deadline = Date.now() + 60_000;
	for (;;) {
		if (exited) {
			const text = fs.readFileSync(logFile, 'utf8');
			await stop();
			throw new Error(`verdaccio exited before answering /-/ping:\n${tail(text, 30)}`);
		}
		if (Date.now() > deadline) {
			await stop();
			throw new Error('verdaccio did not answer /-/ping within 60 s');
		}
		try {
			const res = await fetch(`${url}/-/ping`, { signal: AbortSignal.timeout(2000) });
			await res.arrayBuffer();
			if (res.ok) break;
		} catch {
			// not listening yet
		}
		await sleep(200);
	}
	log(`verdaccio ${VERDACCIO_VERSION} on ${url}, uplink ${uplink}`);

	return {
		url,
		uplink,
		logFile,
		stop,
		async addUser() {
			const name = `faseeh-test-${randomBytes(4).toString('hex')}`;
			const res = await fetch(`${url}/-/user/org.couchdb.user:${name}`, {
				method: 'PUT',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({
					_id: `org.couchdb.user:${name}`,
					name,
					password: randomBytes(18).toString('base64url'),
					email: `${name}@example.com`,
					type: 'user',
					roles: [],
					date: new Date().toISOString(),
				}),
			});
			const body = (await res.json().catch(() => ({}))) as { token?: string; error?: string };
			if (res.status !== 201 || !body.token) {
				throw new Error(`creating registry user ${name} failed: HTTP ${res.status} ${body.error ?? ''}`);
			}
			return body.token;
		},
		async publish(tarball, token) {
			const npmrcDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-npmrc-'));
			const npmrc = path.join(npmrcDir, 'npmrc');
			try {
				fs.writeFileSync(npmrc, `registry=${url}/\n//127.0.0.1:${port}/:_authToken=${token}\n`, { mode: 0o600 });
				const res = await capture(
					'npm',
					['publish', tarball, `--registry=${url}/`, `--userconfig=${npmrc}`, '--no-update-notifier', '--access=public', '--provenance=false'],
					{ cwd: npmrcDir, env: withoutNpmConfig(process.env), timeoutMs: 120_000 },
				);
				if (res.code !== 0) {
					throw new Error(`npm publish ${path.basename(tarball)} failed (exit ${res.code}):\n${tail(res.output.split(token).join('***'), 30)}`);
				}
			} finally {
				fs.rmSync(npmrcDir, { recursive: true, force: true });
			}
		},
		async packument(name) {
			const res = await fetch(`${url}/${encodeURIComponent(name)}`);
			if (res.status === 404) return undefined;
			if (!res.ok) throw new Error(`GET ${url}/${name}: HTTP ${res.status}`);
			return (await res.json()) as Record<string, unknown>;
		},
	};
}

/** `npm run` exports npm_config_* (the repo's .npmrc, e.g. ignore-scripts); keep them out. */
function withoutNpmConfig(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
	const out: NodeJS.ProcessEnv = {};
	for (const [k, v] of Object.entries(env)) if (!/^npm_config_/i.test(k)) out[k] = v;
	return out;
}

// --- Package tarballs ---------------------------------------------------------------------

/**
 * `npm pack` of `packageDir` into `destDir`; with `version`, the packed package.json is given
 * that version in a temp copy and packed again (the repo is not touched). Returns the tarball.
 */
export async function packPackage(packageDir: string, destDir: string, version?: string): Promise<string> {
	if (!version) return await npmPack(packageDir, destDir);
	const work = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-pack-copy-'));
	try {
		const first = await npmPack(packageDir, work);
		const copy = path.join(work, 'package');
		const untar = await capture('tar', ['-xzf', first, '-C', work], { env: process.env, timeoutMs: 60_000 });
		if (untar.code !== 0) throw new Error(`tar -xzf ${first} failed: ${untar.output}`);
		const pkgPath = path.join(copy, 'package.json');
		const pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8')) as { version: string };
		pkg.version = version;
		fs.writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
		return await npmPack(copy, destDir);
	} finally {
		fs.rmSync(work, { recursive: true, force: true });
	}
}

async function npmPack(dir: string, destDir: string): Promise<string> {
	const res = await capture('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', destDir], {
		cwd: dir,
		env: withoutNpmConfig(process.env),
		timeoutMs: 120_000,
	});
	let filename: string | undefined;
	try {
		filename = (JSON.parse(res.stdout) as Array<{ filename: string }>)[0]?.filename;
	} catch {
		filename = undefined;
	}
	if (res.code !== 0 || !filename) throw new Error(`npm pack in ${dir} failed (exit ${res.code}):\n${tail(res.output, 30)}`);
	return path.join(destDir, path.basename(filename));
}

// --- The npm wrapper for n8n's PATH -------------------------------------------------------

export interface NpmWrapper {
	/** Put this first on n8n's PATH. */
	binDir: string;
	/** One JSON line per npm call n8n made: `{ args, cwd }` as n8n passed them (tokens redacted). */
	calls(): Array<{ args: string[]; cwd: string }>;
	remove(): void;
}

/**
 * A folder with an `npm` that runs the real npm with n8n's `--registry=…` (and any
 * `--//host/:_authToken=…`) replaced by `--registry=<registryUrl>`, and without proxy variables
 * (the egress guard is for n8n's own HTTP calls, not for loopback npm). Calls are logged.
 */
export async function createNpmWrapper(registryUrl: string): Promise<NpmWrapper> {
	const realNpm = await whichReal('npm');
	const binDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-npm-wrapper-'));
	const logFile = path.join(binDir, 'calls.jsonl');
	const script = `#!/usr/bin/env node
// Test-only npm for n8n's PATH (scripts/lib/registry.ts): same npm, the local registry.
const { spawnSync } = require('child_process');
const fs = require('fs');
const given = process.argv.slice(2);
const redacted = given.map((a) => (a.includes('_authToken=') ? a.replace(/=.*$/, '=*****') : a));
fs.appendFileSync(${JSON.stringify(logFile)}, JSON.stringify({ args: redacted, cwd: process.cwd() }) + '\\n');
const args = [];
for (let i = 0; i < given.length; i++) {
	if (given[i] === '--registry') { i++; continue; }
	if (given[i].startsWith('--registry=')) continue;
	if (/^--\\/\\/.*:_authToken=/.test(given[i])) continue;
	args.push(given[i]);
}
args.push(${JSON.stringify(`--registry=${registryUrl}/`)});
const env = { ...process.env };
for (const k of Object.keys(env)) if (/^(https?_proxy|all_proxy|no_proxy)$/i.test(k)) delete env[k];
const r = spawnSync(${JSON.stringify(realNpm)}, args, { stdio: 'inherit', env });
if (r.error) { console.error(String(r.error)); process.exit(1); }
process.exit(r.status === null ? 1 : r.status);
`;
	fs.writeFileSync(path.join(binDir, 'npm'), script, { mode: 0o755 });
	return {
		binDir,
		calls() {
			if (!fs.existsSync(logFile)) return [];
			return fs
				.readFileSync(logFile, 'utf8')
				.split('\n')
				.filter(Boolean)
				.map((line) => JSON.parse(line) as { args: string[]; cwd: string });
		},
		remove() {
			fs.rmSync(binDir, { recursive: true, force: true });
		},
	};
}

/** The first `name` on PATH (the real npm, before any wrapper is added). */
async function whichReal(name: string): Promise<string> {
	for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
		if (!dir) continue;
		const candidate = path.join(dir, name);
		try {
			fs.accessSync(candidate, fs.constants.X_OK);
			return fs.realpathSync(candidate);
		} catch {
			// not here
		}
	}
	throw new Error(`${name} not found on PATH`);
}

// --- Egress guard -------------------------------------------------------------------------

export interface EgressGuard {
	/** `http://127.0.0.1:<port>`: use as HTTP_PROXY and HTTPS_PROXY. */
	url: string;
	/** Every host name something tried to reach through the guard (all refused), in order. */
	refused: string[];
	stop(): Promise<void>;
}

/** A loopback HTTP proxy that answers 403 to every request and CONNECT, and records the targets. */
export async function startEgressGuard(): Promise<EgressGuard> {
	const refused: string[] = [];
	const server = http.createServer((req, res) => {
		refused.push(hostOf(req.url ?? '', req.headers.host ?? '?'));
		res.writeHead(403, { 'content-type': 'text/plain', connection: 'close' });
		res.end('refused by the test egress guard\n');
	});
	server.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
		// CONNECT's target is host:port.
		refused.push((req.url ?? '?').replace(/:\d+$/, ''));
		socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
	});
	const port = await new Promise<number>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
	});
	return {
		url: `http://127.0.0.1:${port}`,
		refused,
		stop: () => new Promise<void>((resolve) => {
			server.closeAllConnections();
			server.close(() => resolve());
		}),
	};
}

/** The host name a proxied request was for (absolute URL, or the Host header). */
function hostOf(url: string, host: string): string {
	try {
		return new URL(url).hostname;
	} catch {
		return host.replace(/:\d+$/, '');
	}
}

// --- Process helpers ----------------------------------------------------------------------

function capture(
	file: string,
	args: string[],
	opts: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number; stdout: string; output: string }> {
	return new Promise((resolve, reject) => {
		const child = execFile(file, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
			const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
			resolve({ code, stdout, output: `${stdout}\n${stderr}` });
		});
		child.on('error', reject);
	});
}

async function stopGroup(child: ChildProcess, exitPromise: Promise<void>, hasExited: () => boolean) {
	if (child.pid === undefined || hasExited()) return;
	const signal = (sig: NodeJS.Signals) => {
		try {
			process.kill(-child.pid!, sig);
		} catch {
			// gone
		}
	};
	signal('SIGTERM');
	let timer: NodeJS.Timeout | undefined;
	const graceful = await Promise.race([
		exitPromise.then(() => true),
		new Promise<boolean>((r) => {
			timer = setTimeout(() => r(false), 10_000);
		}),
	]);
	clearTimeout(timer);
	if (!graceful) {
		signal('SIGKILL');
		await exitPromise;
	}
}

function lockOwnerPid(lock: string): number {
	try {
		return Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8')) || 0;
	} catch {
		return 0;
	}
}

function tail(text: string, lines: number): string {
	return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function sleep(ms: number) {
	return new Promise((r) => setTimeout(r, ms));
}
