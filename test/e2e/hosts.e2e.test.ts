/**
 * End-to-end, n8n 2.41.1: the package installed with the commands of the custom Docker image
 * (examples/docker/: install-package.sh at build time, faseeh-entrypoint.sh at start) on a plain
 * folder shaped like the image's /opt and /home/node/.n8n, and the credential's real host names:
 *
 * - n8n loads the nodes from what the image's commands leave in the user folder;
 * - credentials saved before an upgrade (stored as n8n's editor stores them: without a Base URL
 *   when it was left at its default; or with one, as the REST API, a CLI import or a choice stores
 *   it) reach the same host after the image is rebuilt with the next version, and the entrypoint
 *   has replaced the copy an older image left in the user folder;
 * - a credential on the Munsit host passes the credential test and runs every operation.
 *
 * n8n reaches api.munsit.com, api.faseeh.ai and ae.api.faseeh.ai through HTTPS_PROXY and
 * NODE_EXTRA_CA_CERTS (test/helpers/hostRoute.ts): TLS with a test CA, each host answered by its
 * own sandbox. Docker itself is not run (no engine on the test machines): the image's two scripts
 * are, unchanged.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createUserFolder, login, removeUserFolder, setupOwner, startN8nServer } from '../../scripts/lib/n8n';
import type { N8nServer } from '../../scripts/lib/n8n';
import { packPackage } from '../../scripts/lib/registry';
import { ensureRuntime } from '../../scripts/lib/runtime';
import type { Runtime } from '../../scripts/lib/runtime';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { TEST_API_KEY, sha256, startSandbox, wavRecording } from '../helpers/faseeh';
import { FASEEH_GLOBAL_HOST, FASEEH_UAE_HOST, MUNSIT_HOST, startHostRoute } from '../helpers/hostRoute';
import type { HostRoute } from '../helpers/hostRoute';
import { packageTypes, rest, restReady, runWorkflow } from './rest';
import type { Session } from './rest';

const REPO = path.resolve(__dirname, '..', '..');
const DOCKER = path.join(REPO, 'examples', 'docker');
const PACKAGE = 'n8n-nodes-faseeh';
const OWNER = { email: 'hosts@example.com', password: 'Hosts-test-1' };
const RECORDING = wavRecording(1.2, 210);
const MUNSIT = 'https://api.munsit.com/api/v1';

let runtime: Runtime;
let route: HostRoute;
const sandboxes: Record<string, FaseehSandbox> = {};
let work: string;
let userFolder: string;
let optDir: string;
let server: N8nServer | undefined;
let session: Session;
const tarballs = { first: '', next: '' };
const versions = { first: '', next: '' };
const n8nOutput: string[] = [];

/** The credentials saved before the upgrade: the data n8n stores for each, and the host it must reach. */
const SAVED: Array<{ name: string; data: Record<string, string>; host: string }> = [
	// Saved in n8n's editor with the Base URL left at its default: n8n stores no Base URL at all
	// (test/unit/credential.test.ts shows why, with n8n's own function).
	{ name: 'Default host, saved in the editor', data: {}, host: FASEEH_GLOBAL_HOST },
	{ name: 'Faseeh (Global), stored by the API', data: { baseUrl: 'https://api.faseeh.ai/api/v1' }, host: FASEEH_GLOBAL_HOST },
	{ name: 'Typed into the old text field', data: { baseUrl: 'https://api.faseeh.ai/api/v1/' }, host: FASEEH_GLOBAL_HOST },
	{ name: 'UAE data residency', data: { baseUrl: 'https://ae.api.faseeh.ai/api/v1' }, host: FASEEH_UAE_HOST },
	{ name: 'Munsit', data: { baseUrl: MUNSIT }, host: MUNSIT_HOST },
];
const credentialIds: Record<string, string> = {};
const probeIds: Record<string, string> = {};

function sh(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
	const base: NodeJS.ProcessEnv = {};
	// `npm run` exports npm_config_* (the repo's .npmrc); the image has none of them.
	for (const [key, value] of Object.entries(process.env)) if (!/^npm_config_/i.test(key)) base[key] = value;
	return new Promise((resolve, reject) => {
		execFile('sh', [path.join(DOCKER, script), ...args], { env: { ...base, ...env }, timeout: 10 * 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
			if (error) reject(new Error(`${script} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
			else resolve(`${stdout}${stderr}`);
		});
	});
}

/** What the image's RUN line does at build time: the package into /opt/n8n-nodes-faseeh (here: optDir). */
const buildImage = async (tarball: string) => await sh('install-package.sh', [tarball, optDir]);
/** What the image's entrypoint does at every start, before the official one (here: `true`). */
const startContainer = async () =>
	await sh('faseeh-entrypoint.sh', [], { HOME: userFolder, N8N_USER_FOLDER: userFolder, FASEEH_PACKAGE_DIR: optDir, FASEEH_NEXT_ENTRYPOINT: 'true' });

async function startN8n(): Promise<void> {
	server = await startN8nServer(runtime, userFolder, {
		env: {
			HTTPS_PROXY: route.proxyUrl,
			https_proxy: route.proxyUrl,
			NO_PROXY: '127.0.0.1,localhost',
			no_proxy: '127.0.0.1,localhost',
			NODE_EXTRA_CA_CERTS: route.caFile,
			N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem',
		},
	});
	await restReady(server.url);
}

async function stopN8n(): Promise<void> {
	await server?.stop();
	if (server && fs.existsSync(server.logFile)) n8nOutput.push(fs.readFileSync(server.logFile, 'utf8'));
	if (server) fs.rmSync(server.logFile, { force: true });
	server = undefined;
}

const installedVersion = () =>
	(JSON.parse(fs.readFileSync(path.join(userFolder, '.n8n', 'nodes', 'node_modules', PACKAGE, 'package.json'), 'utf8')) as { version: string }).version;

function node(name: string, type: string, parameters: Record<string, unknown>, position: number, credentialId?: string, settings: Record<string, unknown> = {}) {
	return {
		id: `${name.toLowerCase().replace(/[^a-z]+/g, '-')}-${position}`,
		name,
		type,
		typeVersion: type === 'n8n-nodes-base.readWriteFile' ? 1.1 : 1,
		position: [position * 220, 0],
		parameters,
		...settings,
		...(credentialId ? { credentials: { faseehApi: { id: credentialId, name: 'Faseeh API' } } } : {}),
	};
}

function chain(names: string[]) {
	const connections: Record<string, unknown> = {};
	for (let i = 0; i + 1 < names.length; i++) connections[names[i]] = { main: [[{ node: names[i + 1], type: 'main', index: 0 }]] };
	return connections;
}

async function saveWorkflow(name: string, nodes: unknown[], connections: Record<string, unknown>): Promise<string> {
	const created = (await rest(session, 'POST', '/rest/workflows', { name, nodes, connections, settings: {}, active: false })) as { id: string };
	return created.id;
}

/** Which host each sandbox was reached under, and how many requests it got. */
function reached(): Record<string, number> {
	const counts: Record<string, number> = {};
	for (const [host, sandbox] of Object.entries(sandboxes)) {
		for (const request of sandbox.requests) {
			expect(request.headers.host).toBe(host);
			counts[host] = (counts[host] ?? 0) + 1;
		}
	}
	return counts;
}

function resetSandboxes() {
	for (const sandbox of Object.values(sandboxes)) sandbox.reset();
	route.connects.length = 0;
}

beforeAll(async () => {
	runtime = await ensureRuntime();
	sandboxes[MUNSIT_HOST] = await startSandbox();
	sandboxes[FASEEH_GLOBAL_HOST] = await startSandbox({ sttRoutes: false });
	sandboxes[FASEEH_UAE_HOST] = await startSandbox({ sttRoutes: false });
	route = await startHostRoute(Object.fromEntries(Object.entries(sandboxes).map(([host, sandbox]) => [host, Number(new URL(sandbox.baseUrl).port)])));
	work = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-docker-'));
	optDir = path.join(work, 'opt', PACKAGE);
	versions.first = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
	const [major, minor, patch] = versions.first.split('.').map(Number);
	versions.next = `${major}.${minor}.${patch + 1}`;
	tarballs.first = await packPackage(REPO, work);
	tarballs.next = await packPackage(REPO, work, versions.next);
	userFolder = await createUserFolder('faseeh-hosts-');
	fs.writeFileSync(path.join(userFolder, 'files', 'recording.wav'), RECORDING);
}, 15 * 60_000);

afterAll(async () => {
	await stopN8n();
	await route?.stop();
	for (const sandbox of Object.values(sandboxes)) await sandbox.stop();
	if (userFolder) await removeUserFolder(userFolder);
	if (work) fs.rmSync(work, { recursive: true, force: true });
});

it('the image’s commands on a plain folder: n8n 2.41.1 loads both nodes from the copy in the user folder', async () => {
	await buildImage(tarballs.first);
	const built = path.join(optDir, 'node_modules');
	expect(fs.existsSync(path.join(built, 'form-data', 'package.json'))).toBe(true);
	expect(fs.existsSync(path.join(built, 'opusscript', 'package.json'))).toBe(true);
	expect(fs.existsSync(path.join(built, 'wasm-media-encoders', 'package.json'))).toBe(true);
	// Its peer dependency comes from n8n itself, as with n8n's own installer.
	expect(fs.existsSync(path.join(built, 'n8n-workflow'))).toBe(false);

	await startContainer();
	expect(installedVersion()).toBe(versions.first);
	await startN8n();
	const owner = await setupOwner(server!.url, OWNER);
	if (!owner.cookie) throw new Error('owner setup gave no session cookie');
	session = { url: server!.url, cookie: owner.cookie, browserId: owner.browserId };
	expect(await packageTypes(session, PACKAGE)).toEqual([
		'n8n-nodes-faseeh.faseeh',
		'n8n-nodes-faseeh.faseehTool',
		'n8n-nodes-faseeh.faseehVoiceClone',
		'n8n-nodes-faseeh.faseehVoiceCloneTool',
	]);
}, 10 * 60_000);

it('credentials saved before the upgrade each reach their host: no Base URL saved means api.faseeh.ai', async () => {
	for (const saved of SAVED) {
		const credential = (await rest(session, 'POST', '/rest/credentials', { name: saved.name, type: 'faseehApi', data: { apiKey: TEST_API_KEY, ...saved.data } })) as { id: string };
		credentialIds[saved.name] = credential.id;
		probeIds[saved.name] = await saveWorkflow(`Models via ${saved.name}`, [
			node('Start', 'n8n-nodes-base.manualTrigger', {}, 0),
			node('Models', 'n8n-nodes-faseeh.faseeh', { resource: 'model', operation: 'getMany' }, 1, credential.id),
		], chain(['Start', 'Models']));
	}
	await expectEachReachesItsHost();
});

it('the image rebuilt with the next version: the entrypoint replaces the old copy in the user folder, and the same credentials reach the same hosts', async () => {
	await stopN8n();
	await buildImage(tarballs.next);
	// The user folder still holds the copy the first image made (a volume keeps it across containers).
	expect(installedVersion()).toBe(versions.first);
	await startContainer();
	expect(installedVersion()).toBe(versions.next);
	await startN8n();
	session = { url: server!.url, ...(await login(server!.url, OWNER.email, OWNER.password)) };
	expect(await packageTypes(session, PACKAGE)).toHaveLength(4);
	await expectEachReachesItsHost();
}, 10 * 60_000);

it('a credential on the Munsit host passes the credential test, and runs every operation of both nodes', async () => {
	const tested = (await rest(session, 'POST', '/rest/credentials/test', {
		credentials: { id: credentialIds.Munsit, name: 'Munsit', type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: MUNSIT } },
	})) as { status: string; message: string };
	expect(tested).toMatchObject({ status: 'OK' });
	expect(reached()).toEqual({ [MUNSIT_HOST]: 1 });
	resetSandboxes();

	const id = credentialIds.Munsit;
	const files = path.join(userFolder, 'files');
	const flow = ['Start', 'Models', 'Voices', 'Read Recording', 'Preview Voice', 'Clone Voice', 'Speak', 'Transcribe'];
	const workflowId = await saveWorkflow('Every operation on Munsit', [
		node('Start', 'n8n-nodes-base.manualTrigger', {}, 0),
		node('Models', 'n8n-nodes-faseeh.faseeh', { resource: 'model', operation: 'getMany' }, 1, id),
		// Once each, whatever the number of items before them.
		node('Voices', 'n8n-nodes-faseeh.faseeh', { resource: 'voice', operation: 'getMany', returnAll: false, limit: 1 }, 2, id, { executeOnce: true }),
		node('Read Recording', 'n8n-nodes-base.readWriteFile', { operation: 'read', fileSelector: path.join(files, 'recording.wav'), options: { dataPropertyName: 'data' } }, 3, undefined, { executeOnce: true }),
		node('Preview Voice', 'n8n-nodes-faseeh.faseeh', { resource: 'voice', operation: 'preview', binaryPropertyName: 'data', text: 'مرحبا بك في فصيح، هذا صوتي الجديد', similarity: 0.75, model: 'faseeh-v1-preview' }, 4, id),
		node('Clone Voice', 'n8n-nodes-faseeh.faseehVoiceClone', { text: '={{ $json.text }}', model: '={{ $json.model }}', name: 'Munsit Voice', stability: 0.5 }, 5, id),
		node('Speak', 'n8n-nodes-faseeh.faseeh', { resource: 'speech', operation: 'generate', voiceId: { __rl: true, mode: 'id', value: '={{ $json.voice_id }}' }, text: 'أهلا وسهلا، هذه أول جملة بصوتي الجديد', model: 'faseeh-v1-preview', stability: 0.5 }, 6, id),
		node('Transcribe', 'n8n-nodes-faseeh.faseeh', { resource: 'audio', operation: 'transcribe', binaryPropertyName: 'data' }, 7, id),
	], chain(flow));
	const run = await runWorkflow(session, runtime, workflowId);
	expect(run.error).toBeUndefined();
	expect(run.status).toBe('success');
	expect(run.output('Clone Voice')[0]?.json.voice_id).toMatch(/^cl-/);
	const munsit = sandboxes[MUNSIT_HOST];
	const [speech] = munsit.requests.filter((request) => request.path === '/api/v1/text-to-speech/faseeh-v1-preview');
	expect((speech.json as { voice_id: string }).voice_id).toBe(run.output('Clone Voice')[0]?.json.voice_id);
	const [transcription] = munsit.requests.filter((request) => request.path === '/api/v1/audio/transcribe');
	const spoken = transcription.parts?.find((part) => part.name === 'file');
	expect(run.output('Transcribe')[0]?.json.text).toBe(munsit.transcriptFor(String(spoken?.sha256)));
	expect(munsit.requests.map((request) => `${request.method} ${request.path} ${request.status}`)).toEqual([
		'GET /api/v1/models 200',
		'GET /api/v1/voices 200',
		'POST /api/v1/voices/preview 200',
		'POST /api/v1/voices/clone 200',
		'POST /api/v1/text-to-speech/faseeh-v1-preview 200',
		'POST /api/v1/audio/transcribe 200',
	]);
	expect(reached()).toEqual({ [MUNSIT_HOST]: 6 });
	expect(sha256(RECORDING)).toBe(munsit.requests[2].parts?.find((part) => part.name === 'file')?.sha256);
});

it('n8n’s other outbound calls were refused by the test proxy, and the key is in no log', async () => {
	await stopN8n();
	expect(route.refused.every((target) => !target.startsWith('api.munsit.com') && !target.includes('faseeh'))).toBe(true);
	expect(n8nOutput.length).toBe(2);
	expect(n8nOutput.join('\n')).not.toContain(TEST_API_KEY);
});

async function expectEachReachesItsHost(): Promise<void> {
	for (const saved of SAVED) {
		resetSandboxes();
		const run = await runWorkflow(session, runtime, probeIds[saved.name]);
		expect({ credential: saved.name, status: run.status, error: run.error }).toEqual({ credential: saved.name, status: 'success', error: undefined });
		expect({ credential: saved.name, reached: reached() }).toEqual({ credential: saved.name, reached: { [saved.host]: 1 } });
		expect(route.connects).toEqual([`${saved.host}:443`]);
	}
	resetSandboxes();
}
