import { createHash, randomBytes } from 'crypto';

/**
 * One limiter per Faseeh account (base URL + API key), shared by every execution in this n8n
 * process: Faseeh limits concurrent requests per key (Basic 2, Starter 5, Growth 10), not per node
 * run. In regular mode that is every execution of the instance; in queue mode every execution of
 * one worker.
 *
 * - Slots are handed out first come, first served across executions. A request keeps the place of
 *   its first try when it retries after a 429, so waiting longer never moves it back.
 * - The plan's limit (credential field) is a hard cap: one process never sends more. Without it
 *   the limiter starts at UNKNOWN_PLAN_LIMIT and learns: Faseeh's concurrency 429 (code 42901 or
 *   "Current: N, Maximum: M") says the maximum, which can only lower the cap, and each 429 lowers
 *   the limit by one (once per round of requests sent at that limit).
 * - 429s can still come from other processes using the same key (queue-mode workers, other
 *   instances): the limiter lowers its limit on them and raises it again slowly, one slot after
 *   SUCCESSES_PER_RAISE × limit successes, never above the plan.
 *
 * No timers: waiting requests are promises, and idle accounts are dropped lazily (see
 * accountLimiter), so nothing here keeps a process alive or grows with uptime.
 */
/** What the transport needs of an account's limiter: this per-process one, or the shared one (sharedLimiter.ts). */
export interface Limiter {
	/** How many requests may be in flight now. */
	readonly currentLimit: number;
	readonly inFlight: number;
	readonly waiting: number;
	/** How many waiting requests are ahead of this ticket. */
	ahead(ticket: number): number;
	acquire(ticket: number, signals?: Array<AbortSignal | undefined>): Promise<LimiterPermit>;
}

export class AccountLimiter implements Limiter {
	private active = 0;
	private limit: number;
	private ceiling: number;
	/** The plan in force: the smallest declared by a credential of this key seen in PLAN_MEMORY_MS. */
	private planLimit: number | undefined;
	/** What each credential using this key declares, and when it was last seen. */
	private readonly declaredPlans = new Map<string, { plan: number | undefined; seenAt: number }>();
	private learnedMaximum: number | undefined;
	/** Bumped on every decrease: only a 429 to a request sent at the current limit lowers it again. */
	private epoch = 0;
	private successes = 0;
	/** Waiting requests, in ticket order (oldest first). */
	private readonly queue: LimiterWaiter[] = [];
	/** Date.now() of the last acquire or release; what idle accounts are forgotten by. */
	lastUsedAt = Date.now();

	constructor(planLimit?: number) {
		this.planLimit = planLimit;
		this.ceiling = this.computeCeiling();
		this.limit = this.ceiling;
	}

	/** How many requests may be in flight now. */
	get currentLimit(): number {
		return this.limit;
	}

	get inFlight(): number {
		return this.active;
	}

	get waiting(): number {
		return this.queue.length;
	}

	get idle(): boolean {
		return this.active === 0 && this.queue.length === 0;
	}

	/** The one credential of this account changed its plan (or was read again): the cap follows it. */
	setPlan(planLimit: number | undefined): void {
		this.declarePlan(DEFAULT_CREDENTIAL, planLimit);
	}

	/**
	 * A credential using this key declares its plan. Two credentials with one key and different
	 * plans: the smaller holds while both were seen in the last PLAN_MEMORY_MS (they share one
	 * account, so the larger would overrun it). A credential changing its own plan replaces what it
	 * declared at once.
	 */
	declarePlan(credential: string, planLimit: number | undefined, now = Date.now()): void {
		this.declaredPlans.set(credential, { plan: planLimit, seenAt: now });
		let smallest: number | undefined;
		for (const [id, declared] of this.declaredPlans) {
			if (now - declared.seenAt > PLAN_MEMORY_MS) {
				this.declaredPlans.delete(id);
				continue;
			}
			if (declared.plan !== undefined && (smallest === undefined || declared.plan < smallest)) smallest = declared.plan;
		}
		this.applyPlan(smallest);
	}

	private applyPlan(planLimit: number | undefined): void {
		if (planLimit === this.planLimit) return;
		this.planLimit = planLimit;
		// The declared plan wins: a maximum learned under another plan says nothing about this one.
		this.learnedMaximum = undefined;
		this.ceiling = this.computeCeiling();
		this.limit = planLimit === undefined ? Math.min(this.limit, this.ceiling) : this.ceiling;
		this.epoch++;
		this.successes = 0;
		this.admit();
	}

	/** How many waiting requests hold a lower ticket (are ahead of this one). */
	ahead(ticket: number): number {
		return this.queue.filter((waiter) => waiter.ticket < ticket).length;
	}

	/**
	 * Waits for a slot. `ticket` orders the queue (lower first): use one per request, kept across
	 * its retries. Rejects with LimiterAbortedError when one of the signals aborts while waiting
	 * (an execution cancelled, a batch stopped): the place is given back at once.
	 */
	acquire(ticket: number, signals: Array<AbortSignal | undefined> = []): Promise<LimiterPermit> {
		this.lastUsedAt = Date.now();
		const live = signals.filter((signal): signal is AbortSignal => signal !== undefined);
		if (live.some((signal) => signal.aborted)) return Promise.reject(new LimiterAbortedError());
		return new Promise((resolve, reject) => {
			const waiter: LimiterWaiter = { ticket, resolve, reject, detach: () => {} };
			const onAbort = () => {
				const index = this.queue.indexOf(waiter);
				if (index < 0) return;
				this.queue.splice(index, 1);
				waiter.detach();
				reject(new LimiterAbortedError());
				this.admit();
			};
			for (const signal of live) signal.addEventListener('abort', onAbort, { once: true });
			waiter.detach = () => {
				for (const signal of live) signal.removeEventListener('abort', onAbort);
			};
			let at = this.queue.findIndex((other) => other.ticket > ticket);
			if (at < 0) at = this.queue.length;
			this.queue.splice(at, 0, waiter);
			this.admit();
		});
	}

	private admit(): void {
		while (this.active < this.limit && this.queue.length > 0) {
			const waiter = this.queue.shift() as LimiterWaiter;
			waiter.detach();
			this.active++;
			waiter.resolve(this.permit());
		}
	}

	private permit(): LimiterPermit {
		const epoch = this.epoch;
		let released = false;
		const release = () => {
			if (released) return;
			released = true;
			this.active--;
			this.lastUsedAt = Date.now();
			this.admit();
		};
		return {
			succeeded: () => {
				if (epoch === this.epoch) this.recordSuccess();
				release();
			},
			rateLimited: (maximum?: number) => {
				// Lower first, then free the slot: it must not be handed on above what Faseeh allows.
				this.recordRateLimit(epoch, maximum);
				release();
			},
			release,
		};
	}

	private recordSuccess(): void {
		if (this.limit >= this.ceiling) return;
		this.successes++;
		if (this.successes >= SUCCESSES_PER_RAISE * this.limit) {
			this.limit++;
			this.successes = 0;
		}
	}

	private recordRateLimit(epoch: number, maximum: number | undefined): void {
		let clamped = false;
		if (maximum !== undefined && maximum >= 1 && maximum !== this.learnedMaximum) {
			this.learnedMaximum = maximum;
			this.ceiling = this.computeCeiling();
			if (this.limit > this.ceiling) {
				// This process alone was over the account's maximum: the cap explains the 429.
				this.limit = this.ceiling;
				clamped = true;
			}
		}
		if (!clamped && epoch === this.epoch) {
			// Someone else holds part of the account's slots: one fewer for this process.
			this.limit = Math.max(1, this.limit - 1);
		}
		if (clamped || epoch === this.epoch) {
			this.epoch++;
			this.successes = 0;
		}
	}

	/** The plan (or UNKNOWN_PLAN_LIMIT without one), lowered by what a 429 said, never raised by it. */
	private computeCeiling(): number {
		const cap = this.planLimit ?? UNKNOWN_PLAN_LIMIT;
		return Math.max(1, Math.min(cap, this.learnedMaximum ?? cap));
	}
}

/** A slot held by one request. Exactly one of the three ends it (later calls do nothing). */
export interface LimiterPermit {
	/** The request got an answer that is not a 429. */
	succeeded(): void;
	/** The request was refused with 429; `maximum` is what Faseeh's message said, if anything. */
	rateLimited(maximum?: number): void;
	/** The request ended without an answer (network error, cancel). */
	release(): void;
}

interface LimiterWaiter {
	ticket: number;
	resolve: (permit: LimiterPermit) => void;
	reject: (error: Error) => void;
	detach: () => void;
}

export class LimiterAbortedError extends Error {
	constructor() {
		super('Stopped waiting for a Faseeh request slot');
	}
}

/** What `setPlan` declares for (an account read through one credential). */
const DEFAULT_CREDENTIAL = 'default';
/** A credential's declared plan is held this long after it was last seen. */
export const PLAN_MEMORY_MS = 10 * 60_000;
/** The ticket of a person waiting (a dropdown, a list search): ahead of every execution's request. */
export const INTERACTIVE_TICKET = 0;

/** Where an account with no plan set starts: the highest documented plan. */
export const UNKNOWN_PLAN_LIMIT = 10;
/** After a decrease, this many successes per slot before one more slot is tried. */
export const SUCCESSES_PER_RAISE = 10;
/** An account with nothing in flight or waiting for this long is forgotten. */
export const IDLE_ACCOUNT_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 60_000;

const limiters = new Map<string, AccountLimiter>();
let lastSweepAt = Date.now();
let nextTicket = 1;

/** A fresh queue ticket: the order of first arrival across every execution of the process. */
export function takeTicket(): number {
	return nextTicket++;
}

/**
 * The shared limiter of one account. The map key is the base URL plus a salted SHA-256 of the key
 * (a random salt per process): the key itself is never kept.
 */
export function accountLimiter(
	baseUrl: string,
	apiKey: string,
	planLimit: number | undefined,
	now = Date.now(),
	credential = DEFAULT_CREDENTIAL,
): AccountLimiter {
	if (now - lastSweepAt >= SWEEP_EVERY_MS) forgetIdleAccounts(now);
	const id = accountId(baseUrl, apiKey);
	let limiter = limiters.get(id);
	if (!limiter) {
		limiter = new AccountLimiter(undefined);
		limiters.set(id, limiter);
	}
	limiter.declarePlan(credential, planLimit, now);
	limiter.lastUsedAt = now;
	return limiter;
}

const SALT = randomBytes(16);

/**
 * Hosts of the one Faseeh/Munsit service: a key is one account whichever of them it is sent to
 * (Munsit is Faseeh's new brand, same API and keys; a UAE key works only on the UAE host anyway),
 * so they share one pool. Any other host (a proxy, a local test server) is its own pool.
 */
export const SHARED_ACCOUNT_HOSTS = ['api.faseeh.ai', 'ae.api.faseeh.ai', 'api.munsit.com'];

/**
 * The pool an account's requests share: a salted hash of the key with, for a host that is not one
 * of SHARED_ACCOUNT_HOSTS, its normalised origin and path (case, default port and trailing slashes
 * do not make a second pool).
 */
export function accountId(baseUrl: string, apiKey: string): string {
	const digest = createHash('sha256').update(SALT).update(apiKey).digest('hex').slice(0, 32);
	return `${normalisedPool(baseUrl)}#${digest}`;
}

/** The pool of a base URL: `faseeh` for Faseeh's and Munsit's hosts, else the normalised URL. */
export function normalisedPool(baseUrl: string): string {
	let url: URL;
	try {
		url = new URL(baseUrl.trim());
	} catch {
		return baseUrl.trim().replace(/\/+$/, '').toLowerCase();
	}
	if (SHARED_ACCOUNT_HOSTS.includes(url.hostname)) return 'faseeh';
	return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
}

/** Drops accounts idle for IDLE_ACCOUNT_MS. Returns how many are left. */
export function forgetIdleAccounts(now = Date.now()): number {
	lastSweepAt = now;
	for (const [id, limiter] of limiters) {
		if (limiter.idle && now - limiter.lastUsedAt >= IDLE_ACCOUNT_MS) limiters.delete(id);
	}
	return limiters.size;
}

/** How many accounts are remembered (for tests and diagnostics). */
export function knownAccounts(): number {
	return limiters.size;
}

/** Forgets every account (tests only: each test starts with a process that has seen no 429). */
export function resetAccountLimiters(): void {
	limiters.clear();
}

/** Faseeh's error code for "too many concurrent requests for the plan" (its 429). */
export const CONCURRENCY_LIMIT_CODE = 42901;

/**
 * Reads the account maximum from a 429, and only from Faseeh's concurrency answer: its code 42901
 * (then the wording may vary: "maximum allowed is 5"), or, without a code, the documented shape
 * "Current: 3, Maximum: 2". Any other 429 text (a gateway's "max 60 requests per minute") teaches
 * nothing; the limiter then only steps down by one. What is learned is never above the plan or
 * UNKNOWN_PLAN_LIMIT (see AccountLimiter.computeCeiling).
 */
export function parseConcurrencyMaximum(message: string | undefined, code?: string | number): number | undefined {
	if (!message) return undefined;
	const match =
		Number(code) === CONCURRENCY_LIMIT_CODE
			? /max(?:imum)?\b\D{0,20}?(\d{1,4})/i.exec(message)
			: /\bcurrent\W{0,3}\d{1,4}\W{1,5}max(?:imum)?\W{0,3}(\d{1,4})\b/i.exec(message);
	if (!match) return undefined;
	const value = Number(match[1]);
	return value >= 1 ? value : undefined;
}
