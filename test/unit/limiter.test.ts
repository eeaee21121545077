import type { IExecuteFunctions, INode } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { GateClosedError, RequestGate, setRequestGate } from '../../nodes/shared/concurrency';
import { faseehJson } from '../../nodes/shared/transport';
import {
	AccountLimiter,
	IDLE_ACCOUNT_MS,
	LimiterAbortedError,
	UNKNOWN_PLAN_LIMIT,
	accountId,
	accountLimiter,
	forgetIdleAccounts,
	knownAccounts,
	parseConcurrencyMaximum,
	resetAccountLimiters,
} from '../../nodes/shared/transport/limiter';
import type { LimiterPermit } from '../../nodes/shared/transport/limiter';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Acquires and records the order in which permits are granted. */
function recorder(limiter: AccountLimiter) {
	const granted: string[] = [];
	const permits = new Map<string, LimiterPermit>();
	const take = (name: string, ticket: number, signals: AbortSignal[] = []) =>
		limiter.acquire(ticket, signals).then((permit) => {
			granted.push(name);
			permits.set(name, permit);
			return permit;
		});
	return { granted, permits, take };
}

afterEach(() => resetAccountLimiters());

describe('AccountLimiter', () => {
	it('never has more than the plan in flight, whatever is waiting', async () => {
		const limiter = new AccountLimiter(2);
		const { granted, permits, take } = recorder(limiter);
		for (let i = 1; i <= 6; i++) void take(`r${i}`, i);
		await settle();
		expect(granted).toEqual(['r1', 'r2']);
		expect(limiter.inFlight).toBe(2);
		expect(limiter.waiting).toBe(4);
		permits.get('r1')?.succeeded();
		await settle();
		expect(granted).toEqual(['r1', 'r2', 'r3']);
		expect(limiter.inFlight).toBe(2);
	});

	it('is first come, first served by ticket across executions; a retry keeps its old place', async () => {
		const limiter = new AccountLimiter(1);
		const { granted, permits, take } = recorder(limiter);
		// Execution A's item (ticket 1) holds the slot; B (ticket 2) and C (ticket 3) wait.
		await take('A1', 1);
		void take('B1', 2);
		void take('C1', 3);
		await settle();
		// A1 was refused (429) and comes back with its own ticket: it goes before B and C again.
		permits.get('A1')?.rateLimited();
		await settle();
		expect(granted).toEqual(['A1', 'B1']);
		void take('A1-retry', 1);
		void take('D1', 4);
		permits.get('B1')?.succeeded();
		await settle();
		expect(granted).toEqual(['A1', 'B1', 'A1-retry']);
		permits.get('A1-retry')?.succeeded();
		await settle();
		permits.get('C1')?.succeeded();
		await settle();
		expect(granted).toEqual(['A1', 'B1', 'A1-retry', 'C1', 'D1']);
	});

	it('gives a waiting place back at once when its execution is cancelled', async () => {
		const limiter = new AccountLimiter(1);
		const { granted, permits, take } = recorder(limiter);
		await take('A', 1);
		const cancel = new AbortController();
		const cancelled = take('B', 2, [cancel.signal]);
		void take('C', 3);
		await settle();
		cancel.abort();
		await expect(cancelled).rejects.toBeInstanceOf(LimiterAbortedError);
		expect(limiter.waiting).toBe(1);
		permits.get('A')?.succeeded();
		await settle();
		expect(granted).toEqual(['A', 'C']);
		// An already aborted signal never takes a place.
		await expect(limiter.acquire(9, [cancel.signal])).rejects.toBeInstanceOf(LimiterAbortedError);
		expect(limiter.waiting).toBe(0);
	});

	it('without a plan, learns the maximum from a 429 message and lowers its limit before the slot is handed on', async () => {
		const limiter = new AccountLimiter(undefined);
		expect(limiter.currentLimit).toBe(UNKNOWN_PLAN_LIMIT);
		const { granted, permits, take } = recorder(limiter);
		for (let i = 1; i <= 12; i++) void take(`r${i}`, i);
		await settle();
		expect(granted).toHaveLength(10);
		// Faseeh refuses r3: "Maximum: 2". The limit drops to 2 before r3's slot is free, so nothing
		// new is sent until fewer than 2 are in flight.
		permits.get('r3')?.rateLimited(2);
		await settle();
		expect(limiter.currentLimit).toBe(2);
		expect(granted).toHaveLength(10);
		for (const name of ['r1', 'r2', 'r4', 'r5', 'r6', 'r7', 'r8']) permits.get(name)?.succeeded();
		await settle();
		expect(granted).toHaveLength(10); // r9 and r10 still hold the two slots
		permits.get('r9')?.succeeded();
		await settle();
		expect(granted).toHaveLength(11);
		expect(limiter.inFlight).toBe(2);
	});

	it('lowers by one per round on 429s from other processes, never below 1, and raises slowly up to the plan', async () => {
		const limiter = new AccountLimiter(3);
		const round = async () => {
			const permits = await Promise.all([0, 1, 2].slice(0, limiter.currentLimit).map((i) => limiter.acquire(i)));
			return permits;
		};
		// Three requests of the same round refused: one decrease, not three.
		const [a, b, c] = await round();
		a.rateLimited(3);
		b.rateLimited(3);
		c.rateLimited(3);
		expect(limiter.currentLimit).toBe(2);
		const [d, e] = await round();
		d.rateLimited();
		e.rateLimited();
		expect(limiter.currentLimit).toBe(1);
		const [f] = await round();
		f.rateLimited();
		expect(limiter.currentLimit).toBe(1);
		// 10 successes per slot at the lowered limit before one more slot is tried.
		for (let i = 0; i < 9; i++) (await limiter.acquire(i)).succeeded();
		expect(limiter.currentLimit).toBe(1);
		(await limiter.acquire(0)).succeeded();
		expect(limiter.currentLimit).toBe(2);
		for (let i = 0; i < 100; i++) (await limiter.acquire(i)).succeeded();
		expect(limiter.currentLimit).toBe(3); // the plan is the ceiling
	});

	it('a success of a request sent before the last decrease does not count toward raising it', async () => {
		const limiter = new AccountLimiter(2);
		const old = await limiter.acquire(1);
		const refused = await limiter.acquire(2);
		refused.rateLimited();
		expect(limiter.currentLimit).toBe(1);
		old.succeeded(); // sent at the old limit: no evidence about the new one
		for (let i = 0; i < 9; i++) (await limiter.acquire(3)).succeeded();
		expect(limiter.currentLimit).toBe(1);
		(await limiter.acquire(4)).succeeded();
		expect(limiter.currentLimit).toBe(2);
	});

	it('follows a plan change on the credential', async () => {
		const limiter = accountLimiter('https://api.faseeh.ai/api/v1', 'key-1', 2);
		expect(limiter.currentLimit).toBe(2);
		expect(accountLimiter('https://api.faseeh.ai/api/v1', 'key-1', 5)).toBe(limiter);
		expect(limiter.currentLimit).toBe(5);
		accountLimiter('https://api.faseeh.ai/api/v1', 'key-1', undefined);
		expect(limiter.currentLimit).toBe(5); // not known any more: keeps what it had, adapts from here
	});
});

describe('the account registry', () => {
	it('keys accounts by base URL and a salted hash of the key, never the key itself', () => {
		const key = 'fsk-live-0123456789abcdef0123456789abcdef';
		const id = accountId('https://api.faseeh.ai/api/v1/', key);
		expect(id).toMatch(/^https:\/\/api\.faseeh\.ai\/api\/v1#[0-9a-f]{32}$/);
		expect(id).not.toContain(key);
		expect(id).not.toContain(key.slice(9, 25));
		expect(accountId('https://api.faseeh.ai/api/v1', key)).toBe(id);
		expect(accountId('https://ae.api.faseeh.ai/api/v1', key)).not.toBe(id);
		expect(accountId('https://api.faseeh.ai/api/v1', `${key}x`)).not.toBe(id);
	});

	it('one limiter per account, shared; a different key or host gets its own', () => {
		const a = accountLimiter('https://api.faseeh.ai/api/v1', 'k1', 2);
		expect(accountLimiter('https://api.faseeh.ai/api/v1', 'k1', 2)).toBe(a);
		expect(accountLimiter('https://api.faseeh.ai/api/v1', 'k2', 2)).not.toBe(a);
		expect(accountLimiter('https://api.munsit.com/api/v1', 'k1', 2)).not.toBe(a);
		expect(knownAccounts()).toBe(3);
	});

	it('forgets idle accounts after a while, keeps busy ones, and does not grow with uptime', async () => {
		const start = Date.now();
		const busy = accountLimiter('https://api.faseeh.ai/api/v1', 'busy', 2, start);
		const permit = await busy.acquire(1);
		for (let i = 0; i < 500; i++) accountLimiter('https://api.faseeh.ai/api/v1', `key-${i}`, 2, start);
		expect(knownAccounts()).toBe(501);
		expect(forgetIdleAccounts(start + IDLE_ACCOUNT_MS - 1)).toBe(501);
		expect(forgetIdleAccounts(start + IDLE_ACCOUNT_MS + 1)).toBe(1); // the one with a request in flight
		permit.succeeded();
		expect(forgetIdleAccounts(Date.now() + IDLE_ACCOUNT_MS + 1)).toBe(0);
		// Looking accounts up sweeps by itself (at most once a minute): days of distinct keys stay bounded.
		let now = Date.now();
		for (let hour = 0; hour < 72; hour++) {
			now += 60 * 60_000;
			for (let i = 0; i < 10; i++) accountLimiter('https://api.faseeh.ai/api/v1', `hour-${hour}-${i}`, 2, now);
		}
		expect(knownAccounts()).toBe(10);
	});
});

describe('parseConcurrencyMaximum', () => {
	it.each([
		['Concurrency limit exceeded. Current: 3, Maximum: 2', undefined, 2],
		['Concurrency limit exceeded. Current: 11, Maximum: 10', 42901, 10],
		['concurrency limit exceeded (current 6 / max 5)', undefined, 5],
		// Faseeh's code makes any wording its concurrency answer; without it only the documented shape counts.
		['Too many concurrent requests: maximum allowed is 5', 42901, 5],
		['Too many concurrent requests: maximum allowed is 5', '42901', 5],
		['Too many concurrent requests: maximum allowed is 5', undefined, undefined],
		['Rate limit: max 60 requests per minute', undefined, undefined],
		['Rate limit: max 60 requests per minute', 429, undefined],
		['Rate limit exceeded', 42901, undefined],
		['Maximum: 0', 42901, undefined],
		[undefined, 42901, undefined],
	])('%s (code %s) → %s', (message, code, expected) => {
		expect(parseConcurrencyMaximum(message, code)).toBe(expected);
	});
});

describe('what a 429 teaches', () => {
	/** Runs `rounds` of full batches, each request succeeding unless `refuse(n)` says it gets a 429. */
	async function drive(limiter: AccountLimiter, requests: number, refuse: (n: number) => number | undefined | false) {
		let maxInFlight = 0;
		for (let n = 0; n < requests; n++) {
			const permit = await limiter.acquire(n);
			maxInFlight = Math.max(maxInFlight, limiter.inFlight);
			const maximum = refuse(n);
			if (maximum === false) permit.succeeded();
			else permit.rateLimited(maximum);
		}
		return maxInFlight;
	}

	it('a gateway’s "max 60 requests per minute" never lifts an unset plan above the default', async () => {
		const limiter = new AccountLimiter(undefined);
		(await limiter.acquire(0)).rateLimited(parseConcurrencyMaximum('Rate limit: max 60 requests per minute', undefined));
		// 100 requests always waiting; whatever is granted succeeds, 5,000 times in all.
		const granted: LimiterPermit[] = [];
		let ticket = 1;
		let successes = 0;
		let maxInFlight = 0;
		const request = () => void limiter.acquire(ticket++).then((permit) => granted.push(permit));
		for (let i = 0; i < 100; i++) request();
		while (successes < 5_000) {
			await settle();
			maxInFlight = Math.max(maxInFlight, limiter.inFlight);
			for (const permit of granted.splice(0)) {
				permit.succeeded();
				successes++;
				request();
			}
		}
		expect(maxInFlight).toBe(UNKNOWN_PLAN_LIMIT);
		expect(limiter.currentLimit).toBe(UNKNOWN_PLAN_LIMIT);
	});

	it('a learned maximum above the declared plan or the unknown-plan default is ignored', async () => {
		const basic = new AccountLimiter(2);
		await drive(basic, 1, () => 60);
		expect(basic.currentLimit).toBeLessThanOrEqual(2);
		const unset = new AccountLimiter(undefined);
		await drive(unset, 1, () => 33);
		await drive(unset, 5_000, () => false);
		expect(unset.currentLimit).toBe(UNKNOWN_PLAN_LIMIT);
		// A maximum below the default still lowers it at once.
		await drive(unset, 1, () => 3);
		expect(unset.currentLimit).toBe(3);
		await drive(unset, 5_000, () => false);
		expect(unset.currentLimit).toBe(3);
	});
});

describe('through the transport', () => {
	const node: INode = { id: '1', name: 'Faseeh', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
	const credentials = { apiKey: 'shared-key', baseUrl: 'http://127.0.0.1:9/api/v1', plan: 'basic' };

	/** An execution context whose HTTP helper is a gate the test opens per call. */
	function execution(calls: Array<{ execution: string; answer: (value: unknown) => void }>, name: string, signal?: AbortSignal) {
		return {
			getNode: () => node,
			getInputData: () => [{ json: {} }],
			getNodeParameter: (_name: string, _item: number, fallback: unknown) => fallback,
			getCredentials: async () => credentials,
			getExecutionCancelSignal: () => signal,
			helpers: {
				httpRequestWithAuthentication: () => new Promise((answer) => calls.push({ execution: name, answer })),
			},
		} as unknown as IExecuteFunctions;
	}
	const ok = { statusCode: 200, headers: {}, body: { ok: true } };

	it('executions share the plan: two gates of Concurrency 2 each never exceed the Basic plan together', async () => {
		const calls: Array<{ execution: string; answer: (value: unknown) => void }> = [];
		const a = execution(calls, 'A');
		const b = execution(calls, 'B');
		setRequestGate(a, new RequestGate(2));
		setRequestGate(b, new RequestGate(2));
		const pending = [
			faseehJson.call(a, { method: 'GET', path: '/models' }),
			faseehJson.call(b, { method: 'GET', path: '/models' }),
			faseehJson.call(a, { method: 'GET', path: '/models' }),
			faseehJson.call(b, { method: 'GET', path: '/models' }),
		];
		await settle();
		expect(calls.map((call) => call.execution)).toEqual(['A', 'B']); // 2 = Basic, not 4
		calls[0].answer(ok);
		await settle();
		await settle();
		expect(calls.map((call) => call.execution)).toEqual(['A', 'B', 'A']);
		for (let i = 1; i < 4; i++) {
			calls[i].answer(ok);
			await settle();
			await settle();
		}
		await expect(Promise.all(pending)).resolves.toHaveLength(4);
	});

	it('a stopped batch withdraws its requests from the account queue, so other executions move up', async () => {
		const calls: Array<{ execution: string; answer: (value: unknown) => void }> = [];
		const a = execution(calls, 'A');
		const b = execution(calls, 'B');
		const c = execution(calls, 'C');
		const gateB = new RequestGate(1);
		setRequestGate(b, gateB);
		const first = faseehJson.call(a, { method: 'GET', path: '/models' });
		const second = faseehJson.call(a, { method: 'GET', path: '/models' });
		const stopped = faseehJson.call(b, { method: 'GET', path: '/models' });
		const third = faseehJson.call(c, { method: 'GET', path: '/models' });
		await settle();
		expect(calls).toHaveLength(2);
		gateB.close();
		await expect(stopped).rejects.toBeInstanceOf(GateClosedError);
		calls[0].answer(ok);
		await settle();
		await settle();
		expect(calls.map((call) => call.execution)).toEqual(['A', 'A', 'C']);
		calls[1].answer(ok);
		calls[2].answer(ok);
		await Promise.all([first, second, third]);
	});

	it('a cancelled execution stops waiting for a slot at once', async () => {
		const calls: Array<{ execution: string; answer: (value: unknown) => void }> = [];
		const cancel = new AbortController();
		const a = execution(calls, 'A');
		const b = execution(calls, 'B', cancel.signal);
		const held = [faseehJson.call(a, { method: 'GET', path: '/models' }), faseehJson.call(a, { method: 'GET', path: '/models' })];
		const waiting = faseehJson.call(b, { method: 'GET', path: '/models' });
		await settle();
		cancel.abort();
		await expect(waiting).rejects.toThrow(NodeOperationError);
		await expect(waiting).rejects.toThrow('The execution was cancelled while waiting to send a request to Faseeh');
		calls.forEach((call) => call.answer(ok));
		await Promise.all(held);
		expect(calls).toHaveLength(2);
	});

	it('abandons a 429 wait when the execution is cancelled (n8n 1.x sleep ignores the signal)', async () => {
		const cancel = new AbortController();
		let calls = 0;
		const context = {
			getNode: () => node,
			getInputData: () => [{ json: {} }],
			getNodeParameter: (_name: string, _item: number, fallback: unknown) => fallback,
			getCredentials: async () => credentials,
			getExecutionCancelSignal: () => cancel.signal,
			helpers: {
				httpRequestWithAuthentication: async () => {
					calls++;
					return { statusCode: 429, headers: { 'retry-after': '30' }, body: { errorCode: 42901, errorMessage: 'Too many' } };
				},
			},
		} as unknown as IExecuteFunctions;
		const started = Date.now();
		const pending = faseehJson.call(context, { method: 'GET', path: '/models' });
		setTimeout(() => cancel.abort(), 100);
		await expect(pending).rejects.toThrow('The execution was cancelled while waiting to send a request to Faseeh');
		expect(Date.now() - started).toBeLessThan(2000);
		expect(calls).toBe(1);
	});

	it('gives up on 429s at Options → Max Wait on Concurrency Limit with Faseeh’s own message', async () => {
		let calls = 0;
		const context = {
			getNode: () => node,
			getInputData: () => [{ json: {} }],
			getNodeParameter: (name: string, _item: number, fallback: unknown) => (name === 'options' ? { rateLimitWait: 0.5 } : fallback),
			getCredentials: async () => credentials,
			helpers: {
				httpRequestWithAuthentication: async () => {
					calls++;
					return { statusCode: 429, headers: {}, body: { errorCode: 42901, errorMessage: 'Concurrency limit exceeded. Current: 2, Maximum: 2' } };
				},
			},
		} as unknown as IExecuteFunctions;
		const started = Date.now();
		const error = (await faseehJson.call(context, { method: 'GET', path: '/models' }).catch((caught: unknown) => caught)) as NodeApiError;
		const elapsed = Date.now() - started;
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toBe('Concurrency limit exceeded. Current: 2, Maximum: 2');
		expect(error.description).toMatch(/^Still refused after waiting [01] seconds for a free slot\./);
		expect(elapsed).toBeGreaterThanOrEqual(450);
		expect(elapsed).toBeLessThan(1500);
		expect(calls).toBeGreaterThanOrEqual(2);
	});
});
