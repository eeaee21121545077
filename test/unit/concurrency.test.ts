import type { IExecuteFunctions, INode } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { RequestGate, retryDelayMs } from '../../nodes/shared/concurrency';
import { faseehJson } from '../../nodes/shared/transport';

describe('RequestGate', () => {
	it('blocks at the limit and hands slots over in order', async () => {
		const gate = new RequestGate(2);
		const first = await gate.acquire();
		await gate.acquire();
		let thirdIn = false;
		const third = gate.acquire().then((release) => {
			thirdIn = true;
			return release;
		});
		await new Promise((resolve) => setImmediate(resolve));
		expect(thirdIn).toBe(false);
		first();
		first(); // releasing twice gives back one slot only
		(await third)();
		expect(thirdIn).toBe(true);
	});

	it('lowers the limit on 429 down to one, and probes up after successes', () => {
		const gate = new RequestGate(3);
		gate.rateLimited();
		gate.rateLimited();
		gate.rateLimited();
		expect(gate.currentLimit).toBe(1);
		for (let i = 0; i < 9; i++) gate.succeeded();
		expect(gate.currentLimit).toBe(1);
		gate.succeeded();
		expect(gate.currentLimit).toBe(2);
		for (let i = 0; i < 100; i++) gate.succeeded();
		expect(gate.currentLimit).toBe(3);
	});
});

describe('retryDelayMs', () => {
	it('uses Retry-After when given, capped at a minute', () => {
		expect(retryDelayMs(1, 2)).toBe(2000);
		expect(retryDelayMs(1, 0)).toBe(0);
		expect(retryDelayMs(3, 600)).toBe(60_000);
	});
	it('doubles per attempt between half and all of the step, up to 8 s', () => {
		expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => retryDelayMs(attempt, undefined, () => 0))).toEqual([125, 250, 500, 1000, 2000, 4000, 4000]);
		expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => retryDelayMs(attempt, undefined, () => 1))).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000]);
	});
});

describe('cancellation', () => {
	it('abandons a retry wait when the execution is cancelled', async () => {
		const controller = new AbortController();
		const node: INode = { id: '1', name: 'Faseeh', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
		let calls = 0;
		const context = {
			getNode: () => node,
			getCredentials: async () => ({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9/api/v1' }),
			getExecutionCancelSignal: () => controller.signal,
			helpers: {
				httpRequestWithAuthentication: async () => {
					calls++;
					return { statusCode: 429, headers: { 'retry-after': '30' }, body: { errorCode: 42901, errorMessage: 'Too many' } };
				},
			},
		} as unknown as IExecuteFunctions;
		const started = Date.now();
		const pending = faseehJson.call(context, { method: 'GET', path: '/models' });
		setTimeout(() => controller.abort(), 100);
		await expect(pending).rejects.toThrow(NodeOperationError);
		await expect(pending).rejects.toThrow('The execution was cancelled while waiting to retry a request to Faseeh');
		expect(Date.now() - started).toBeLessThan(2000);
		expect(calls).toBe(1);
	});
});
