/** Thrown to requests still waiting for a slot when the batch stops (a failure, a cancel). */
export class GateClosedError extends Error {
	constructor() {
		super('The batch stopped before this request was sent');
	}
}

/** One request's place among the requests in flight. */
export interface RequestSlot {
	/** Frees the slot now: the request is over and the item waits (to retry) without it. */
	release(): void;
	/**
	 * Keeps the slot until the item is finished (RequestGate.finished): its answer is handled
	 * first, so an answer that stops the batch closes the gate before anything else is sent. The
	 * item's next request (a clone after its preview) reuses the slot.
	 */
	keepUntilItemFinished(): void;
}

interface Waiter {
	itemIndex?: number;
	resolve: (slot: RequestSlot) => void;
	reject: (error: Error) => void;
}

/**
 * Limits how many Faseeh requests one node execution has in flight, and sends items' requests in
 * input order. The limit starts at the node's Concurrency option and adapts to the plan: each 429
 * (the plan's concurrent-request cap) lowers it by one, and a long run of successes lets it probe
 * one higher again, never above the option. So a batch converges on what the plan allows instead
 * of failing items with 429s.
 *
 * Order: an item's first request waits until every earlier item has sent its first request or
 * finished. Items are checked ahead of their turn (see runForEachItem), so the next one is ready
 * the moment a slot frees, yet requests still go out in input order.
 */
export class RequestGate {
	private active = 0;
	private limit: number;
	private successesAtLimit = 0;
	private closed = false;
	/** Every item below this index has had its turn (sent a first request, or finished). */
	private nextTurn = 0;
	/** Items at or above nextTurn that have had their turn already. */
	private readonly turnsTakenAhead = new Set<number>();
	private readonly waiting: Waiter[] = [];
	/** Slots kept by items until they finish: item index -> frees the slot. */
	private readonly kept = new Map<number, () => void>();

	constructor(readonly maxLimit: number) {
		this.limit = Math.max(1, Math.floor(maxLimit));
	}

	get currentLimit(): number {
		return this.limit;
	}

	/**
	 * Waits for a free slot (and, with an item index, for the item's turn). An item that kept its
	 * slot gets it back at once. Rejects with GateClosedError once the gate is closed.
	 */
	acquire(itemIndex?: number): Promise<RequestSlot> {
		if (this.closed) return Promise.reject(new GateClosedError());
		const kept = itemIndex === undefined ? undefined : this.kept.get(itemIndex);
		if (kept) {
			this.kept.delete(itemIndex as number);
			return Promise.resolve(this.slot(itemIndex, kept));
		}
		return new Promise((resolve, reject) => {
			this.waiting.push({ itemIndex, resolve, reject });
			this.admit();
		});
	}

	/** The item is done (sent or not): its kept slot is freed, and later items need not wait for it. */
	finished(itemIndex: number): void {
		this.takeTurn(itemIndex);
		const free = this.kept.get(itemIndex);
		this.kept.delete(itemIndex);
		free?.();
		this.admit();
	}

	/** No more requests: waiting ones are refused; those in flight finish. */
	close(): void {
		this.closed = true;
		for (const waiter of this.waiting.splice(0)) waiter.reject(new GateClosedError());
	}

	/** A request was refused with 429: one slot fewer, down to one. */
	rateLimited(): void {
		this.limit = Math.max(1, this.limit - 1);
		this.successesAtLimit = 0;
	}

	/** A request succeeded: after enough successes at this limit, try one more slot. */
	succeeded(): void {
		if (this.limit >= this.maxLimit) return;
		this.successesAtLimit++;
		if (this.successesAtLimit >= 10 * this.limit) {
			this.limit++;
			this.successesAtLimit = 0;
			this.admit();
		}
	}

	/** Hands free slots to waiters whose turn it is, lowest item first. */
	private admit(): void {
		while (!this.closed && this.active < this.limit) {
			let chosen = -1;
			for (let i = 0; i < this.waiting.length; i++) {
				const { itemIndex } = this.waiting[i];
				if (!this.isTurnOf(itemIndex)) continue;
				const best = chosen < 0 ? undefined : this.waiting[chosen].itemIndex;
				if (chosen < 0 || (itemIndex ?? -1) < (best ?? -1)) chosen = i;
			}
			if (chosen < 0) return;
			const [waiter] = this.waiting.splice(chosen, 1);
			this.active++;
			if (waiter.itemIndex !== undefined) this.takeTurn(waiter.itemIndex);
			let freed = false;
			const free = () => {
				if (freed) return;
				freed = true;
				this.active--;
				this.admit();
			};
			waiter.resolve(this.slot(waiter.itemIndex, free));
		}
	}

	private slot(itemIndex: number | undefined, free: () => void): RequestSlot {
		return {
			release: free,
			keepUntilItemFinished: () => {
				if (itemIndex === undefined) free();
				else this.kept.set(itemIndex, free);
			},
		};
	}

	private isTurnOf(itemIndex: number | undefined): boolean {
		return itemIndex === undefined || itemIndex <= this.nextTurn || this.turnsTakenAhead.has(itemIndex);
	}

	private takeTurn(itemIndex: number): void {
		if (itemIndex < this.nextTurn) return;
		this.turnsTakenAhead.add(itemIndex);
		while (this.turnsTakenAhead.delete(this.nextTurn)) this.nextTurn++;
	}
}

const gates = new WeakMap<object, RequestGate>();

/** Sets the gate for an execution context (one per node execution). */
export function setRequestGate(context: object, gate: RequestGate): void {
	gates.set(context, gate);
}

export function requestGateFor(context: object): RequestGate | undefined {
	return gates.get(context);
}

export const MAX_CONCURRENCY = 10;

/** Backoff before retry `attempt` (1-based): Retry-After when given, else exponential with jitter. */
export function retryDelayMs(attempt: number, retryAfterSeconds?: number, random: () => number = Math.random): number {
	if (retryAfterSeconds !== undefined) return Math.min(60_000, Math.round(retryAfterSeconds * 1000));
	const ceiling = Math.min(8_000, 250 * 2 ** (attempt - 1));
	// "Equal jitter": at least half the step, so retries spread out but never hammer at once.
	return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
