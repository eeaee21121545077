import type { IExecuteFunctions, INode } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { GateClosedError, RequestGate, setRequestGate } from '../../nodes/shared/concurrency';
import { faseehJson } from '../../nodes/shared/transport';
import {
	AccountLimiter,
	IDLE_ACCOUNT_MS,
	PLAN_MEMORY_MS,
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

	it('a plan upgrade on the credential wins at once over a maximum learned under the old plan', async () => {
		const limiter = accountLimiter('https://api.faseeh.ai/api/v1', 'upgrade', 5, Date.now(), 'cred-1');
		(await limiter.acquire(1)).rateLimited(parseConcurrencyMaximum('Concurrency limit exceeded. Current: 3, Maximum: 2'));
		expect(limiter.currentLimit).toBe(2);
		// Busy for hours at the learned 2: nothing expires it, but the plan changing does.
		for (let i = 0; i < 1_000; i++) (await limiter.acquire(2 + i)).succeeded();
		expect(limiter.currentLimit).toBe(2);
		accountLimiter('https://api.faseeh.ai/api/v1', 'upgrade', 10, Date.now(), 'cred-1');
		expect(limiter.currentLimit).toBe(10);
	});

	it('two credentials with one key and different plans hold the smaller, without resetting each other', async () => {
		const now = Date.now();
		const small = accountLimiter('https://api.faseeh.ai/api/v1', 'one-key', 2, now, 'cred-basic');
		const big = accountLimiter('https://api.faseeh.ai/api/v1', 'one-key', 10, now + 1, 'cred-growth');
		expect(big).toBe(small);
		expect(small.currentLimit).toBe(2);
		(await small.acquire(1)).rateLimited(); // another process: one fewer
		expect(small.currentLimit).toBe(1);
		for (let i = 0; i < 20; i++) {
			accountLimiter('https://api.faseeh.ai/api/v1', 'one-key', i % 2 ? 2 : 10, now + 2 + i, i % 2 ? 'cred-basic' : 'cred-growth');
		}
		expect(small.currentLimit).toBe(1); // the decrease survives the two credentials alternating
		// The Basic credential unused for PLAN_MEMORY_MS (the account busy meanwhile): the Growth one's plan holds.
		const busy = await small.acquire(100);
		expect(accountLimiter('https://api.faseeh.ai/api/v1', 'one-key', 10, now + 30 + PLAN_MEMORY_MS, 'cred-growth')).toBe(small);
		expect(small.currentLimit).toBe(10);
		busy.succeeded();
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
	it('keys accounts by a salted hash of the key (and the origin of a host that is not Faseeh’s), never the key itself', () => {
		const key = 'fsk-live-0123456789abcdef0123456789abcdef';
		const id = accountId('https://api.faseeh.ai/api/v1/', key);
		expect(id).toMatch(/^faseeh#[0-9a-f]{32}$/);
		expect(id).not.toContain(key);
		expect(id).not.toContain(key.slice(9, 25));
		expect(accountId('https://api.faseeh.ai/api/v1', `${key}x`)).not.toBe(id);
		const proxy = accountId('https://Proxy.Example.com:443/faseeh/api/v1/', key);
		expect(proxy).toMatch(/^https:\/\/proxy\.example\.com\/faseeh\/api\/v1#[0-9a-f]{32}$/);
		expect(proxy).not.toContain(key);
	});

	it('one limiter per account, shared: Faseeh’s and Munsit’s hosts, any spelling of a URL; a different key or host gets its own', () => {
		const a = accountLimiter('https://api.faseeh.ai/api/v1', 'k1', 2);
		expect(accountLimiter('https://api.faseeh.ai/api/v1', 'k1', 2)).toBe(a);
		expect(accountLimiter('https://API.faseeh.ai/api/v1/', 'k1', 2)).toBe(a);
		expect(accountLimiter('https://api.munsit.com/api/v1', 'k1', 2)).toBe(a);
		expect(accountLimiter('https://ae.api.faseeh.ai/api/v1', 'k1', 2)).toBe(a);
		expect(accountLimiter('https://api.faseeh.ai/api/v1', 'k2', 2)).not.toBe(a);
		const proxy = accountLimiter('https://proxy.example.com/api/v1', 'k1', 2);
		expect(proxy).not.toBe(a);
		expect(accountLimiter('HTTPS://PROXY.example.com:443/api/v1//', 'k1', 2)).toBe(proxy);
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
		// Not the Retry-After (30 s or more): the wait ended with the cancel.
		expect(Date.now() - started).toBeLessThan(30_000);
		expect(calls).toBe(1);
	});

	it('gives up on 429s at Options → Max Wait on Concurrency Limit with Faseeh’s own message', async () => {
		let calls = 0;
		const waits: number[] = [];
		const context = {
			getNode: () => node,
			getInputData: () => [{ json: {} }],
			getNodeParameter: (name: string, _item: number, fallback: unknown) => (name === 'options' ? { rateLimitWait: 0.5 } : fallback),
			getCredentials: async () => credentials,
			logger: {
				debug: (message: string, meta: { delayMs?: number }) => {
					if (message === 'Faseeh: 429: waiting before sending again') waits.push(meta.delayMs!);
				},
			},
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
		// Whole seconds since the first refusal: 0 or 1 on an idle machine, more on a busy one.
		expect(error.description).toMatch(/^Still refused after waiting \d+ seconds for a free slot\./);
		expect(elapsed).toBeGreaterThanOrEqual(450);
		// The waits the node chose stop at Max Wait: together at most 0.5 s, one per refusal but the last.
		expect(waits.length).toBeGreaterThanOrEqual(1);
		expect(waits.reduce((sum, wait) => sum + wait, 0)).toBeLessThanOrEqual(500);
		expect(calls).toBe(waits.length + 1);
	});

	/** Like `execution`, with Options → Max Wait, a logger that keeps what it is told, and a list-search context's shape. */
	function loggedExecution(
		calls: Array<{ execution: string; answer: (value: unknown) => void }>,
		name: string,
		options: { rateLimitWait?: number } = {},
	) {
		const logged: Array<{ message: string; meta: Record<string, unknown> }> = [];
		const context = {
			...execution(calls, name),
			getNodeParameter: (parameter: string, _item: number, fallback: unknown) => (parameter === 'options' ? options : fallback),
			logger: { debug: (message: string, meta: Record<string, unknown>) => logged.push({ message, meta }) },
		} as unknown as IExecuteFunctions;
		return { context, logged };
	}

	it('waiting in the account queue ends at Max Wait, saying how long and how many were ahead, and is logged', async () => {
		const calls: Array<{ execution: string; answer: (value: unknown) => void }> = [];
		const holder = execution(calls, 'A');
		const held = [faseehJson.call(holder, { method: 'GET', path: '/models' }), faseehJson.call(holder, { method: 'GET', path: '/models' })];
		const ahead = faseehJson.call(holder, { method: 'GET', path: '/models' });
		const { context, logged } = loggedExecution(calls, 'B', { rateLimitWait: 0.3 });
		const started = Date.now();
		const waiting = faseehJson.call(context, { method: 'GET', path: '/models', itemIndex: 3 });
		const error = (await waiting.catch((caught: unknown) => caught)) as NodeOperationError;
		// How long it waited, as measured: 0.3 s on an idle machine, a little more on a busy one.
		const waited = /^Waited (\d+\.\d) s for a free request slot of this Faseeh account \(1 requests ahead, 2 in flight at this process's limit of 2\); nothing was sent$/.exec(
			error.message,
		);
		expect(waited?.[0]).toBe(error.message);
		expect(Number(waited?.[1])).toBeGreaterThanOrEqual(0.3);
		expect(error.context.itemIndex).toBe(3);
		// The holder's requests are answered only below: the wait ended at Max Wait, not by a free slot.
		expect(Date.now() - started).toBeGreaterThanOrEqual(290);
		expect(calls).toHaveLength(2); // nothing of B's was sent
		expect(logged).toContainEqual({
			message: 'Faseeh: waiting for a free request slot of the account',
			meta: expect.objectContaining({ ahead: 1, inFlight: 2, limit: 2 }),
		});
		for (const call of calls) call.answer(ok);
		await settle();
		calls[2].answer(ok);
		await Promise.all([...held, ahead]);
	});

	it('a dropdown during a batch takes the next free slot ahead of the batch, and its 429 does not lower the limit', async () => {
		const calls: Array<{ execution: string; answer: (value: unknown) => void }> = [];
		const batch = execution(calls, 'batch');
		const sent = [0, 1, 2, 3].map(() => faseehJson.call(batch, { method: 'GET', path: '/voices' }));
		await settle();
		expect(calls).toHaveLength(2); // Basic: the batch holds both slots, two more wait
		const { context } = loggedExecution(calls, 'dropdown');
		const dropdown = faseehJson.call(context, { method: 'GET', path: '/models', interactive: true });
		await settle();
		expect(calls).toHaveLength(2); // the person waits too: no third request in flight
		calls[0].answer(ok);
		await settle();
		await settle();
		expect(calls.map((call) => call.execution)).toEqual(['batch', 'batch', 'dropdown']); // ahead of the batch's waiting two
		const limiter = accountLimiter(credentials.baseUrl, credentials.apiKey, 2);
		calls[2].answer({ statusCode: 429, headers: {}, body: { errorCode: 42901, errorMessage: 'Concurrency limit exceeded. Current: 3, Maximum: 2' } });
		await expect(dropdown).rejects.toThrow('Concurrency limit exceeded. Current: 3, Maximum: 2');
		expect(limiter.currentLimit).toBe(2); // a person's 429 is not taken for another process's share
		for (let round = 0; round < 4; round++) {
			for (const call of calls.slice(3)) call.answer(ok);
			calls[1].answer(ok);
			await settle();
			await settle();
		}
		await expect(Promise.all(sent)).resolves.toHaveLength(4);
	});
});
