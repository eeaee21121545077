import { setMaxListeners } from 'node:events';

import { takeTicket } from './transport/limiter';

/** Thrown to requests still waiting for a slot when the batch stops (a failure, a cancel). */
export class GateClosedError extends Error {
	constructor() {
		super('The batch stopped before this request was sent');
	}
}

/** One request's place among the requests in flight. */
export interface RequestSlot {
	/** The item's place in the account's queue (first come, first served across executions). */
	ticket: number;
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
 * Limits how many Faseeh requests one node execution has in flight (Options → Concurrency) and
 * sends items' requests in input order. The account's limit across all executions of the process
 * is held by the transport's AccountLimiter, which each request also waits for.
 *
 * Order: an item's first request waits until every earlier item has sent its first request or
 * finished. Items are checked ahead of their turn (see runForEachItem), so the next one is ready
 * the moment a slot frees, yet requests still go out in input order.
 */
export class RequestGate {
	private active = 0;
	private readonly limit: number;
	private readonly closer = gateCloser();
	/** Every item below this index has had its turn (sent a first request, or finished). */
	private nextTurn = 0;
	/** Items at or above nextTurn that have had their turn already. */
	private readonly turnsTakenAhead = new Set<number>();
	private readonly waiting: Waiter[] = [];
	/** Slots kept by items until they finish: item index -> the slot's ticket and how to free it. */
	private readonly kept = new Map<number, { ticket: number; free: () => void }>();

	constructor(concurrency: number) {
		this.limit = Math.max(1, Math.floor(concurrency));
	}

	get isClosed(): boolean {
		return this.closer.signal.aborted;
	}

	/** Aborts when the gate closes: requests of this execution waiting elsewhere give up their place. */
	get closedSignal(): AbortSignal {
		return this.closer.signal;
	}

	/**
	 * Waits for a free slot (and, with an item index, for the item's turn). An item that kept its
	 * slot gets it back at once. Rejects with GateClosedError once the gate is closed.
	 */
	acquire(itemIndex?: number): Promise<RequestSlot> {
		if (this.isClosed) return Promise.reject(new GateClosedError());
		const kept = itemIndex === undefined ? undefined : this.kept.get(itemIndex);
		if (kept) {
			this.kept.delete(itemIndex as number);
			return Promise.resolve(this.slot(itemIndex, kept.ticket, kept.free));
		}
		return new Promise((resolve, reject) => {
			this.waiting.push({ itemIndex, resolve, reject });
			this.admit();
		});
	}

	/** The item is done (sent or not): its kept slot is freed, and later items need not wait for it. */
	finished(itemIndex: number): void {
		this.takeTurn(itemIndex);
		const kept = this.kept.get(itemIndex);
		this.kept.delete(itemIndex);
		kept?.free();
		this.admit();
	}

	/** No more requests: waiting ones are refused (here and in the account's queue); those in flight finish. */
	close(): void {
		// The reason is what work still running for the batch throws (see synthesizePieces).
		if (!this.isClosed) this.closer.abort(new GateClosedError());
		for (const waiter of this.waiting.splice(0)) waiter.reject(new GateClosedError());
	}

	/** Hands free slots to waiters whose turn it is, lowest item first. */
	private admit(): void {
		while (!this.isClosed && this.active < this.limit) {
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
			// The ticket is taken here, in input order: it orders the item in the account's queue.
			waiter.resolve(this.slot(waiter.itemIndex, takeTicket(), free));
		}
	}

	private slot(itemIndex: number | undefined, ticket: number, free: () => void): RequestSlot {
		return {
			ticket,
			release: free,
			keepUntilItemFinished: () => {
				// An item keeps one slot: the pieces of a long text answered in parallel free the others.
				if (itemIndex === undefined || this.kept.has(itemIndex)) free();
				else this.kept.set(itemIndex, { ticket, free });
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

/**
 * The batch's stop signal. Every request of the batch that waits (for an account slot, or out a
 * back-off) listens to it, so more than Node's default of 10 listeners is normal, not a leak.
 */
function gateCloser(): AbortController {
	const controller = new AbortController();
	setMaxListeners(0, controller.signal);
	return controller;
}
