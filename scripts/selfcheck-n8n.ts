/**
 * Proves the real-n8n harness works on this machine, using only n8n's own nodes:
 *   1. provision (or reuse) the Node 24 + n8n runtime
 *   2. Manual Trigger -> Code outputting {ok: true}, via import:workflow + execute
 *      (and a failing Code node: non-zero exit + the error message parsed)
 *   3. credentials import (checked by exporting them decrypted)
 *   4. community package install (a tiny package made here, installed the n8n way) and a
 *      workflow using its node
 *   5. Manual Trigger -> Read/Write Files from Disk -> Code reading the binary back,
 *      in binary data modes filesystem, database and default
 *   6. `n8n start`: /healthz, owner setup over REST, login, then owner via env vars
 *
 * Run: node -r ts-node/register/transpile-only scripts/selfcheck-n8n.ts
 * Exits non-zero on the first failed check; prints "N passed, 0 failed" at the end.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ensureRuntime, runtimeCacheDir, dirSize, type Runtime } from './lib/runtime';
import {
	createUserFolder,
	removeUserFolder,
	importWorkflow,
	importCredentials,
	executeWorkflow,
	installPackage,
	runN8n,
	nodeOutputItems,
	startN8nServer,
	setupOwner,
	login,
	ownerEnv,
	type N8nServer,
} from './lib/n8n';

let passed = 0;
const timings: Array<[string, number]> = [];

function check(cond: unknown, what: string, detail?: unknown): void {
	if (!cond) {
		const extra = detail === undefined ? '' : `\n${typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)}`;
		throw new Error(`CHECK FAILED: ${what}${extra}`);
	}
	passed++;
	console.log(`  ok - ${what}`);
}

async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
	const t = Date.now();
	try {
		return await fn();
	} finally {
		const ms = Date.now() - t;
		timings.push([label, ms]);
		console.log(`  (${label}: ${(ms / 1000).toFixed(1)}s)`);
	}
}

const manual = { id: 'n-manual', name: 'Manual', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} };
const chain = (...names: string[]) =>
	Object.fromEntries(
		names.slice(0, -1).map((n, i) => [n, { main: [[{ node: names[i + 1], type: 'main', index: 0 }]] }]),
	);

async function checkCodeWorkflow(rt: Runtime, uf: string) {
	console.log('\n[2] Manual Trigger -> Code {ok: true}');
	const wf = {
		id: 'selfcheckCode',
		name: 'selfcheck code',
		active: false,
		settings: {},
		nodes: [
			manual,
			{ id: 'n-code', name: 'Code', type: 'n8n-nodes-base.code', typeVersion: 2, position: [220, 0], parameters: { jsCode: 'return [{ json: { ok: true } }];' } },
		],
		connections: chain('Manual', 'Code'),
	};
	await timed('import:workflow (first call on a new user folder, runs DB migrations)', () => importWorkflow(rt, uf, wf));
	const res = await timed('execute (Code node via task runner)', () => executeWorkflow(rt, uf, wf.id));
	check(res.exitCode === 0, 'execute exits 0', res.stderr || res.stdout.slice(-3000));
	check(res.run?.status === 'success', 'execution status is success', res.run?.status);
	const items = nodeOutputItems(res.runData, 'Code');
	check(items.length === 1 && items[0].json.ok === true, 'Code node output is [{ok: true}]', items);

	const failing = {
		...wf,
		id: 'selfcheckFail',
		name: 'selfcheck failing code',
		nodes: [manual, { ...wf.nodes[1], parameters: { jsCode: "throw new Error('boom from selfcheck');" } }],
	};
	await importWorkflow(rt, uf, failing);
	const bad = await executeWorkflow(rt, uf, failing.id);
	check(bad.exitCode !== 0, `failing workflow: execute exits non-zero (${bad.exitCode})`);
	check(/boom from selfcheck/.test(bad.errorMessage ?? ''), `failing workflow: error message parsed from output ("${bad.errorMessage}")`, bad.stdout.slice(-3000));
}

async function checkBinaryWorkflow(rt: Runtime, mode: 'filesystem' | 'database' | 'default') {
	console.log(`\n[5] Read/Write Files from Disk, N8N_DEFAULT_BINARY_DATA_MODE=${mode}`);
	const uf = await createUserFolder();
	try {
		const content = `hello from selfcheck (${mode}) — مرحبا\n`;
		// Must be inside N8N_RESTRICT_FILE_ACCESS_TO (n8nEnv sets it to <userFolder>/files).
		const file = path.join(uf, 'files', 'input.txt');
		fs.writeFileSync(file, content);
		const wf = {
			id: `selfcheckBin${mode.slice(0, 4)}`,
			name: `selfcheck binary ${mode}`,
			active: false,
			settings: {},
			nodes: [
				manual,
				{ id: 'n-read', name: 'Read', type: 'n8n-nodes-base.readWriteFile', typeVersion: 1.1, position: [220, 0], parameters: { operation: 'read', fileSelector: file, options: {} } },
				{
					id: 'n-check',
					name: 'Check',
					type: 'n8n-nodes-base.code',
					typeVersion: 2,
					position: [440, 0],
					parameters: {
						// Reads the bytes back through n8n's binary data service (whatever the mode).
						jsCode:
							"const buf = await this.helpers.getBinaryDataBuffer(0, 'data');\n" +
							"return [{ json: { text: buf.toString('utf8'), length: buf.length } }];",
					},
				},
			],
			connections: chain('Manual', 'Read', 'Check'),
		};
		await importWorkflow(rt, uf, wf);
		const res = await timed(`execute binary (${mode})`, () =>
			executeWorkflow(rt, uf, wf.id, { N8N_DEFAULT_BINARY_DATA_MODE: mode }),
		);
		check(res.exitCode === 0 && res.run?.status === 'success', `[${mode}] execute succeeds`, res.errorMessage ?? res.stderr ?? res.stdout.slice(-3000));
		const readItems = nodeOutputItems(res.runData, 'Read');
		const bin = readItems[0]?.binary?.data;
		check(bin && bin.fileName === 'input.txt' && bin.mimeType === 'text/plain', `[${mode}] Read node outputs binary "data" (input.txt, text/plain)`, readItems);
		// Where the bytes live depends on the mode: inline base64 (default) or a reference id.
		if (mode === 'default') {
			check(Buffer.from(String(bin!.data), 'base64').toString('utf8') === content, `[${mode}] binary is inline base64 with the file content`, bin);
		} else {
			const prefix = mode === 'filesystem' ? 'filesystem-v2:' : 'database:';
			check(typeof bin!.id === 'string' && String(bin!.id).startsWith(prefix), `[${mode}] binary is stored by reference (id ${String(bin!.id)})`, bin);
		}
		const checkItems = nodeOutputItems(res.runData, 'Check');
		check(checkItems[0]?.json.text === content, `[${mode}] Code node reads back the exact bytes`, checkItems);
	} finally {
		await removeUserFolder(uf);
	}
}

async function checkCredentialsImport(rt: Runtime, uf: string) {
	console.log('\n[3] import:credentials (plain-text data, n8n encrypts it)');
	await importCredentials(rt, uf, [
		{ id: 'selfcheckCred01', name: 'selfcheck header auth', type: 'httpHeaderAuth', data: { name: 'X-Test', value: 'secret' } },
	]);
	check(true, 'import:credentials reports 1 credential imported');
	const out = path.join(uf, 'creds-export.json');
	const exp = await runN8n(rt, uf, ['export:credentials', '--all', '--decrypted', `--output=${out}`]);
	const exported = exp.exitCode === 0 ? JSON.parse(fs.readFileSync(out, 'utf8')) : [];
	const cred = exported.find((c: { id: string }) => c.id === 'selfcheckCred01');
	check(cred?.type === 'httpHeaderAuth' && cred?.data?.value === 'secret', 'credential stored and decrypts back to the same data', exp.stdout + exp.stderr);
}

/** A throwaway community package with one node, so this check doesn't depend on `npm run build`. */
function makeDemoPackage(): string {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-demo-pkg-'));
	fs.mkdirSync(path.join(dir, 'dist'));
	fs.writeFileSync(
		path.join(dir, 'package.json'),
		JSON.stringify(
			{
				name: 'n8n-nodes-selfcheck-demo',
				version: '0.0.1',
				main: 'index.js',
				files: ['dist'],
				keywords: ['n8n-community-node-package'],
				n8n: { n8nNodesApiVersion: 1, nodes: ['dist/Demo.node.js'], credentials: [] },
				// a runtime dependency, to prove `npm install` inside the package works
				dependencies: { 'is-number': '7.0.0' },
				peerDependencies: { 'n8n-workflow': '*' },
			},
			null,
			2,
		),
	);
	fs.writeFileSync(
		path.join(dir, 'dist', 'Demo.node.js'),
		`const isNumber = require('is-number');
class Demo {
  constructor() {
    this.description = {
      displayName: 'Selfcheck Demo', name: 'demo', group: ['transform'], version: 1,
      description: 'test node', defaults: { name: 'Selfcheck Demo' },
      inputs: ['main'], outputs: ['main'], properties: [],
    };
  }
  async execute() {
    return [[{ json: { demo: true, depLoaded: isNumber(5) } }]];
  }
}
module.exports = { Demo };
`,
	);
	return dir;
}

async function checkCommunityPackage(rt: Runtime, uf: string) {
	console.log('\n[4] community package installed the n8n way, then executed');
	const pkgDir = makeDemoPackage();
	try {
		const installed = await timed('installPackage (npm pack + untar + npm install)', () => installPackage(uf, pkgDir));
		check(fs.existsSync(path.join(installed, 'node_modules', 'is-number')), `package installed at ${installed} with its runtime deps`);
		const wf = {
			id: 'selfcheckDemo',
			name: 'selfcheck demo node',
			active: false,
			settings: {},
			nodes: [manual, { id: 'n-demo', name: 'Demo', type: 'n8n-nodes-selfcheck-demo.demo', typeVersion: 1, position: [220, 0], parameters: {} }],
			connections: chain('Manual', 'Demo'),
		};
		await importWorkflow(rt, uf, wf);
		const res = await executeWorkflow(rt, uf, wf.id);
		const items = nodeOutputItems(res.runData, 'Demo');
		check(res.exitCode === 0 && items[0]?.json.demo === true && items[0]?.json.depLoaded === true, 'n8n loads the community node and runs it', res.errorMessage ?? res.stdout.slice(-3000));
	} finally {
		fs.rmSync(pkgDir, { recursive: true, force: true });
	}
}

/** The part of GET /rest/settings that decides between the sign-up and sign-in screens. */
type Settings = { data?: { userManagement?: { showSetupOnFirstLoad?: boolean } } };

async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
	const res = await fetch(url, init);
	if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
	return (await res.json()) as T;
}

async function checkServer(rt: Runtime) {
	console.log('\n[6] n8n start: /healthz and owner setup');
	const owner = { email: 'dev@example.com', password: 'Selfcheck-Pass1' };
	const uf = await createUserFolder();
	let server: N8nServer | undefined;
	try {
		server = await timed('n8n start until /healthz + /healthz/readiness', () => startN8nServer(rt, uf));
		const health = await getJson<{ status?: string }>(`${server.url}/healthz`);
		check(health.status === 'ok', `GET ${server.url}/healthz -> ${JSON.stringify(health)}`);
		const before = await getJson<Settings>(`${server.url}/rest/settings`);
		check(before.data?.userManagement?.showSetupOnFirstLoad === true, 'fresh instance would show the owner sign-up screen', before.data?.userManagement);
		const setup = await setupOwner(server.url, owner);
		check(setup.created && setup.cookie?.startsWith('n8n-auth='), 'POST /rest/owner/setup creates the owner and returns a session cookie', setup);
		const after = await getJson<Settings>(`${server.url}/rest/settings`);
		check(after.data?.userManagement?.showSetupOnFirstLoad === false, 'after setup the editor shows sign-in, not sign-up');
		const again = await setupOwner(server.url, owner);
		check(!again.created, 'setupOwner a second time reports already set up (no error)');
		const session = await login(server.url, owner.email, owner.password);
		check(session.cookie.startsWith('n8n-auth='), 'POST /rest/login works with the owner credentials');
		const meBody = await getJson<{ data?: { email?: string } }>(`${server.url}/rest/login`, {
			headers: { cookie: session.cookie, 'browser-id': session.browserId },
		});
		check(meBody.data?.email === owner.email, 'GET /rest/login with the session cookie returns the owner', meBody);
		const url = server.url;
		await timed('server stop (SIGTERM, graceful)', () => server!.stop());
		server = undefined;
		const stillUp = await fetch(`${url}/healthz`).then(() => true, () => false);
		check(!stillUp, 'server stopped (port closed)');

		// Alternative: owner from env vars at startup, no HTTP call (new user folder).
		const uf2 = await createUserFolder();
		try {
			const env = await ownerEnv(rt, { email: 'env-owner@example.com', password: 'Env-Owner-Pass1' });
			server = await startN8nServer(rt, uf2, { env });
			const s = await getJson<Settings>(`${server.url}/rest/settings`);
			check(s.data?.userManagement?.showSetupOnFirstLoad === false, 'N8N_INSTANCE_OWNER_* env: no sign-up screen on first start');
			const s2 = await login(server.url, 'env-owner@example.com', 'Env-Owner-Pass1');
			check(s2.cookie.startsWith('n8n-auth='), 'N8N_INSTANCE_OWNER_* env: login works');
			await server.stop();
			server = undefined;
		} finally {
			await removeUserFolder(uf2);
		}
	} finally {
		await server?.stop();
		await removeUserFolder(uf);
	}
}

async function main() {
	const t0 = Date.now();
	console.log('[1] runtime');
	const rt = await timed('ensureRuntime', () => ensureRuntime());
	console.log(`  n8n ${rt.n8nVersion} at ${rt.n8nDir}\n  node ${rt.nodeBin}\n  cache ${runtimeCacheDir()} (${await dirSize(runtimeCacheDir())})`);
	check(fs.existsSync(rt.nodeBin) && fs.existsSync(rt.n8nBin), 'runtime binaries exist');

	const uf = await createUserFolder();
	try {
		await checkCodeWorkflow(rt, uf);
		await checkCredentialsImport(rt, uf);
		await checkCommunityPackage(rt, uf);
	} finally {
		await removeUserFolder(uf);
	}
	for (const mode of ['filesystem', 'database', 'default'] as const) await checkBinaryWorkflow(rt, mode);
	await checkServer(rt);

	console.log('\ntimings:');
	for (const [label, ms] of timings) console.log(`  ${(ms / 1000).toFixed(1).padStart(6)}s  ${label}`);
	console.log(`total ${((Date.now() - t0) / 1000).toFixed(1)}s`);
	console.log(`${passed} passed, 0 failed`);
}

main().catch((err) => {
	console.error(`\n${err instanceof Error ? err.stack ?? err.message : String(err)}`);
	console.log(`${passed} passed, 1 failed`);
	process.exit(1);
});
