/**
 * S1 (docs/reliability.md): one run through every error path of the catalogue and the batches,
 * with n8n logging at debug level, asserting the API key appears nowhere: not in error messages,
 * descriptions, context or causes (as thrown, as n8n persists them with toJSON, as the console
 * prints them), not in the run data or output items, and not in anything written to the console.
 */
import { cleanupHarness } from '../harness/n8nHarness';
import { TEST_API_KEY } from '../helpers/faseeh';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import type { BatchFailure } from './batches';
import { runBatch } from './batches';
import { CATALOGUE_CASES, WRONG_API_KEY, verifyCase } from './catalogue';
import { startCaseContext } from './context';
import { binaryFilesLeftOpen, captureConsole, everythingOf } from './support';

let context: Awaited<ReturnType<typeof startCaseContext>>;
const logLevelBefore = process.env.N8N_LOG_LEVEL;

beforeAll(async () => {
	// Read when n8n's Logger is first created (on the first run in this file): everything the
	// engine logs, errors with their causes included, goes to the console we capture.
	process.env.N8N_LOG_LEVEL = 'debug';
	context = await startCaseContext();
});
afterAll(async () => {
	await context.stop();
	await cleanupHarness();
	// Jest reuses the worker process for other test files: give them their silent logger back.
	if (logLevelBefore === undefined) delete process.env.N8N_LOG_LEVEL;
	else process.env.N8N_LOG_LEVEL = logLevelBefore;
});

/** The key as sent, and its secret part alone (in case something formats or truncates the prefix). */
const NEEDLES = [TEST_API_KEY, TEST_API_KEY.replace(/^fsk-test-/, ''), WRONG_API_KEY, WRONG_API_KEY.replace(/^fsk-wrong-/, '')];

function requestsWithKey(sandboxes: FaseehSandbox[]): number {
	return sandboxes.flatMap((sandbox) => sandbox.requests).filter((request) => request.headers['x-api-key'] === TEST_API_KEY).length;
}

it('S1 drives every error path; the API key appears in no error, output, run data or console output', async () => {
	const runs: Array<{ label: string; text: string }> = [];
	let keyedRequests = 0;
	const capture = captureConsole();
	try {
		for (const c of CATALOGUE_CASES) {
			for (const binaryMode of c.binaryModes ?? ['filesystem']) {
				const ctx = context.forMode(binaryMode);
				const result = await verifyCase(c, ctx);
				runs.push({ label: `${c.id} (${binaryMode})`, text: everythingOf(result) });
				keyedRequests += requestsWithKey([ctx.sandbox, ctx.tight]);
			}
		}
		const { sandbox } = context.forMode('filesystem');
		for (const failure of ['pre-request', 'api'] as BatchFailure[]) {
			for (const concurrency of [1, 5]) {
				for (const onError of [undefined, 'continueRegularOutput', 'continueErrorOutput'] as const) {
					sandbox.reset();
					const result = await runBatch(sandbox, failure, 14, concurrency, { onError });
					runs.push({ label: `batch ${failure} c${concurrency} ${onError ?? 'stop'}`, text: everythingOf(result) });
					keyedRequests += requestsWithKey([sandbox]);
				}
			}
		}
	} finally {
		capture.restore();
	}
	const consoleText = capture.text();

	// Controls: the key really was used, and n8n's error logging really reached the capture.
	expect(keyedRequests).toBeGreaterThan(50);
	expect(consoleText).toContain('Running node "Node Under Test" finished with error');
	expect(consoleText).toContain('Insufficient wallet balance. Required: $0.05, Available: $0.02');
	expect(consoleText).toContain('The connection to Faseeh was closed before an answer arrived');
	expect(runs.length).toBeGreaterThan(CATALOGUE_CASES.length);

	for (const needle of NEEDLES) {
		expect(runs.filter((run) => run.text.includes(needle)).map((run) => run.label)).toEqual([]);
		expect(consoleText.includes(needle)).toBe(false);
	}
	// Nothing else left behind either: no binary file of any run is still open.
	expect(await binaryFilesLeftOpen()).toEqual([]);
});
