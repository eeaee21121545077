import { GateClosedError, RequestGate } from '../../nodes/shared/concurrency';
import { retryDelayMs } from '../../nodes/shared/transport/retry';

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
});

describe('retryDelayMs', () => {
	it('waits at least Retry-After, plus up to half of it again (at least 250 ms of spread), capped near a minute', () => {
		expect(retryDelayMs(1, 2, () => 0)).toBe(2000);
		expect(retryDelayMs(1, 2, () => 1)).toBe(3000);
		expect(retryDelayMs(1, 0, () => 0)).toBe(0);
		expect(retryDelayMs(1, 0, () => 1)).toBe(250);
		expect(retryDelayMs(3, 600, () => 0)).toBe(60_000);
		expect(retryDelayMs(3, 600, () => 1)).toBe(90_000);
		// Executions told the same Retry-After come back spread out, not in lockstep.
		const delays = new Set(Array.from({ length: 50 }, () => retryDelayMs(1, 1)));
		expect(delays.size).toBeGreaterThan(10);
		for (const delay of delays) expect(delay).toBeGreaterThanOrEqual(1000);
	});
	it('doubles per attempt between half and all of the step, up to 8 s', () => {
		expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => retryDelayMs(attempt, undefined, () => 0))).toEqual([125, 250, 500, 1000, 2000, 4000, 4000]);
		expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => retryDelayMs(attempt, undefined, () => 1))).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000]);
	});
});
