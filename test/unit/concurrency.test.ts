import type { IExecuteFunctions, INode } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { GateClosedError, RequestGate, retryDelayMs, setRequestGate } from '../../nodes/shared/concurrency';
import { faseehJson } from '../../nodes/shared/transport';

describe('RequestGate', () => {
	const settle = () => new Promise((resolve) => setImmediate(resolve));

	it('blocks at the limit and hands slots over in order', async () => {
		const gate = new RequestGate(2);
		const first = await gate.acquire();
		await gate.acquire();
		let thirdIn = false;
		const third = gate.acquire().then((slot) => {
			thirdIn = true;
			return slot;
		});
		await settle();
		expect(thirdIn).toBe(false);
		first.release();
		first.release(); // releasing twice gives back one slot only
		(await third).release();
		expect(thirdIn).toBe(true);
	});

	it('gives slots in input order: an item waits until every earlier item had its turn', async () => {
		const gate = new RequestGate(2);
		const admitted: number[] = [];
		const take = (item: number) => gate.acquire(item).then((slot) => (admitted.push(item), slot));
		// Items 1 and 3 are ready first; item 0 is still being checked.
		const one = take(1);
		const three = take(3);
		await settle();
		expect(admitted).toEqual([]); // free slots, but item 0 has not had its turn
		const zero = take(0);
		await settle();
		expect([...admitted].sort()).toEqual([0, 1]); // item 3 waits for item 2
		gate.finished(2); // item 2 ended without a request (it failed its checks)
		(await zero).release();
		await settle();
		expect(admitted.slice(2)).toEqual([3]);
		(await one).release();
		// An item that had its turn gets a slot again without waiting for others (a retry).
		const zeroAgain = gate.acquire(0).then((slot) => (admitted.push(0), slot));
		await settle();
		expect(admitted.slice(3)).toEqual([0]);
		(await three).release();
		(await zeroAgain).release();
	});

	it('a kept slot stays with its item until the item is finished, and its next request reuses it', async () => {
		const gate = new RequestGate(1);
		const first = await gate.acquire(0);
		first.keepUntilItemFinished();
		let nextIn = false;
		const next = gate.acquire(1).then((slot) => ((nextIn = true), slot));
		await settle();
		expect(nextIn).toBe(false); // the answer of item 0 is still being handled
		const again = await gate.acquire(0); // item 0's second request (a clone after its preview)
		again.keepUntilItemFinished();
		await settle();
		expect(nextIn).toBe(false);
		gate.finished(0);
		(await next).release();
		expect(nextIn).toBe(true);
	});

	it('refuses waiting and new requests once closed; requests in flight keep their slot', async () => {
		const gate = new RequestGate(1);
		const inFlight = await gate.acquire(0);
		const waiting = gate.acquire(1);
		gate.close();
		await expect(waiting).rejects.toBeInstanceOf(GateClosedError);
		await expect(gate.acquire(2)).rejects.toBeInstanceOf(GateClosedError);
		inFlight.release();
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

describe('a 429 in a batch', () => {
	it('lowers the limit before its slot is handed on, so no request is sent above the plan', async () => {
		const node: INode = { id: '1', name: 'Faseeh', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
		const answers = [
			{ statusCode: 429, headers: { 'retry-after': '0' }, body: { errorCode: 42901, errorMessage: 'Concurrency limit exceeded' } },
			{ statusCode: 200, headers: {}, body: { ok: true } },
		];
		let calls = 0;
		let answerFirst: () => void = () => undefined;
		const firstAnswered = new Promise<void>((resolve) => (answerFirst = resolve));
		const context = {
			getNode: () => node,
			getCredentials: async () => ({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9/api/v1' }),
			helpers: {
				httpRequestWithAuthentication: async () => {
					const answer = answers[calls++];
					if (calls === 1) await firstAnswered;
					return answer;
				},
			},
		} as unknown as IExecuteFunctions;
		const gate = new RequestGate(2);
		setRequestGate(context, gate);
		const other = await gate.acquire(); // another request of the batch is in flight
		const pending = faseehJson.call(context, { method: 'GET', path: '/models' });
		await new Promise((resolve) => setImmediate(resolve)); // the request holds the second slot
		let waiterIn = false;
		const waiter = gate.acquire().then((slot) => ((waiterIn = true), slot)); // the next item
		answerFirst(); // the plan refuses the request: 429
		await new Promise((resolve) => setTimeout(resolve, 20));
		expect(calls).toBe(1);
		expect(gate.currentLimit).toBe(1);
		expect(waiterIn).toBe(false); // one request in flight = the lowered limit
		other.release();
		(await waiter).release();
		await expect(pending).resolves.toEqual({ ok: true });
		expect(calls).toBe(2);
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
