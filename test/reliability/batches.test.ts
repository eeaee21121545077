/**
 * Batches (docs/reliability.md, B1–B5): 100 items where every 7th fails, at concurrency 1 and 5,
 * with and without "continue on fail". Nothing is lost: every item has exactly one output, in
 * input order, paired with its input.
 */
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { cleanupHarness } from '../harness/n8nHarness';
import { startSandbox } from '../helpers/faseeh';
import type { FaseehSandbox, RecordedRequest } from '../sandbox/FaseehSandbox';
import type { BatchFailure } from './batches';
import { expectedFailureJson, failsInBatch, range, runBatch, sentIndexes } from './batches';

const COUNT = 100;
const FAILED = range(0, COUNT).filter(failsInBatch);
const SUCCEEDED = range(0, COUNT).filter((index) => !failsInBatch(index));

/** When each request arrived and when its answer was finished (sandbox clock). */
interface Timed {
	index: number;
	arrivedAt: number;
	doneAt: number;
	status?: number;
}
let timeline: Timed[] = [];
function record(request: RecordedRequest): void {
	const doneAt = Date.now();
	const index = Number(/^Voice (\d+)$/.exec(request.fields?.name ?? '')?.[1]);
	timeline.push({ index, arrivedAt: doneAt - (request.durationMs ?? 0), doneAt, status: request.status });
}

let fast: FaseehSandbox;
/** With latency, five requests really overlap at concurrency 5. */
let slow: FaseehSandbox;
const sandboxFor = (concurrency: number) => (concurrency === 1 ? fast : slow);

beforeAll(async () => {
	fast = await startSandbox({ onRequestDone: record });
	slow = await startSandbox({ latencyMs: 15, onRequestDone: record });
});
beforeEach(() => {
	fast.reset();
	slow.reset();
	timeline = [];
});
afterAll(async () => {
	await fast.stop();
	await slow.stop();
	await cleanupHarness();
});

describe.each([1, 5])('concurrency %i', (concurrency) => {
	it.each([
		['B1', 'pre-request'],
		['B2', 'api'],
	] as Array<[string, BatchFailure]>)(
		'%s continue on fail, %s failures: 100 outputs in input order, paired, failures carry the message and codes',
		async (_id, failure) => {
			const sandbox = sandboxFor(concurrency);
			const result = await runBatch(sandbox, failure, COUNT, concurrency, { onError: 'continueRegularOutput' });
			expect(result.error).toBeUndefined();
			expect(result.items).toHaveLength(COUNT);
			expect(result.items.map((item) => item.pairedItem)).toEqual(range(0, COUNT).map((item) => ({ item })));
			for (const [index, item] of result.items.entries()) {
				if (failsInBatch(index)) {
					expect(item.json).toEqual(expectedFailureJson(failure, index));
				} else {
					expect(item.json).toMatchObject({ name: `Voice ${index}`, voice_id: expect.stringMatching(/^cl-/) });
				}
			}
			// Pre-request failures send nothing; API failures are sent once and not retried.
			expect(sentIndexes(sandbox)).toEqual(failure === 'pre-request' ? SUCCEEDED : range(0, COUNT));
			const refused = sandbox.requests.filter((request) => request.status === 400).length;
			expect(refused).toBe(failure === 'api' ? FAILED.length : 0);
		},
	);

	it('B3 stop on a pre-request failure: the error names [item 6], no later item is sent', async () => {
		const sandbox = sandboxFor(concurrency);
		const result = await runBatch(sandbox, 'pre-request', COUNT, concurrency);
		expect(result.error).toBeInstanceOf(NodeOperationError);
		expect(result.error?.message).toBe('Parameter "Name" is empty [item 6]');
		expect((result.error as NodeOperationError).context.itemIndex).toBe(6);
		// Concurrency N works on 2N items at once and stops at the first failure it knows of. At 1
		// (two workers), item 6 is taken once item 4 has finished, while item 5 is being checked or
		// is in flight: items 0-4 are sent, and item 5 only if it got its slot first. At 5, items
		// 0-9 are taken at once and item 6 fails before any earlier item got a slot: none is sent.
		const sent = sentIndexes(sandbox);
		if (concurrency === 1) expect([range(0, 5), range(0, 6)]).toContainEqual(sent);
		else expect(sent).toEqual([]);
		expect(result.items).toEqual([]);
	});

	it('B4 stop on an API failure: the error names [item 6]; no item is started once the failure is known', async () => {
		const sandbox = sandboxFor(concurrency);
		const result = await runBatch(sandbox, 'api', COUNT, concurrency);
		const error = result.error as NodeApiError;
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toBe('Model not found: faseeh-v0-retired');
		// Faseeh's message is kept as sent, so the item is named at the end of the description.
		// Before it: the voices the batch had already created (their outputs are lost with the failure).
		expect(error.description).toMatch(/\(HTTP 400, Faseeh error code 40001\) Before it stopped, this run created \d+ voices?: .*do not clone those items again\. \[item 6\]$/);
		expect(error.context.itemIndex).toBe(6);
		const created = error.context.completedItems as number[];
		expect(error.description).toContain(`this run created ${created.length} voice`);
		for (const item of created) expect(error.description).toMatch(new RegExp(`item ${item} → cl-`));
		expect(result.items).toEqual([]);

		const sent = sentIndexes(sandbox);
		if (concurrency === 1) {
			expect(sent).toEqual(range(0, 7));
		} else {
			// Items start in input order, so what was sent is a prefix 0..K that includes item 6.
			expect(sent).toEqual(range(0, sent.length));
			expect(sent.length).toBeGreaterThanOrEqual(7);
			// Once item 6's answer is out, only the up to concurrency − 1 requests the node had
			// already started may still arrive; had it gone on, ~90 more would follow.
			const failedAnswer = timeline.find((entry) => entry.index === 6);
			expect(failedAnswer?.status).toBe(400);
			const arrivedAfter = timeline.filter((entry) => entry.arrivedAt > (failedAnswer?.doneAt ?? 0));
			expect(arrivedAfter.length).toBeLessThanOrEqual(concurrency - 1);
			// Everything in flight was answered (the node waited for it) and nothing comes later.
			expect(sandbox.requests.every((request) => request.status !== undefined)).toBe(true);
			const settled = sandbox.requests.length;
			await new Promise((resolve) => setTimeout(resolve, 100));
			expect(sandbox.requests).toHaveLength(settled);
		}
	});
});

it.each(['pre-request', 'api'] as BatchFailure[])(
	'B5 continue using the error output, %s failures: successes on output 0, failures on output 1, all paired',
	async (failure) => {
		const result = await runBatch(slow, failure, COUNT, 5, { onError: 'continueErrorOutput' });
		expect(result.error).toBeUndefined();
		const [success, errors] = result.outputs;
		expect(success.map((item) => item.pairedItem)).toEqual(SUCCEEDED.map((item) => ({ item })));
		expect(success.map((item) => item.json.name)).toEqual(SUCCEEDED.map((index) => `Voice ${index}`));
		expect(errors.map((item) => item.pairedItem)).toEqual(FAILED.map((item) => ({ item })));
		for (const [position, item] of errors.entries()) {
			const index = FAILED[position];
			const { error, ...details } = expectedFailureJson(failure, index);
			// n8n merges the input item's JSON into an error-output item.
			expect(item.json).toEqual({ index, error, details });
		}
	},
);
