/**
 * Limits how many Faseeh requests one node execution has in flight. The limit starts at the
 * node's Concurrency option and adapts to the plan: each 429 (the plan's concurrent-request cap)
 * lowers it by one, and a long run of successes lets it probe one higher again, never above the
 * option. So a batch converges on what the plan allows instead of failing items with 429s.
 */
export class RequestGate {
	private active = 0;
	private limit: number;
	private successesAtLimit = 0;
	private readonly waiting: Array<() => void> = [];

	constructor(readonly maxLimit: number) {
		this.limit = Math.max(1, Math.floor(maxLimit));
	}

	get currentLimit(): number {
		return this.limit;
	}

	/** Waits for a free slot; the returned function gives it back (once). */
	async acquire(): Promise<() => void> {
		while (this.active >= this.limit) {
			await new Promise<void>((resolve) => this.waiting.push(resolve));
		}
		this.active++;
		let released = false;
		return () => {
			if (released) return;
			released = true;
			this.active--;
			this.wake();
		};
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
			this.wake();
		}
	}

	/** Wakes one waiter; it re-checks the limit itself, so a spurious wake-up is harmless. */
	private wake(): void {
		this.waiting.shift()?.();
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
