/**
 * End-to-end: n8n-nodes-faseeh installed by n8n's own community-package installer, the way
 * *Settings → Community Nodes → Install* does it (`POST /rest/community-packages`), from a local
 * npm registry on loopback (verdaccio) that serves the packed package; then updated (`PATCH`)
 * and uninstalled (`DELETE`), all in one running `n8n start`, with the clone example executed
 * through the server's REST API by the owner after each install.
 *
 * n8n 2.41.1 refuses a custom registry without a licence, so the registry setting stays at
 * n8n's default and an `npm` wrapper first on n8n's PATH points n8n's npm calls at the local
 * registry (see scripts/lib/registry.ts); an egress guard keeps n8n's own HTTP lookups of
 * registry.npmjs.org and api.n8n.io on loopback (refused).
 *
 * FASEEH_KEEP_LOGS=<folder> copies the queue-mode n8n logs and the npm calls n8n made there.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
	communityNodesDir,
	createUserFolder,
	login,
	removeUserFolder,
	setupOwner,
	startN8nServer,
} from '../../scripts/lib/n8n';
import type { Env, N8nServer } from '../../scripts/lib/n8n';
import { ensureQueueTools, startN8nProcess, startPostgres, startRedis } from '../../scripts/lib/queue';
import type { N8nProcess, PostgresServer, RedisServer } from '../../scripts/lib/queue';
import { createNpmWrapper, packPackage, startEgressGuard, startLocalRegistry } from '../../scripts/lib/registry';
import type { EgressGuard, LocalRegistry, NpmWrapper } from '../../scripts/lib/registry';
import { ensureRuntime, runtimePathEnv, runtimeSpec } from '../../scripts/lib/runtime';
import type { Runtime } from '../../scripts/lib/runtime';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { TEST_API_KEY, part, requestsTo, sha256, startSandbox, wavRecording } from '../helpers/faseeh';
import { packageTypes, rest, restReady, runWorkflow } from './rest';
import type { Session } from './rest';

const REPO = path.resolve(__dirname, '..', '..');
const PACKAGE = 'n8n-nodes-faseeh';
/** What n8n reports as installed: the package's two node types (tool variants are derived, not installed). */
const NODE_TYPES = ['n8n-nodes-faseeh.faseeh', 'n8n-nodes-faseeh.faseehVoiceClone'];
/** What the editor lists: both nodes and their AI Agent tool variants. */
const EDITOR_TYPES = ['n8n-nodes-faseeh.faseeh', 'n8n-nodes-faseeh.faseehTool', 'n8n-nodes-faseeh.faseehVoiceClone', 'n8n-nodes-faseeh.faseehVoiceCloneTool'];
const RECORDING = wavRecording(1.5, 200);
const OWNER = { email: 'installer@example.com', password: 'Installer-test-1' };

interface RuntimeCase {
	label: string;
	runtime: () => Promise<Runtime>;
}

/** Each n8n the installer is tested on: the default 2.x and the newest 1.x. */
const RUNTIMES: RuntimeCase[] = [undefined, '1.123.x'].map((line) => {
	const spec = runtimeSpec(line);
	return { label: `n8n ${spec.n8nVersion} on Node ${spec.nodeVersion}`, runtime: () => ensureRuntime({ version: line }) };
});

let registry: LocalRegistry;
let sandbox: FaseehSandbox;
let guard: EgressGuard;
let tarballDir: string;
const versions = { first: '', second: '' };
/** Everything n8n printed, searched for the API key at the end. */
const n8nOutput: string[] = [];

beforeAll(async () => {
	const started = Date.now();
	sandbox = await startSandbox();
	guard = await startEgressGuard();
	registry = await startLocalRegistry({ localOnly: [PACKAGE] });
	tarballDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-tarballs-'));
	const current = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
	versions.first = current.version;
	versions.second = bumpPatch(current.version);
	const token = await registry.addUser();
	await registry.publish(await packPackage(REPO, tarballDir), token);
	await registry.publish(await packPackage(REPO, tarballDir, versions.second), token);
	const published = await registry.packument(PACKAGE);
	expect(Object.keys((published?.versions ?? {}) as object).sort()).toEqual([versions.first, versions.second]);
	process.stderr.write(`[installer] registry with ${PACKAGE} ${versions.first} and ${versions.second} ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}, 10 * 60_000);

afterAll(async () => {
	await registry?.stop();
	await sandbox?.stop();
	await guard?.stop();
	if (tarballDir) fs.rmSync(tarballDir, { recursive: true, force: true });
});

describe.each(RUNTIMES)('installed through the Community Nodes endpoint of $label', ({ runtime: getRuntime }) => {
	let runtime: Runtime;
	let userFolder: string;
	let wrapper: NpmWrapper;
	let server: N8nServer;
	let session: Session;
	let probeWorkflowId: string;
	let workflowId: string;
	const installedDir = () => path.join(communityNodesDir(userFolder), 'node_modules', PACKAGE);

	beforeAll(async () => {
		runtime = await getRuntime();
		guard.refused.length = 0;
		userFolder = await createUserFolder('faseeh-installer-');
		fs.writeFileSync(path.join(userFolder, 'files', 'recording.wav'), RECORDING);
		wrapper = await createNpmWrapper(registry.url);
		server = await startN8nServer(runtime, userFolder, {
			env: { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem', ...installerEnv(runtime, wrapper) },
		});
		await restReady(server.url);
		const owner = await setupOwner(server.url, OWNER);
		if (!owner.cookie) throw new Error('owner setup gave no session cookie');
		session = { url: server.url, cookie: owner.cookie, browserId: owner.browserId };
		// The example as a user would have it before installing: saved, without its credential.
		probeWorkflowId = await createCloneWorkflow(session, path.join(userFolder, 'files'));
	}, 15 * 60_000);

	afterAll(async () => {
		await server?.stop();
		if (server && fs.existsSync(server.logFile)) n8nOutput.push(fs.readFileSync(server.logFile, 'utf8'));
		wrapper?.remove();
		if (userFolder) await removeUserFolder(userFolder);
	});

	afterEach(() => sandbox.reset());

	it('starts without the package: no Faseeh node types, nothing installed', async () => {
		expect(await rest(session, 'GET', '/rest/community-packages')).toEqual([]);
		expect(await faseehTypes(session)).toEqual([]);
		expect(fs.existsSync(installedDir())).toBe(false);
		const run = await runWorkflow(session, runtime, probeWorkflowId);
		expect(run.status).toBe('refused');
		expect(run.error).toMatch(/Unrecognized node type: n8n-nodes-faseeh\./);
		expect(sandbox.requests).toHaveLength(0);
	});

	it(`installs ${PACKAGE} from the local registry (POST /rest/community-packages), form-data under it`, async () => {
		const installed = (await rest(session, 'POST', '/rest/community-packages', { name: PACKAGE, version: versions.first })) as InstalledPackage;
		expect(installed).toMatchObject({ packageName: PACKAGE, installedVersion: versions.first });
		expect(installed.installedNodes.map((node) => node.type).sort()).toEqual(NODE_TYPES);
		expect(await faseehTypes(session)).toEqual(EDITOR_TYPES);

		expect(readJson(path.join(installedDir(), 'package.json')).version).toBe(versions.first);
		const formData = readJson(path.join(installedDir(), 'node_modules', 'form-data', 'package.json'));
		expect(formData.version).toBe(readJson(path.join(REPO, 'package.json')).dependencies['form-data']);
		expect(readJson(path.join(communityNodesDir(userFolder), 'package.json')).dependencies).toEqual({ [PACKAGE]: versions.first });

		// n8n's npm calls came through the wrapper, with n8n's default registry swapped out.
		const calls = wrapper.calls();
		expect(calls.map((call) => call.args[0])).toEqual(expect.arrayContaining(['pack', 'install']));
		expect(calls.find((call) => call.args[0] === 'pack')?.args).toEqual(
			expect.arrayContaining([`${PACKAGE}@${versions.first}`, '--registry=https://registry.npmjs.org']),
		);
	});

	it('runs examples/clone-and-speak.json with the installed copy, no restart', async () => {
		// What a user does next: create the Faseeh API credential, then the workflow using it.
		const credentialId = await createFaseehCredential(session);
		workflowId = await createCloneWorkflow(session, path.join(userFolder, 'files'), credentialId);
		await expectCloneExampleRuns(session);
	});

	it(`updates to the next patch version (PATCH /rest/community-packages) and runs the example again`, async () => {
		const updated = (await rest(session, 'PATCH', '/rest/community-packages', { name: PACKAGE, version: versions.second })) as InstalledPackage;
		expect(updated).toMatchObject({ packageName: PACKAGE, installedVersion: versions.second });
		expect(readJson(path.join(installedDir(), 'package.json')).version).toBe(versions.second);
		expect(fs.existsSync(path.join(installedDir(), 'node_modules', 'form-data', 'package.json'))).toBe(true);
		const listed = (await rest(session, 'GET', '/rest/community-packages')) as InstalledPackage[];
		expect(listed.map((p) => [p.packageName, p.installedVersion])).toEqual([[PACKAGE, versions.second]]);
		expect(await faseehTypes(session)).toEqual(EDITOR_TYPES);
		await expectCloneExampleRuns(session);
	});

	it('uninstalls (DELETE /rest/community-packages?name=): the nodes are gone and the example no longer runs', async () => {
		await rest(session, 'DELETE', `/rest/community-packages?name=${encodeURIComponent(PACKAGE)}`);
		expect(await rest(session, 'GET', '/rest/community-packages')).toEqual([]);
		expect(await faseehTypes(session)).toEqual([]);
		expect(fs.existsSync(installedDir())).toBe(false);
		const run = await runWorkflow(session, runtime, workflowId);
		expect(run.status).toBe('refused');
		expect(run.error).toMatch(/Unrecognized node type: n8n-nodes-faseeh\./);
		expect(sandbox.requests).toHaveLength(0);
	});

	it('n8n’s own lookups (registry.npmjs.org, api.n8n.io) went to the egress guard, not off the machine', () => {
		const refused = [...new Set(guard.refused)].sort();
		process.stderr.write(`[installer] egress guard refused: ${refused.join(', ') || 'nothing'}\n`);
		// The package-status check and the registry lookup n8n makes before falling back to `npm view`.
		expect(refused).toEqual(expect.arrayContaining(['api.n8n.io', 'registry.npmjs.org']));
	});

	async function expectCloneExampleRuns(s: Session) {
		const run = await runWorkflow(s, runtime, workflowId);
		expect(run.error).toBeUndefined();
		expect(run.status).toBe('success');
		const [preview] = requestsTo(sandbox, 'POST', '/voices/preview');
		expect(part(preview, 'file').sha256).toBe(sha256(RECORDING));
		const [clone] = requestsTo(sandbox, 'POST', '/voices/clone');
		expect(clone.status).toBe(200);
		expect(sandbox.knownPreview(part(clone, 'voice_file').sha256)?.text).toBe(preview.fields?.text);
		const voice = run.output('Faseeh Voice Clone')[0]?.json;
		expect(voice?.voice_id).toMatch(/^cl-/);
		const [speech] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
		expect((speech.json as { voice_id: string }).voice_id).toBe(voice?.voice_id);
		const written = fs.readFileSync(path.join(userFolder, 'files', 'first-words.wav'));
		expect(written.toString('latin1', 0, 4)).toBe('RIFF');
		fs.rmSync(path.join(userFolder, 'files', 'first-words.wav'));
	}
});

/**
 * Environment-variable installation (n8n >= 2.21; n8n's docs: "Environment variable installation"),
 * the way to install a community package on n8n 3.0's Docker-only self-hosting without a custom
 * image: with N8N_COMMUNITY_PACKAGES_MANAGED_BY_ENV=true, `n8n start` reconciles the installed
 * packages with the JSON list in N8N_COMMUNITY_PACKAGES (install, update to the pinned version,
 * uninstall what is not listed) before it serves. Read in 2.41.1's source
 * (community-packages.instance-settings-loader.js): main instances only (workers follow through the
 * same install command as above); a package without n8n's vetted checksum needs
 * N8N_UNVERIFIED_PACKAGES_ENABLED=true, whose default n8n 3.0 turns to false.
 */
describe('installed at start-up from N8N_COMMUNITY_PACKAGES (n8n 2.41.1)', () => {
	let runtime: Runtime;
	let userFolder: string;
	let wrapper: NpmWrapper;
	let server: N8nServer | undefined;
	let session: Session;
	const installedDir = () => path.join(communityNodesDir(userFolder), 'node_modules', PACKAGE);
	const managedEnv = (version: string, unverified: 'true' | 'false'): Env => ({
		N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem',
		...installerEnv(runtime, wrapper),
		N8N_COMMUNITY_PACKAGES_MANAGED_BY_ENV: 'true',
		N8N_COMMUNITY_PACKAGES: JSON.stringify([{ name: PACKAGE, version }]),
		N8N_UNVERIFIED_PACKAGES_ENABLED: unverified,
	});
	const stop = async () => {
		await server?.stop();
		if (server && fs.existsSync(server.logFile)) n8nOutput.push(fs.readFileSync(server.logFile, 'utf8'));
		if (server) fs.rmSync(server.logFile, { force: true });
		server = undefined;
	};

	beforeAll(async () => {
		runtime = await ensureRuntime();
		userFolder = await createUserFolder('faseeh-installer-env-');
		fs.writeFileSync(path.join(userFolder, 'files', 'recording.wav'), RECORDING);
		wrapper = await createNpmWrapper(registry.url);
	}, 15 * 60_000);

	afterAll(async () => {
		await stop();
		wrapper?.remove();
		if (userFolder) await removeUserFolder(userFolder);
	});

	afterEach(() => sandbox.reset());

	it('with N8N_UNVERIFIED_PACKAGES_ENABLED=false (n8n 3.0’s default) n8n refuses to start, and says why', async () => {
		await expect(startN8nServer(runtime, userFolder, { env: managedEnv(versions.first, 'false') })).rejects.toThrow(/exited with code/);
		const log = fs.readFileSync(path.join(userFolder, 'n8n-server.log'), 'utf8');
		n8nOutput.push(log);
		fs.rmSync(path.join(userFolder, 'n8n-server.log'));
		expect(log).toContain(`N8N_COMMUNITY_PACKAGES: no checksum available for '${PACKAGE}@${versions.first}' and unverified packages are disabled`);
		expect(fs.existsSync(installedDir())).toBe(false);
	});

	it('with it true, n8n installs the pinned version from the registry before it serves; the nodes load and the clone example runs', async () => {
		server = await startN8nServer(runtime, userFolder, { env: managedEnv(versions.first, 'true') });
		await restReady(server.url);
		const owner = await setupOwner(server.url, OWNER);
		if (!owner.cookie) throw new Error('owner setup gave no session cookie');
		session = { url: server.url, cookie: owner.cookie, browserId: owner.browserId };
		const listed = (await rest(session, 'GET', '/rest/community-packages')) as InstalledPackage[];
		expect(listed.map((p) => [p.packageName, p.installedVersion])).toEqual([[PACKAGE, versions.first]]);
		expect(await faseehTypes(session)).toEqual(EDITOR_TYPES);
		expect(readJson(path.join(installedDir(), 'package.json')).version).toBe(versions.first);
		expect(fs.readFileSync(server.logFile, 'utf8')).toContain(`Installed community package '${PACKAGE}@${versions.first}' from env`);
		// n8n's npm calls came through the wrapper, from the start-up, not from a REST call.
		expect(wrapper.calls().some((call) => call.args[0] === 'install' && call.cwd.startsWith(userFolder))).toBe(true);

		const workflowId = await createCloneWorkflow(session, path.join(userFolder, 'files'), await createFaseehCredential(session));
		const run = await runWorkflow(session, runtime, workflowId);
		expect(run.error).toBeUndefined();
		expect(run.status).toBe('success');
		expect(run.output('Faseeh Voice Clone')[0]?.json.voice_id).toMatch(/^cl-/);
	});

	it('the Community Nodes endpoint is then read-only; a new pinned version and a restart update the package', async () => {
		await expect(rest(session, 'POST', '/rest/community-packages', { name: PACKAGE, version: versions.second })).rejects.toThrow(
			/HTTP 400 .*managed via environment variables/,
		);
		await stop();
		server = await startN8nServer(runtime, userFolder, { env: managedEnv(versions.second, 'true') });
		await restReady(server.url);
		session = { url: server.url, ...(await login(server.url, OWNER.email, OWNER.password)) };
		const listed = (await rest(session, 'GET', '/rest/community-packages')) as InstalledPackage[];
		expect(listed.map((p) => [p.packageName, p.installedVersion])).toEqual([[PACKAGE, versions.second]]);
		expect(readJson(path.join(installedDir(), 'package.json')).version).toBe(versions.second);
		expect(await faseehTypes(session)).toEqual(EDITOR_TYPES);
		await stop();
	});
});

/**
 * Queue mode (Postgres, Redis, a main and one worker, each with its own user folder as on separate
 * machines): the package is installed through the main's endpoint only. What reaches the worker is
 * observed, not assumed: its user folder, and a clone example run that n8n hands to the worker.
 */
describe.each(RUNTIMES)('queue mode on $label: installed through the main, the worker follows', ({ runtime: getRuntime }) => {
	let runtime: Runtime;
	let postgres: PostgresServer;
	let redis: RedisServer;
	let main: N8nProcess;
	let worker: N8nProcess;
	let startWorker: () => Promise<N8nProcess>;
	let wrapper: NpmWrapper;
	let session: Session;
	const folders: string[] = [];
	let filesDir: string;
	let workflowId: string;
	const workerPackageDir = () => path.join(communityNodesDir(worker.userFolder), 'node_modules', PACKAGE);

	beforeAll(async () => {
		runtime = await getRuntime();
		const tools = await ensureQueueTools();
		[postgres, redis] = await Promise.all([startPostgres(tools), startRedis(tools)]);
		for (const prefix of ['faseeh-installer-main-', 'faseeh-installer-worker-']) folders.push(await createUserFolder(prefix));
		fs.copyFileSync(path.join(folders[0], 'encryption-key'), path.join(folders[1], 'encryption-key'));
		// One folder for the example's files that both processes may read and write.
		filesDir = path.join(folders[0], 'files');
		fs.writeFileSync(path.join(filesDir, 'recording.wav'), RECORDING);
		wrapper = await createNpmWrapper(registry.url);
		const env: Env = {
			...postgres.n8nEnv(),
			EXECUTIONS_MODE: 'queue',
			QUEUE_BULL_REDIS_HOST: redis.host,
			QUEUE_BULL_REDIS_PORT: String(redis.port),
			N8N_DEFAULT_BINARY_DATA_MODE: 'database',
			// The editor's "Execute workflow" goes to a worker too (n8n 3's default).
			OFFLOAD_MANUAL_EXECUTIONS_TO_WORKERS: 'true',
			N8N_RESTRICT_FILE_ACCESS_TO: filesDir,
			...installerEnv(runtime, wrapper),
		};
		main = await startN8nProcess(runtime, folders[0], { role: 'main', env });
		startWorker = () => startN8nProcess(runtime, folders[1], { role: 'worker', env, hostname: 'faseeh-installer-worker', workerConcurrency: 2 });
		worker = await startWorker();
		await restReady(main.url);
		const owner = await setupOwner(main.url, OWNER);
		if (!owner.cookie) throw new Error('owner setup gave no session cookie');
		session = { url: main.url, cookie: owner.cookie, browserId: owner.browserId };
	}, 15 * 60_000);

	afterAll(async () => {
		for (const proc of [worker, main]) {
			if (!proc) continue;
			await proc.stop();
			if (process.env.FASEEH_KEEP_LOGS) fs.copyFileSync(proc.logFile, path.join(process.env.FASEEH_KEEP_LOGS, path.basename(proc.logFile)));
			if (fs.existsSync(proc.logFile)) n8nOutput.push(fs.readFileSync(proc.logFile, 'utf8'));
		}
		await redis?.stop();
		await postgres?.stop();
		if (process.env.FASEEH_KEEP_LOGS) fs.writeFileSync(path.join(process.env.FASEEH_KEEP_LOGS, 'npm-calls.json'), JSON.stringify(wrapper.calls(), null, 1));
		wrapper?.remove();
		for (const folder of folders) await removeUserFolder(folder);
	});

	afterEach(() => sandbox.reset());

	it('install on the main: the worker installs the package into its own user folder by itself', async () => {
		expect(fs.existsSync(workerPackageDir())).toBe(false);
		const installed = (await rest(session, 'POST', '/rest/community-packages', { name: PACKAGE, version: versions.first })) as InstalledPackage;
		expect(installed).toMatchObject({ packageName: PACKAGE, installedVersion: versions.first });
		const answered = Date.now();
		await waitFor('the worker to install the package', () => logCount(worker, WORKER_INSTALLED) === 1);
		process.stderr.write(`[installer] the worker had installed and loaded the package ${((Date.now() - answered) / 1000).toFixed(1)} s after the main answered\n`);
		expect(installedVersion(workerPackageDir())).toBe(versions.first);
		expect(fs.existsSync(path.join(workerPackageDir(), 'node_modules', 'form-data', 'package.json'))).toBe(true);
		// The worker ran npm itself, in its own folder (through the same wrapper on its PATH).
		expect(wrapper.calls().some((call) => call.args[0] === 'install' && call.cwd.startsWith(worker.userFolder))).toBe(true);
	});

	it('a clone example run is executed by the worker with its copy, and succeeds', async () => {
		workflowId = await createCloneWorkflow(session, filesDir, await createFaseehCredential(session));
		const run = await runWorkflow(session, runtime, workflowId);
		expect(run.error).toBeUndefined();
		expect(run.status).toBe('success');
		expect(fs.readFileSync(worker.logFile, 'utf8')).toContain(`Worker started execution ${run.id} (`);
		const [clone] = requestsTo(sandbox, 'POST', '/voices/clone');
		expect(clone.status).toBe(200);
		expect(run.output('Faseeh Voice Clone')[0]?.json.voice_id).toMatch(/^cl-/);
	});

	it('update on the main: 2.x workers reload the new copy; 1.x workers need a restart', async () => {
		const updated = (await rest(session, 'PATCH', '/rest/community-packages', { name: PACKAGE, version: versions.second })) as InstalledPackage;
		expect(updated.installedVersion).toBe(versions.second);
		if (runtime.n8nVersion.startsWith('1.')) {
			// n8n 1.x downloads the new files but does not unload the old copy first, so loading fails and the
			// worker keeps running the old code until it restarts.
			await waitFor('the worker to try the update', () => logCount(worker, WORKER_UPDATE_REFUSED_1X) === 1);
			expect(logCount(worker, WORKER_INSTALLED)).toBe(1);
			expect(installedVersion(workerPackageDir())).toBe(versions.second);
			await worker.stop();
			worker = await startWorker();
		} else {
			await waitFor('the worker to update the package', () => logCount(worker, WORKER_INSTALLED) === 2);
			expect(installedVersion(workerPackageDir())).toBe(versions.second);
		}
		const run = await runWorkflow(session, runtime, workflowId);
		expect(run.error).toBeUndefined();
		expect(run.status).toBe('success');
		expect(fs.readFileSync(worker.logFile, 'utf8')).toContain(`Worker started execution ${run.id} (`);
	});

	it('uninstall on the main: the worker removes its copy', async () => {
		await rest(session, 'DELETE', `/rest/community-packages?name=${encodeURIComponent(PACKAGE)}`);
		await waitFor('the worker to remove the package', () => logCount(worker, WORKER_UNINSTALLED) === 1);
		expect(fs.existsSync(workerPackageDir())).toBe(false);
	});
});

it('the API key appears nowhere in what n8n printed or logged', () => {
	// One log per n8n process: the regular server, the queue-mode main and worker, per runtime.
	expect(n8nOutput.filter(Boolean).length).toBeGreaterThanOrEqual(3 * RUNTIMES.length);
	const everything = n8nOutput.join('\n');
	expect(everything).toContain(PACKAGE);
	expect(everything).not.toContain(TEST_API_KEY);
});

/** What n8n's installer needs here: the npm wrapper first on PATH, the egress guard, unverified packages allowed. */
function installerEnv(rt: Runtime, npm: NpmWrapper): Env {
	return {
		PATH: `${npm.binDir}${path.delimiter}${runtimePathEnv(rt).PATH}`,
		N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
		N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
		HTTP_PROXY: guard.url,
		HTTPS_PROXY: guard.url,
		NO_PROXY: '127.0.0.1,localhost',
		N8N_LOG_LEVEL: 'debug',
		// n8n 1.x has no "mcp-registry" module and refuses to start when asked to disable it.
		...(rt.n8nVersion.startsWith('1.') ? { N8N_DISABLED_MODULES: undefined } : {}),
	};
}

/** What a worker logs once it has installed (or updated) and loaded, or removed, the package. */
const WORKER_INSTALLED = `Community package installed: ${PACKAGE}`;
const WORKER_UNINSTALLED = `Community package uninstalled: ${PACKAGE}`;
const WORKER_UPDATE_REFUSED_1X = `nodes package ${PACKAGE} is already loaded`;

function logCount(proc: N8nProcess, line: string): number {
	return fs.readFileSync(proc.logFile, 'utf8').split(line).length - 1;
}

function installedVersion(packageDir: string): string | undefined {
	try {
		return readJson(path.join(packageDir, 'package.json')).version;
	} catch {
		return undefined;
	}
}

async function waitFor(what: string, done: () => boolean, timeoutMs = 120_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!done()) {
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
}

// --- REST -------------------------------------------------------------------------------------

interface InstalledPackage {
	packageName: string;
	installedVersion: string;
	installedNodes: Array<{ name: string; type: string }>;
}

/** The Faseeh API credential pointing at the sandbox, created as the owner would in the editor. */
async function createFaseehCredential(s: Session): Promise<string> {
	const credential = (await rest(s, 'POST', '/rest/credentials', {
		name: 'Faseeh API',
		type: 'faseehApi',
		data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl },
	})) as { id: string };
	return credential.id;
}

/** Saves examples/clone-and-speak.json (files in `filesDir`) as a workflow; without a credential id, its Faseeh nodes have none. */
async function createCloneWorkflow(s: Session, filesDir: string, credentialId?: string): Promise<string> {
	const example = cloneExample(filesDir);
	const nodes = (example.nodes as Array<Record<string, unknown>>).map((node) => {
		if (!node.credentials) return node;
		const { credentials, ...withoutCredentials } = node;
		void credentials;
		return credentialId ? { ...node, credentials: { faseehApi: { id: credentialId, name: 'Faseeh API' } } } : withoutCredentials;
	});
	const created = (await rest(s, 'POST', '/rest/workflows', {
		name: example.name,
		nodes,
		connections: example.connections,
		settings: example.settings,
		active: false,
	})) as { id: string };
	return created.id;
}

/** The Faseeh node types the editor would list. */
async function faseehTypes(s: Session): Promise<string[]> {
	return await packageTypes(s, PACKAGE);
}

// --- Small helpers ----------------------------------------------------------------------------

/** examples/clone-and-speak.json with its file paths in `filesDir`. */
function cloneExample(filesDir: string): Record<string, unknown> {
	const text = fs
		.readFileSync(path.join(REPO, 'examples', 'clone-and-speak.json'), 'utf8')
		.split('/home/node/.n8n-files/')
		.join(`${filesDir}/`);
	return JSON.parse(text) as Record<string, unknown>;
}

function readJson(file: string): { version: string; dependencies: Record<string, string> } {
	return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function bumpPatch(version: string): string {
	const [major, minor, patch] = version.split('.').map((n) => Number.parseInt(n, 10));
	return `${major}.${minor}.${patch + 1}`;
}
