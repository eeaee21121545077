/**
 * Browser check: the package installed into a real n8n 2.41.1, its editor opened in Chromium
 * (Debian's package, driven by playwright-core), and the Faseeh nodes' parameter panels rendered
 * from the installed node descriptions, with the model list loaded from the sandbox.
 *
 * Takes clone-and-speak-workflow.png and voice-clone-node.png into test-output/screenshots/
 * (untracked), or over the tracked docs/images/ ones with UPDATE_SCREENSHOTS=1.
 * On a failure, a screenshot of the page is saved to test-output/ for debugging.
 *
 * Needs Debian's chromium: when /usr/bin/chromium is missing it is installed with apt-get
 * (root, about 115 packages), which is what `npm run test:all` may install on a fresh machine.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { chromium } from 'playwright-core';
import type { BrowserContext, Locator, Page } from 'playwright-core';

import { createUserFolder, importCredentials, installPackage, login, ownerEnv, removeUserFolder, startN8nServer } from '../../scripts/lib/n8n';
import type { N8nServer } from '../../scripts/lib/n8n';
import { ensureRuntime } from '../../scripts/lib/runtime';
import { CREDENTIAL_ID, CREDENTIAL_NAME, importExamples, syntheticRecording } from '../../scripts/lib/stack';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { TEST_API_KEY, requestsTo, startSandbox } from '../helpers/faseeh';

const REPO = path.resolve(__dirname, '..', '..');
const FAILURE_DIR = path.join(REPO, 'test-output');
/** The README's screenshots are only rewritten when asked for; a normal run leaves the tree clean. */
const IMAGES_DIR =
	process.env.UPDATE_SCREENSHOTS === '1' ? path.join(REPO, 'docs', 'images') : path.join(FAILURE_DIR, 'screenshots');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
];
const OWNER = { email: 'browser-test@example.com', password: 'Browser-test-1' };
const WORKFLOW_ID = 'faseehCloneAndSpeak';
/** The editor is slow on a 2-core machine, the first load especially: wait generously. */
const UI_TIMEOUT_MS = 60_000;

let sandbox: FaseehSandbox | undefined;
let server: N8nServer | undefined;
let userFolder: string | undefined;
let userDataDir: string | undefined;
let context: BrowserContext | undefined;
let page: Page;

/** Debian's chromium, installed with apt when missing (never a browser download). */
function ensureChromium(): void {
	if (fs.existsSync(CHROMIUM)) return;
	process.stderr.write(`${CHROMIUM} is missing: installing Debian's chromium with apt-get (needs root)\n`);
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
	execFileSync('apt-get', ['install', '-y', 'chromium'], { stdio: 'inherit', env });
	if (!fs.existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} does not exist`);
}

const canvasNode = (name: string) => page.locator(`[data-test-id="canvas-node"][data-node-name="${name}"]`);
const ndv = () => page.locator('[data-test-id="ndv"]');
/** A parameter's input element inside the open node panel. */
const parameterInput = (name: string) => ndv().locator(`[data-test-id="parameter-input-${name}"] input`).first();
const parameterLabel = (name: string) => ndv().locator(`label[for="${name}"]`).first();

/** Runs a step; on failure keeps a screenshot of the page in test-output/ before rethrowing. */
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
	try {
		return await fn();
	} catch (err) {
		try {
			fs.mkdirSync(FAILURE_DIR, { recursive: true });
			const file = path.join(FAILURE_DIR, `browser-${name}.png`);
			await page.screenshot({ path: file });
			process.stderr.write(`browser test step "${name}" failed; screenshot: ${file}\n`);
		} catch {
			// no page to capture; the original error matters
		}
		throw err;
	}
}

/** Waits until an input shows `expected` (inputs are filled in asynchronously); fails with the last value seen. */
async function waitForValue(input: Locator, expected: string | RegExp): Promise<void> {
	const deadline = Date.now() + UI_TIMEOUT_MS;
	let last = '';
	for (;;) {
		last = await input.inputValue();
		if (typeof expected === 'string' ? last === expected : expected.test(last)) return;
		if (Date.now() > deadline) throw new Error(`input value is ${JSON.stringify(last)}, expected ${String(expected)}`);
		await new Promise((resolve) => setTimeout(resolve, 250));
	}
}

/** Waits until every image on the page (node icons) has loaded, so screenshots are complete. */
async function imagesLoaded(): Promise<void> {
	await page.waitForFunction('Array.from(document.images).every((img) => img.complete)', undefined, { timeout: UI_TIMEOUT_MS });
}

/** Parks the mouse on an empty spot (canvas background, or the panel's empty output area) so no hover toolbar or tooltip shows in a screenshot. */
async function moveMouseAway(): Promise<void> {
	await page.mouse.move(1150, 720);
}

/** Double-clicks a canvas node and waits for its panel (NDV) to show that node's name. */
async function openNode(name: string): Promise<void> {
	await closeNodeIfOpen(); // a panel left open by a failed step would cover the canvas
	await canvasNode(name).dblclick();
	await ndv().locator('[data-test-id="inline-edit-preview"]', { hasText: name }).first().waitFor({ state: 'visible' });
}

async function closeNodeIfOpen(): Promise<void> {
	if (!(await ndv().isVisible())) return;
	await ndv().locator('[data-test-id="ndv-close-button"]').click();
	await ndv().waitFor({ state: 'hidden' });
}

beforeAll(async () => {
	ensureChromium();
	const runtime = await ensureRuntime();
	sandbox = await startSandbox();
	userFolder = await createUserFolder('faseeh-browser-');
	await installPackage(userFolder, REPO);
	fs.writeFileSync(path.join(userFolder, 'files', 'recording.wav'), syntheticRecording());
	await importCredentials(runtime, userFolder, [
		{ id: CREDENTIAL_ID, name: CREDENTIAL_NAME, type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
	]);
	await importExamples(runtime, userFolder);
	server = await startN8nServer(runtime, userFolder, {
		env: { ...(await ownerEnv(runtime, OWNER)), N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' },
	});

	// Sign in over REST, then give the browser the session: the auth cookie, and the browser id
	// it is bound to (n8n's editor sends it from localStorage as the `browser-id` header).
	const session = await login(server.url, OWNER.email, OWNER.password);
	const [cookieName, ...cookieValue] = session.cookie.split('=');
	// A fresh profile folder per run (launchPersistentContext passes it as --user-data-dir).
	userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-chromium-'));
	context = await chromium.launchPersistentContext(userDataDir, {
		executablePath: CHROMIUM,
		headless: true,
		args: CHROMIUM_ARGS,
		viewport: { width: 1440, height: 900 },
	});
	await context.addCookies([{ name: cookieName, value: cookieValue.join('='), url: server.url }]);
	await context.addInitScript({ content: `localStorage.setItem('n8n-browserId', ${JSON.stringify(session.browserId)});` });
	page = context.pages()[0] ?? (await context.newPage());
	page.setDefaultTimeout(UI_TIMEOUT_MS);
}, 30 * 60_000);

afterAll(async () => {
	await context?.close();
	await server?.stop();
	await sandbox?.stop();
	if (userFolder) await removeUserFolder(userFolder);
	if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
});

it('opens the clone-and-speak workflow on the editor canvas', async () => {
	await step('canvas', async () => {
		await page.goto(`${server!.url}/workflow/${WORKFLOW_ID}`);
		// If the session was not accepted the editor redirects to the sign-in page instead.
		await canvasNode('Faseeh Voice Clone').waitFor({ state: 'visible' });
		expect(page.url()).toContain(`/workflow/${WORKFLOW_ID}`);
		for (const name of ['Start', 'Read Recording', 'Preview Voice', 'Speak With New Voice', 'Write Speech']) {
			await canvasNode(name).waitFor({ state: 'visible' });
		}
		// The community nodes render with their own type (not as "unknown node").
		await expect(canvasNode('Faseeh Voice Clone').getAttribute('data-node-type')).resolves.toBe('n8n-nodes-faseeh.faseehVoiceClone');
	});
});

it('runs the workflow from the editor (Execute workflow) against the sandbox', async () => {
	await step('execute', async () => {
		await page.locator('[data-test-id="execute-workflow-button"]').click();
		// Every node shows its success mark once the run is over.
		for (const name of ['Preview Voice', 'Faseeh Voice Clone', 'Speak With New Voice', 'Write Speech']) {
			await canvasNode(name).locator('[data-test-id="canvas-node-status-success"]').waitFor({ state: 'visible' });
		}
		expect(requestsTo(sandbox!, 'POST', '/voices/clone').map((request) => request.status)).toEqual([200]);
		expect(fs.existsSync(path.join(userFolder!, 'files', 'first-words.wav'))).toBe(true);
		await imagesLoaded();
		await moveMouseAway();
		fs.mkdirSync(IMAGES_DIR, { recursive: true });
		await page.screenshot({ path: path.join(IMAGES_DIR, 'clone-and-speak-workflow.png') });
	});
});

it('the Faseeh Voice Clone node panel renders its parameters', async () => {
	await step('voice-clone-panel', async () => {
		await openNode('Faseeh Voice Clone');
		await parameterInput('voiceBinaryPropertyName').waitFor({ state: 'visible' });
		await expect(parameterLabel('voiceBinaryPropertyName').innerText()).resolves.toContain('Voice File Field');
		await waitForValue(parameterInput('voiceBinaryPropertyName'), 'voice_file');
		await expect(parameterLabel('referenceBinaryPropertyName').innerText()).resolves.toContain('Reference Audio Field');
		await waitForValue(parameterInput('referenceBinaryPropertyName'), 'reference_audio_file');
		await expect(parameterLabel('stability').innerText()).resolves.toContain('Stability');
		await waitForValue(parameterInput('stability'), /^0\.50?$/);
		await waitForValue(parameterInput('name'), 'My Narrator');
		// The credential picker shows the imported credential.
		await waitForValue(ndv().locator('[data-test-id="node-credentials-select"] input').first(), CREDENTIAL_NAME);
		await imagesLoaded();
		await moveMouseAway();
		await page.screenshot({ path: path.join(IMAGES_DIR, 'voice-clone-node.png') });
		await closeNodeIfOpen();
	});
});

it('the model dropdown lists the models loaded from the Faseeh API (GET /models)', async () => {
	await step('model-dropdown', async () => {
		// The clone node's model is an expression in this example; Preview Voice has a fixed one.
		await openNode('Preview Voice');
		const model = parameterInput('model');
		// The select shows the model's display name once the list was loaded from GET /models.
		await waitForValue(model, 'Faseeh V1 Preview');
		const option = (title: string) => page.getByRole('option').filter({ hasText: new RegExp(`^${title}`) });
		// The select can ignore a click while the panel is still settling: click until it opens.
		const deadline = Date.now() + UI_TIMEOUT_MS;
		for (;;) {
			await model.click();
			try {
				await option('Faseeh V1 Preview').first().waitFor({ state: 'visible', timeout: 5000 });
				break;
			} catch (err) {
				if (Date.now() > deadline) throw err;
			}
		}
		await option('Faseeh Mini V1 Preview').first().waitFor({ state: 'visible' });
		// The descriptions come from the sandbox's answer, so this is not the built-in fallback list.
		await expect(option('Faseeh Mini V1 Preview').first().innerText()).resolves.toContain('(sandbox)');
		// A model only the sandbox lists: the built-in fallback could not show it.
		await option('Faseeh Sandbox-Only V0').first().waitFor({ state: 'visible' });

		const modelRequests = requestsTo(sandbox!, 'GET', '/models');
		expect(modelRequests.length).toBeGreaterThan(0);
		expect(modelRequests.every((request) => request.status === 200)).toBe(true);
		expect(modelRequests[0].headers['x-api-key']).toBe(TEST_API_KEY);
		await page.keyboard.press('Escape');
		await closeNodeIfOpen();
	});
});
