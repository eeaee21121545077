import type { INodeParameters } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { FaseehVoiceClone } from '../../nodes/FaseehVoiceClone/FaseehVoiceClone.node';
import { cleanupHarness } from '../harness/n8nHarness';
import type { FixtureItem } from '../harness/n8nHarness';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { part, requestsTo, runAgainst, startSandbox, wavRecording } from '../helpers/faseeh';

const PREVIEW = wavRecording(0.2, 300);
const ORIGINAL = wavRecording(0.3, 200);
const cloneItems = (count: number): FixtureItem[] =>
	Array.from({ length: count }, (_unused, index) => ({
		json: { index },
		binary: {
			voice_file: { data: PREVIEW, fileName: 'p.wav', mimeType: 'audio/wav' },
			reference_audio_file: { data: ORIGINAL, fileName: 'o.wav', mimeType: 'audio/wav' },
		},
	}));
const cloneParameters = (options: INodeParameters = {}): INodeParameters => ({
	text: 'نص المعاينة هنا',
	stability: 0.5,
	name: '={{ "Voice " + $json.index }}',
	model: 'faseeh-v1-preview',
	options,
});
const speechParameters = (options: INodeParameters = {}): INodeParameters => ({
	resource: 'speech',
	operation: 'generate',
	voiceId: { __rl: true, mode: 'id', value: 'ar-najdi-male-2' },
	text: '={{ "جملة رقم " + $json.index }}',
	model: 'faseeh-mini-v1-preview',
	stability: 0.5,
	options,
});

const sandboxes: FaseehSandbox[] = [];
async function sandboxWith(options: Parameters<typeof startSandbox>[0] = {}) {
	const sandbox = await startSandbox(options);
	sandboxes.push(sandbox);
	return sandbox;
}
afterAll(async () => {
	for (const sandbox of sandboxes) await sandbox.stop();
	await cleanupHarness();
});

describe('concurrency', () => {
	it.each([1, 3, 5])('keeps at most %i requests in flight, output in input order', async (concurrency) => {
		const sandbox = await sandboxWith({ latencyMs: 60 });
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters({ concurrency }), cloneItems(12));
		expect(result.error).toBeUndefined();
		expect(sandbox.maxInFlight).toBe(concurrency);
		expect(result.items.map((item) => item.json.name)).toEqual(Array.from({ length: 12 }, (_unused, index) => `Voice ${index}`));
		expect(result.items.map((item) => item.pairedItem)).toEqual(Array.from({ length: 12 }, (_unused, item) => ({ item })));
	});

	it('runs faster with more in flight', async () => {
		const sandbox = await sandboxWith({ latencyMs: 100 });
		const items = Array.from({ length: 10 }, (_unused, index) => ({ json: { index } }));
		const started1 = Date.now();
		await runAgainst(sandbox, new Faseeh(), speechParameters({ concurrency: 1 }), items);
		const serial = Date.now() - started1;
		const started5 = Date.now();
		await runAgainst(sandbox, new Faseeh(), speechParameters({ concurrency: 5 }), items);
		const parallel = Date.now() - started5;
		expect(serial).toBeGreaterThanOrEqual(1000);
		expect(parallel).toBeLessThan(serial / 2.5);
	});

	it('adapts to the plan: with a limit of 2 and concurrency 10 every item succeeds', async () => {
		const sandbox = await sandboxWith({ latencyMs: 40, maxConcurrent: 2 });
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters({ concurrency: 10 }), cloneItems(30));
		expect(result.error).toBeUndefined();
		expect(result.items.filter((item) => typeof item.json.voice_id === 'string')).toHaveLength(30);
		const clones = requestsTo(sandbox, 'POST', '/voices/clone');
		expect(clones.filter((request) => request.status === 200)).toHaveLength(30);
		const refused = clones.filter((request) => request.status === 429).length;
		// The node backs off instead of hammering: refusals stay a small fraction of the work.
		expect(refused).toBeGreaterThan(0);
		expect(refused).toBeLessThan(30);
	});

	it('refuses a concurrency outside 1..10 before sending', async () => {
		const sandbox = await sandboxWith();
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters({ concurrency: 11 }), cloneItems(1));
		expect(result.error?.message).toBe('Parameter "Concurrency" must be a number from 1 to 10, got 11 [item 0]');
		expect(sandbox.requests).toHaveLength(0);
	});

	it('sends nothing once a failure is known (without continue-on-fail), checking items ahead', async () => {
		// Concurrency 3 works on 6 items at once. Item 4 has no preview audio: its check fails before
		// any of items 0-3 has read its binary metadata, so the batch stops before anything is sent.
		const sandbox = await sandboxWith({ latencyMs: 40 });
		const items = cloneItems(20);
		delete items[4].binary!.voice_file;
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters({ concurrency: 3 }), items);
		expect(result.error?.message).toMatch(/^Parameter "Voice File Field".*\[item 4\]$/);
		expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(0);
	});

	it('a failure found later stops the batch: what was sent is a prefix of the input', async () => {
		const sandbox = await sandboxWith({ latencyMs: 40 });
		const items = cloneItems(20);
		delete items[12].binary!.voice_file;
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters({ concurrency: 3 }), items);
		expect(result.error?.message).toMatch(/\[item 12\]$/);
		const sent = requestsTo(sandbox, 'POST', '/voices/clone')
			.map((request) => Number(/\d+$/.exec(request.fields?.name ?? '')?.[0]))
			.sort((a, b) => a - b);
		// Slots are given in input order, so what was sent is 0..K without gaps.
		expect(sent).toEqual(Array.from({ length: sent.length }, (_unused, index) => index));
		// Six workers: item 12 is taken when items 0-6 have finished, with at most 3 requests (7-9)
		// in flight and items 10-11 checked and waiting. It fails at once, so 10 onwards is never
		// sent (a node without the stop would send all 19 good items).
		expect(sent.length).toBeGreaterThanOrEqual(7);
		expect(sent.length).toBeLessThanOrEqual(10);
	});
});

describe('retries', () => {
	it('retries a 429 with a fresh, complete upload and succeeds', async () => {
		const sandbox = await sandboxWith();
		sandbox.inject({ route: 'POST /voices/clone', kind: 'status', status: 429, headers: { 'Retry-After': '0' } });
		for (const binaryMode of ['filesystem', 'default'] as const) {
			sandbox.reset();
			sandbox.inject({ route: 'POST /voices/clone', kind: 'status', status: 429, headers: { 'Retry-After': '0' } });
			const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters(), cloneItems(1), { binaryMode });
			expect(result.error).toBeUndefined();
			const [refused, accepted] = requestsTo(sandbox, 'POST', '/voices/clone');
			expect([refused.status, accepted.status]).toEqual([429, 200]);
			expect(refused.bodySize).toBe(accepted.bodySize);
			expect(part(refused, 'voice_file').sha256).toBe(part(accepted, 'voice_file').sha256);
			expect(part(refused, 'reference_audio_file').sha256).toBe(part(accepted, 'reference_audio_file').sha256);
		}
	});

	it('honours Retry-After', async () => {
		const sandbox = await sandboxWith();
		sandbox.inject({ route: 'POST /text-to-speech/:model', kind: 'status', status: 429, headers: { 'Retry-After': '1' } });
		const started = Date.now();
		const result = await runAgainst(sandbox, new Faseeh(), speechParameters(), [{ json: { index: 0 } }]);
		expect(result.error).toBeUndefined();
		expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
		expect(requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-mini-v1-preview').map((request) => request.status)).toEqual([429, 200]);
	});

	it('backs off exponentially without Retry-After', async () => {
		const sandbox = await sandboxWith();
		sandbox.inject({ route: 'POST /text-to-speech/:model', kind: 'status', status: 429, times: 3 });
		const started = Date.now();
		const result = await runAgainst(sandbox, new Faseeh(), speechParameters(), [{ json: { index: 0 } }]);
		expect(result.error).toBeUndefined();
		// Waits of at least 125 + 250 + 500 ms (half of each step, the jitter's floor).
		expect(Date.now() - started).toBeGreaterThanOrEqual(875);
		expect(requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-mini-v1-preview')).toHaveLength(4);
	});

	it.each([500, 502, 503])('never retries a clone after HTTP %i (it may have been created)', async (status) => {
		const sandbox = await sandboxWith();
		sandbox.inject({ route: 'POST /voices/clone', kind: 'status', status, times: 5 });
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters(), cloneItems(1));
		expect((result.error as NodeApiError).httpCode).toBe(String(status));
		expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(1);
	});

	it('never retries a clone after a timeout, and says it timed out', async () => {
		const sandbox = await sandboxWith();
		sandbox.inject({ route: 'POST /voices/clone', kind: 'hang' });
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters({ timeout: 1 }), cloneItems(1));
		expect(result.error?.message).toBe('Faseeh did not answer within 1 seconds (timeout)');
		expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(1);
	});

	it('retries a 5xx for speech only when the user opts in', async () => {
		const sandbox = await sandboxWith();
		sandbox.inject({ route: 'POST /text-to-speech/:model', kind: 'status', status: 503 });
		const without = await runAgainst(sandbox, new Faseeh(), speechParameters(), [{ json: { index: 0 } }]);
		expect((without.error as NodeApiError).httpCode).toBe('503');
		sandbox.reset();
		sandbox.inject({ route: 'POST /text-to-speech/:model', kind: 'status', status: 503 });
		const withRetry = await runAgainst(sandbox, new Faseeh(), speechParameters({ retryOnServerError: true }), [{ json: { index: 0 } }]);
		expect(withRetry.error).toBeUndefined();
		expect(requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-mini-v1-preview').map((request) => request.status)).toEqual([503, 200]);
	});
});
