import { createHmac, randomBytes } from 'crypto';
import { Cluster, Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

import {
	accountLimiter,
	AccountLimiter,
	IDLE_ACCOUNT_MS,
	INTERACTIVE_TICKET,
	LimiterAbortedError,
	normalisedPool,
	PLAN_MEMORY_MS,
	SUCCESSES_PER_RAISE,
	UNKNOWN_PLAN_LIMIT,
} from './limiter';
import type { Limiter, LimiterPermit } from './limiter';
import { waitUnlessAborted } from './retry';
import { readSharedLimiterChoice } from './sharedLimiterSettings';
import type { SharedLimiterChoice, SharedLimiterSettings } from './sharedLimiterSettings';

/**
 * The account limiter shared by every n8n process that uses one Faseeh key (docs/reference.md,
 * "Queue mode"): in queue mode (or with FASEEH_LIMITER_REDIS_URL) the slots and the waiting line of
 * an account live in Redis, so all processes together never have more requests in flight than the
 * plan. Same rules as AccountLimiter (the per-process one, which stays the fallback):
 *
 * - Slots are leases: a holder renews its slot every LEASE/3 while its request runs (a 200 MiB
 *   upload, a 60-minute transcription), and a process that stops renewing (killed, frozen, cut off)
 *   loses its slots when the lease runs out (FASEEH_LIMITER_LEASE_SECONDS, default 15 s). Waiting
 *   places are leases too, so a dead process never blocks the line for longer.
 * - The line is ordered by arrival across processes (a sequence number the account's hash hands
 *   out), a request keeps its place across its 429 retries, and dropdowns (INTERACTIVE_TICKET) go
 *   ahead of every execution. A freed slot goes to the head of the line, whichever process it is in:
 *   the round trip that frees it hands it on in Redis at once, and tells the owner through Redis
 *   pub/sub (or the owner sees it at its next round trip, within a second), so a hand-over between
 *   processes costs one round trip and one message. A waiter whose owner died holds what it was
 *   handed until its lease runs out.
 * - The limit (plan, learned maximum, the step-down on 429 and the slow raise) is kept once for the
 *   account in Redis: what one process learns, all use.
 * - Everything an account needs happens in one Lua script (SYNC_SCRIPT) per round trip, batched per
 *   process: what was released, what waits, what renews, who is admitted.
 *
 * Degrade, never fail: when Redis does not answer (connect or command timeout of a few seconds, a
 * refused connection, a wrong password), every waiting request moves to the per-process limiter at
 * once, one warning names the setting, and the shared limiter is tried again when Redis answers.
 */

/** How long a command may take before Redis counts as not answering. */
export const REDIS_COMMAND_TIMEOUT_MS = 3_000;
/** How long the first request of a process waits for the connection before falling back. */
const CONNECT_WAIT_MS = 3_000;
/** In fallback, how often a request may try whether Redis answers again. */
const PROBE_EVERY_MS = 2_000;
/** Waiters and holders are renewed, and the line read again, at least this often. */
const MAX_TICK_MS = 1_000;
/** The score offset of an execution's request: a dropdown's (class 0) always sorts first. */
const EXECUTION_CLASS = 1;

type LogFn = (message: string, meta?: Record<string, unknown>) => void;
export interface LimiterLogger {
	debug: LogFn;
	warn: LogFn;
}

/**
 * One round trip for one account. KEYS: holders (zset id → lease end), waiting (zset id → place),
 * waitexp (zset id → lease end), state (hash), plans (hash credential → "plan|seenAt").
 * Time is Redis's own (TIME), so processes on machines with different clocks agree.
 */
const SYNC_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local planMemory = tonumber(ARGV[2])
local idle = tonumber(ARGV[3])
local prefix = ARGV[4]
local channel = ARGV[5]
local tag = ARGV[6]
local unknownCap = tonumber(ARGV[7])
local perRaise = tonumber(ARGV[8])
local i = 9
local function arg() local v = ARGV[i]; i = i + 1; return v end
local function int(n) return string.format('%d', n) end

local changed = 0
changed = changed + redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now))
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', int(now))
for _, id in ipairs(gone) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
end
changed = changed + #gone

local s = redis.call('HMGET', KEYS[4], 'plan', 'learned', 'limit', 'epoch', 'successes')
local plan = tonumber(s[1])
local learned = tonumber(s[2])
local limit = tonumber(s[3])
local epoch = tonumber(s[4]) or 0
local successes = tonumber(s[5]) or 0
local function ceiling()
  local c = plan or unknownCap
  if learned and learned < c then c = learned end
  if c < 1 then c = 1 end
  return c
end
if not limit then limit = ceiling() end
local limitBefore = limit

local nDecl = tonumber(arg())
for d = 1, nDecl do
  local cred = arg()
  local p = arg()
  redis.call('HSET', KEYS[5], cred, p .. '|' .. int(now))
end
local smallest = nil
local declared = redis.call('HGETALL', KEYS[5])
for k = 1, #declared, 2 do
  local v = declared[k + 1]
  local sep = string.find(v, '|', 1, true)
  local p = tonumber(string.sub(v, 1, sep - 1))
  local seen = tonumber(string.sub(v, sep + 1))
  if now - seen > planMemory then
    redis.call('HDEL', KEYS[5], declared[k])
  elseif p and (smallest == nil or p < smallest) then
    smallest = p
  end
end
if smallest ~= plan then
  plan = smallest
  learned = nil
  local c = ceiling()
  if plan == nil then
    if limit > c then limit = c end
  else
    limit = c
  end
  epoch = epoch + 1
  successes = 0
end

local nOut = tonumber(arg())
for o = 1, nOut do
  local id = arg()
  local kind = arg()
  local e = tonumber(arg())
  local max = tonumber(arg())
  changed = changed + redis.call('ZREM', KEYS[1], id)
  if kind == 's' then
    if e == epoch and limit < ceiling() then
      successes = successes + 1
      if successes >= perRaise * limit then
        limit = limit + 1
        successes = 0
      end
    end
  elseif kind == 'r' then
    local clamped = false
    if max and max >= 1 and max ~= learned then
      learned = max
      local c = ceiling()
      if limit > c then
        limit = c
        clamped = true
      end
    end
    if (not clamped) and e == epoch and limit > 1 then limit = limit - 1 end
    if clamped or e == epoch then
      epoch = epoch + 1
      successes = 0
    end
  end
end

local nRemove = tonumber(arg())
for r = 1, nRemove do
  local id = arg()
  changed = changed + redis.call('ZREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
  -- admitted by another process before its owner gave up: the slot was never used
  changed = changed + redis.call('ZREM', KEYS[1], id)
end

local nRenew = tonumber(arg())
for h = 1, nRenew do
  redis.call('ZADD', KEYS[1], 'XX', int(now + lease), arg())
end

local seqs = {}
local nNew = tonumber(arg())
for w = 1, nNew do
  local id = arg()
  local seq = tonumber(arg())
  local class = tonumber(arg())
  if not seq then
    seq = redis.call('HINCRBY', KEYS[4], 'seq', 1)
    table.insert(seqs, id)
    table.insert(seqs, int(seq))
  end
  redis.call('ZADD', KEYS[2], 'NX', int(class * 1000000000000 + seq), id)
  redis.call('ZADD', KEYS[3], int(now + lease), id)
end

local mine = {}
local nMine = tonumber(arg())
for w = 1, nMine do
  local id = arg()
  table.insert(mine, id)
  redis.call('ZADD', KEYS[3], 'XX', int(now + lease), id)
end

-- The head of the line gets the free slots, whichever process it is in; the others hear it by pub/sub.
local admitted = {}
local others = {}
local free = limit - redis.call('ZCARD', KEYS[1])
if free > 0 then
  local head = redis.call('ZRANGE', KEYS[2], 0, free - 1)
  for _, id in ipairs(head) do
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZADD', KEYS[1], int(now + lease), id)
    table.insert(admitted, id)
    if string.sub(id, 1, #prefix) ~= prefix then table.insert(others, id) end
  end
end

redis.call('HSET', KEYS[4], 'plan', plan or '', 'learned', learned or '', 'limit', limit, 'epoch', epoch, 'successes', successes)
if #others > 0 then
  redis.call('PUBLISH', channel, tag .. ' ' .. epoch .. ' ' .. table.concat(others, ' '))
end
for k = 1, 5 do redis.call('PEXPIRE', KEYS[k], idle) end

local holders = redis.call('ZCARD', KEYS[1])
local waiting = redis.call('ZCARD', KEYS[2])
local out = { limit, holders, waiting, epoch, plan or -1, learned or -1 }
table.insert(out, #seqs / 2)
for _, v in ipairs(seqs) do table.insert(out, v) end
-- Each of this process's waiters: its place in the line, -2 once it holds a slot, -1 when gone.
for _, id in ipairs(mine) do
  local rank = redis.call('ZRANK', KEYS[2], id)
  if rank then
    table.insert(out, rank)
  elseif redis.call('ZSCORE', KEYS[1], id) then
    table.insert(out, -2)
  else
    table.insert(out, -1)
  end
end
return out
`;

type RedisClient = Redis | Cluster;
type SyncClient = RedisClient & {
	faseehLimiterSync(...args: Array<string | number>): Promise<Array<string | number>>;
};

interface SharedWaiter {
	id: string;
	ticket: number;
	interactive: boolean;
	signals: AbortSignal[];
	resolve: (permit: LimiterPermit) => void;
	reject: (error: Error) => void;
	detach: () => void;
	/** Sent to Redis (joined the line): an abort must take it out there too. */
	sent: boolean;
}

interface Outcome {
	id: string;
	kind: 's' | 'r' | 'x';
	epoch: number;
	maximum?: number;
}

type Mode = 'connecting' | 'shared' | 'fallback';

/** The shared limiter of one account in this process: Redis while it answers, else `local`. */
export class SharedAccountLimiter implements Limiter {
	/** The per-process limiter used while Redis does not answer (today's AccountLimiter). */
	readonly local = new AccountLimiter(undefined);
	private readonly waiters = new Map<string, SharedWaiter>();
	private readonly holders = new Set<string>();
	private pendingNew: SharedWaiter[] = [];
	private pendingRemove: string[] = [];
	private pendingOutcomes: Outcome[] = [];
	private readonly pendingDeclarations = new Map<string, number | undefined>();
	/** A request's place in the account's line, kept across its retries: local ticket → sequence. */
	private readonly places = new Map<number, { seq: number; usedAt: number }>();
	/** What the last round trip said (all processes together). */
	private known = { limit: UNKNOWN_PLAN_LIMIT, holders: 0, waiting: 0, epoch: 0, plan: -1, learned: -1 };
	private readonly lastAhead = new Map<number, number>();
	private synced = false;
	private syncing = false;
	private dirty = false;
	lastUsedAt = Date.now();
	/** The queue depth is logged at most once a second per account. */
	depthLoggedAt = 0;

	constructor(
		private readonly hub: SharedLimiterHub,
		/** The keyed hash that names this account in Redis. */
		readonly tag: string,
	) {}

	get currentLimit(): number {
		// Before its first round trip the account's limit is not known here: the declared plan is.
		return this.hub.mode === 'shared' && this.synced ? this.known.limit : this.local.currentLimit;
	}

	get inFlight(): number {
		return this.hub.mode === 'shared' ? this.known.holders : this.local.inFlight;
	}

	get waiting(): number {
		return this.hub.mode === 'shared' ? this.known.waiting : this.local.waiting;
	}

	/** Processes with waiters or holders of this account renew them. */
	get active(): boolean {
		return this.waiters.size > 0 || this.holders.size > 0 || this.pendingOutcomes.length > 0 || this.pendingRemove.length > 0;
	}

	ahead(ticket: number): number {
		if (this.hub.mode !== 'shared') return this.local.ahead(ticket);
		return this.lastAhead.get(ticket) ?? this.known.waiting;
	}

	declarePlan(credential: string, planLimit: number | undefined, now = Date.now()): void {
		this.local.declarePlan(credential, planLimit, now);
		this.pendingDeclarations.set(credential, planLimit);
		this.lastUsedAt = now;
	}

	acquire(ticket: number, signals: Array<AbortSignal | undefined> = []): Promise<LimiterPermit> {
		this.lastUsedAt = Date.now();
		const live = signals.filter((signal): signal is AbortSignal => signal !== undefined);
		if (live.some((signal) => signal.aborted)) return Promise.reject(new LimiterAbortedError());
		if (this.hub.mode === 'fallback') {
			this.hub.probeSoon();
			return this.local.acquire(ticket, live);
		}
		return new Promise((resolve, reject) => {
			const waiter: SharedWaiter = {
				id: this.hub.newId(),
				ticket,
				interactive: ticket === INTERACTIVE_TICKET,
				signals: live,
				resolve,
				reject,
				detach: () => {},
				sent: false,
			};
			const onAbort = () => {
				if (!this.waiters.delete(waiter.id)) return;
				waiter.detach();
				if (waiter.sent) this.pendingRemove.push(waiter.id);
				else this.pendingNew = this.pendingNew.filter((other) => other !== waiter);
				reject(new LimiterAbortedError());
				this.scheduleSync();
			};
			for (const signal of live) signal.addEventListener('abort', onAbort, { once: true });
			waiter.detach = () => {
				for (const signal of live) signal.removeEventListener('abort', onAbort);
			};
			this.waiters.set(waiter.id, waiter);
			this.pendingNew.push(waiter);
			if (this.hub.mode === 'connecting') void this.hub.whenConnected().then(() => this.scheduleSync());
			else this.scheduleSync();
		});
	}

	/** Runs a round trip now, or right after the one in flight. */
	scheduleSync(): void {
		if (this.syncing) {
			this.dirty = true;
			return;
		}
		void this.runSyncs();
	}

	private async runSyncs(): Promise<void> {
		this.syncing = true;
		try {
			do {
				this.dirty = false;
				if (this.hub.mode === 'fallback') {
					this.moveWaitersToLocal();
					return;
				}
				if (this.hub.mode === 'connecting') return;
				// Let the requests of this turn of the event loop join the same round trip.
				await Promise.resolve();
				const error = await this.syncOnce();
				if (error) {
					this.hub.failed(error);
					this.moveWaitersToLocal();
					return;
				}
			} while (this.dirty);
		} finally {
			this.syncing = false;
		}
	}

	/** One round trip; resolves with the error when Redis did not answer. */
	private async syncOnce(): Promise<Error | undefined> {
		const client = this.hub.client as SyncClient;
		const declarations = [...this.pendingDeclarations];
		const outcomes = this.pendingOutcomes;
		const removals = this.pendingRemove;
		// Oldest request first: local tickets keep their order inside the account's line.
		const joining = this.pendingNew.sort((a, b) => a.ticket - b.ticket);
		this.pendingDeclarations.clear();
		this.pendingOutcomes = [];
		this.pendingRemove = [];
		this.pendingNew = [];
		for (const waiter of joining) waiter.sent = true;
		const mine = [...this.waiters.values()].filter((waiter) => waiter.sent);
		const now = Date.now();

		const args: Array<string | number> = [
			this.hub.settings.leaseMs,
			PLAN_MEMORY_MS,
			IDLE_ACCOUNT_MS,
			this.hub.prefix,
			this.hub.channel,
			this.tag,
			UNKNOWN_PLAN_LIMIT,
			SUCCESSES_PER_RAISE,
			declarations.length,
			...declarations.flatMap(([credential, plan]) => [this.hub.credentialTag(credential), plan === undefined ? '' : plan]),
			outcomes.length,
			...outcomes.flatMap((outcome) => [outcome.id, outcome.kind, outcome.epoch, outcome.maximum ?? '']),
			removals.length,
			...removals,
			this.holders.size,
			...this.holders,
			joining.length,
			...joining.flatMap((waiter) => {
				const place = waiter.interactive ? undefined : this.places.get(waiter.ticket);
				return [waiter.id, place?.seq ?? '', waiter.interactive ? 0 : EXECUTION_CLASS];
			}),
			mine.length,
			...mine.map((waiter) => waiter.id),
		];
		let result: Array<string | number>;
		try {
			result = await client.faseehLimiterSync(...this.hub.keys(this.tag), ...args);
		} catch (error) {
			// Nothing of this round trip is known to have happened: send it again once Redis answers
			// (releases are idempotent; the waiters move to the local limiter meanwhile).
			this.pendingOutcomes.unshift(...outcomes);
			this.pendingRemove.unshift(...removals);
			for (const [credential, plan] of declarations) if (!this.pendingDeclarations.has(credential)) this.pendingDeclarations.set(credential, plan);
			return error as Error;
		}
		this.hub.answered();
		this.synced = true;
		const numbers = result.map((value) => (typeof value === 'number' ? value : Number(value)));
		const before = this.known;
		this.known = {
			limit: numbers[0],
			holders: numbers[1],
			waiting: numbers[2],
			epoch: numbers[3],
			plan: numbers[4],
			learned: numbers[5],
		};
		let at = 6;
		const seqCount = numbers[at++];
		const assigned = new Map<string, number>();
		for (let k = 0; k < seqCount; k++) assigned.set(String(result[at + 2 * k]), Number(result[at + 2 * k + 1]));
		at += 2 * seqCount;
		for (const waiter of joining) {
			const seq = assigned.get(waiter.id);
			if (seq !== undefined && !waiter.interactive) this.places.set(waiter.ticket, { seq, usedAt: now });
		}
		const admitted: string[] = [];
		for (const [index, waiter] of mine.entries()) {
			const rank = numbers[at + index];
			if (rank >= 0) this.lastAhead.set(waiter.ticket, rank);
			else if (rank === -2) admitted.push(waiter.id);
			else if (this.waiters.has(waiter.id)) {
				// Its place ran out (this process did not renew it in time): it joins again, same seq.
				waiter.sent = false;
				this.pendingNew.push(waiter);
				this.dirty = true;
			}
		}
		this.admit(admitted, this.known.epoch, now);
		this.hub.reportChanges(this, before, this.known, admitted.length);
		this.forgetOldPlaces(now);
		return undefined;
	}

	/**
	 * Waiters of this process that hold a slot now (admitted by a round trip of this process or, as
	 * pub/sub tells, of another). One aborted meanwhile gives its slot straight back.
	 */
	admit(ids: string[], epoch: number, now = Date.now()): void {
		for (const id of ids) {
			const waiter = this.waiters.get(id);
			// Already taken, or given up: a given-up waiter's removal takes its slot out of Redis too.
			if (!waiter) continue;
			this.waiters.delete(id);
			waiter.detach();
			this.lastAhead.delete(waiter.ticket);
			const place = this.places.get(waiter.ticket);
			if (place) place.usedAt = now;
			this.holders.add(id);
			waiter.resolve(this.permit(id, epoch));
		}
	}

	private permit(id: string, epoch: number): LimiterPermit {
		let done = false;
		const end = (kind: Outcome['kind'], maximum?: number) => {
			if (done) return;
			done = true;
			this.holders.delete(id);
			this.pendingOutcomes.push({ id, kind, epoch, maximum });
			this.lastUsedAt = Date.now();
			if (this.hub.mode === 'shared') this.scheduleSync();
		};
		return {
			succeeded: () => end('s'),
			rateLimited: (maximum?: number) => end('r', maximum),
			release: () => end('x'),
		};
	}

	/** Redis stopped answering: every request waiting here waits in the per-process limiter instead. */
	moveWaitersToLocal(): void {
		const waiters = [...this.waiters.values()];
		this.waiters.clear();
		this.pendingNew = [];
		// Their places in Redis run out with their lease (or are taken out once Redis answers).
		for (const waiter of waiters) if (waiter.sent) this.pendingRemove.push(waiter.id);
		for (const waiter of waiters) {
			waiter.detach();
			this.local.acquire(waiter.ticket, waiter.signals).then(waiter.resolve, waiter.reject);
		}
	}

	/** Places of requests that have not come back for a while (they finished long ago). */
	private forgetOldPlaces(now: number): void {
		if (this.places.size >= 1000) {
			for (const [ticket, place] of this.places) if (now - place.usedAt > PLAN_MEMORY_MS) this.places.delete(ticket);
		}
		if (this.lastAhead.size >= 1000) {
			const waiting = new Set([...this.waiters.values()].map((waiter) => waiter.ticket));
			for (const ticket of this.lastAhead.keys()) if (!waiting.has(ticket)) this.lastAhead.delete(ticket);
		}
	}
}

/** The connection of this process to Redis and its shared account limiters. */
export class SharedLimiterHub {
	mode: Mode = 'connecting';
	readonly client: RedisClient;
	private subscriber: RedisClient | undefined;
	readonly prefix: string;
	readonly channel: string;
	private readonly keyPrefix: string;
	private readonly accounts = new Map<string, SharedAccountLimiter>();
	private sequence = 0;
	private connected: Promise<void>;
	private settleConnected: () => void = () => {};
	private warnedThisEpisode = false;
	private lastProbeAt = 0;
	private probing = false;
	private ticking = false;
	private closed = false;
	logger: LimiterLogger | undefined;

	constructor(readonly settings: SharedLimiterSettings) {
		// Unique per process and per start: a slot is owned by the process that took it.
		this.prefix = `${randomBytes(6).toString('hex')}:`;
		this.keyPrefix = `${settings.prefix}:faseeh-limiter`;
		this.channel = `${this.keyPrefix}:freed`;
		this.connected = new Promise((resolve) => {
			this.settleConnected = resolve;
		});
		this.client = this.createClient();
		this.client.defineCommand('faseehLimiterSync', { numberOfKeys: 5, lua: SYNC_SCRIPT });
		this.client.on('ready', () => {
			if (this.mode === 'connecting') {
				this.mode = 'shared';
				this.log('debug', `Faseeh: shared request limiter connected to Redis at ${settings.where}`);
				this.settleConnected();
				this.subscribe();
			} else if (this.mode === 'fallback') {
				this.probeSoon(true);
			}
		});
		this.client.on('error', (error: Error) => {
			if (this.mode === 'connecting') {
				this.failed(error);
				this.settleConnected();
			} else if (this.mode === 'shared') {
				this.failed(error);
			}
		});
		// A first connection that neither succeeds nor fails (a silent host): fall back after CONNECT_WAIT_MS.
		const gaveUp = new AbortController();
		void this.connected.then(() => gaveUp.abort());
		void waitUnlessAborted(CONNECT_WAIT_MS, [gaveUp.signal]).then((waitedOut) => {
			if (waitedOut && this.mode === 'connecting') {
				this.failed(new Error(`no answer within ${CONNECT_WAIT_MS / 1000} s`));
				this.settleConnected();
			}
		});
	}

	private redisOptions(): RedisOptions {
		const { connection } = this.settings;
		return {
			username: connection.username || undefined,
			password: connection.password || undefined,
			db: connection.db,
			tls: connection.tls,
			connectTimeout: CONNECT_WAIT_MS,
			commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
			// A command while Redis is away fails at once (the request then uses the local limiter).
			enableOfflineQueue: false,
			maxRetriesPerRequest: 0,
			retryStrategy: (times: number) => Math.min(500 * times, 5_000),
			connectionName: 'faseeh-limiter',
		};
	}

	private createClient(): RedisClient {
		const { connection } = this.settings;
		const options = this.redisOptions();
		if (connection.clusterNodes.length > 0) {
			return new Cluster(connection.clusterNodes, {
				redisOptions: options,
				enableOfflineQueue: false,
				clusterRetryStrategy: (times: number) => Math.min(500 * times, 5_000),
			});
		}
		if (connection.url) return new Redis(connection.url, options);
		return new Redis({ ...options, host: connection.host, port: connection.port });
	}

	/** Slots freed elsewhere: the accounts with waiters here look at the line at once. */
	private subscribe(): void {
		if (this.subscriber || this.closed) return;
		// Its SUBSCRIBE must wait for the connection (and be sent again after a reconnect), unlike the
		// client's commands, which fail at once while Redis is away.
		const subscriber =
			this.client instanceof Cluster
				? this.client.duplicate(undefined, { enableOfflineQueue: true })
				: this.client.duplicate({ enableOfflineQueue: true });
		this.subscriber = subscriber;
		subscriber.on('error', () => {
			// The client's own error tells the story; without pub/sub the waiters still look every tick.
		});
		// "<account> <epoch> <slot id> …": slots another process handed to waiters at the head of the line.
		subscriber.on('message', (_channel: string, message: string) => {
			const [tag, epoch, ...ids] = message.split(' ');
			const account = this.accounts.get(tag);
			const mine = ids.filter((id) => id.startsWith(this.prefix));
			if (account && mine.length > 0 && this.mode === 'shared') account.admit(mine, Number(epoch));
		});
		subscriber.subscribe(this.channel).catch(() => undefined);
	}

	whenConnected(): Promise<void> {
		return this.connected;
	}

	newId(): string {
		return `${this.prefix}${(++this.sequence).toString(36)}`;
	}

	keys(tag: string): string[] {
		// One hash tag per account: its keys share a cluster slot, as one script needs.
		const base = `${this.keyPrefix}:{${tag}}`;
		return [`${base}:holders`, `${base}:waiting`, `${base}:waitexp`, `${base}:state`, `${base}:plans`];
	}

	/** A credential id as stored in Redis: hashed like the account (ids are not secret, but need not be kept). */
	credentialTag(credential: string): string {
		return createHmac('sha256', this.settings.secret).update(`faseeh-credential\n${credential}`).digest('hex').slice(0, 16);
	}

	/**
	 * The name of an account in Redis: HMAC-SHA256 of the pool and the key with n8n's encryption key,
	 * which every process of the instance shares and which never leaves them. The same in every
	 * process; nothing of the key can be learned from it, nor guessed keys tested against it.
	 */
	accountTag(baseUrl: string, apiKey: string): string {
		return createHmac('sha256', this.settings.secret).update(`faseeh-account\n${normalisedPool(baseUrl)}\n${apiKey}`).digest('hex').slice(0, 32);
	}

	account(baseUrl: string, apiKey: string): SharedAccountLimiter {
		const tag = this.accountTag(baseUrl, apiKey);
		let account = this.accounts.get(tag);
		if (!account) {
			account = new SharedAccountLimiter(this, tag);
			this.accounts.set(tag, account);
		}
		this.forgetIdle();
		this.startTicking();
		return account;
	}

	private forgetIdle(now = Date.now()): void {
		for (const [tag, account] of this.accounts) {
			if (!account.active && account.local.idle && now - account.lastUsedAt >= IDLE_ACCOUNT_MS) this.accounts.delete(tag);
		}
	}

	/** Renews this process's leases and looks at the lines while any account has something going. */
	private startTicking(): void {
		if (this.ticking || this.closed) return;
		this.ticking = true;
		void (async () => {
			try {
				const tick = Math.min(MAX_TICK_MS, Math.floor(this.settings.leaseMs / 3));
				for (;;) {
					await waitUnlessAborted(tick, []);
					if (this.closed) return;
					const busy = [...this.accounts.values()].filter((account) => account.active);
					if (busy.length === 0) return;
					if (this.mode === 'shared') for (const account of busy) account.scheduleSync();
					else if (this.mode === 'fallback') this.probeSoon();
				}
			} finally {
				this.ticking = false;
			}
		})();
	}

	/** A round trip worked. */
	answered(): void {
		if (this.mode !== 'shared') return;
		this.warnedThisEpisode = false;
	}

	/** Redis did not answer: fall back at once (one warning until Redis answers again). */
	failed(error: Error): void {
		if (this.closed) return;
		const wasShared = this.mode !== 'fallback';
		this.mode = 'fallback';
		if (wasShared) for (const account of this.accounts.values()) account.moveWaitersToLocal();
		if (!this.warnedThisEpisode) {
			this.warnedThisEpisode = true;
			this.log(
				'warn',
				`Faseeh: the shared request limiter cannot use Redis at ${this.settings.where}: ${describeRedisError(error, this.settings)}. ` +
					'Each n8n process now holds the Faseeh plan by itself (requests go on); the shared limiter is used again when Redis answers.',
			);
		}
	}

	/** In fallback: tries Redis again (at most every PROBE_EVERY_MS; at once when it says it is ready). */
	probeSoon(now = false): void {
		if (this.mode !== 'fallback' || this.probing || this.closed) return;
		if (!now && Date.now() - this.lastProbeAt < PROBE_EVERY_MS) return;
		if (this.client.status !== 'ready') return;
		this.probing = true;
		this.lastProbeAt = Date.now();
		this.client
			.ping()
			.then(() => {
				if (this.mode !== 'fallback' || this.closed) return;
				this.mode = 'shared';
				this.warnedThisEpisode = false;
				this.log('debug', `Faseeh: shared request limiter uses Redis again at ${this.settings.where}`);
				this.subscribe();
				for (const account of this.accounts.values()) if (account.active) account.scheduleSync();
			})
			.catch(() => undefined)
			.finally(() => {
				this.probing = false;
			});
	}

	reportChanges(
		account: SharedAccountLimiter,
		before: { limit: number; waiting: number; learned: number },
		after: { limit: number; holders: number; waiting: number; learned: number; plan: number },
		admitted: number,
	): void {
		if (after.learned !== before.learned && after.learned > 0) {
			this.log('debug', 'Faseeh: shared limiter learned the account maximum from a 429', { account: account.tag.slice(0, 8), maximum: after.learned, limit: after.limit });
		} else if (after.limit !== before.limit) {
			this.log('debug', 'Faseeh: shared limiter changed the account limit', { account: account.tag.slice(0, 8), from: before.limit, to: after.limit, plan: after.plan > 0 ? after.plan : undefined });
		}
		const now = Date.now();
		if (after.waiting !== before.waiting && now - account.depthLoggedAt >= 1_000) {
			account.depthLoggedAt = now;
			this.log('debug', 'Faseeh: shared limiter queue depth across processes', { account: account.tag.slice(0, 8), waiting: after.waiting, inFlight: after.holders, limit: after.limit, admittedHere: admitted });
		}
	}

	log(level: 'debug' | 'warn', message: string, meta?: Record<string, unknown>): void {
		this.logger?.[level](message, meta);
	}

	/** Ends the connections (tests; a process about to exit). Slots still held run out with their lease. */
	async close(): Promise<void> {
		this.closed = true;
		this.mode = 'fallback';
		for (const account of this.accounts.values()) account.moveWaitersToLocal();
		this.subscriber?.disconnect();
		this.client.disconnect();
	}
}

/** What went wrong, for the one warning: which setting to look at, never a password. */
export function describeRedisError(error: Error, settings: SharedLimiterSettings): string {
	const code = (error as NodeJS.ErrnoException).code ?? '';
	const message = redactSecrets(error.message, settings);
	const prefix = settings.connection.url ? 'FASEEH_LIMITER_REDIS_URL' : 'QUEUE_BULL_REDIS';
	if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(message)) {
		return `${message} (check ${settings.connection.url ? 'the user and password in FASEEH_LIMITER_REDIS_URL' : 'QUEUE_BULL_REDIS_USERNAME and QUEUE_BULL_REDIS_PASSWORD'})`;
	}
	if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${message} (the host is unknown: check ${settings.connection.url ? 'FASEEH_LIMITER_REDIS_URL' : 'QUEUE_BULL_REDIS_HOST'})`;
	if (code === 'ECONNREFUSED') return `${message} (nothing listens there: check ${settings.connection.url ? 'FASEEH_LIMITER_REDIS_URL' : 'QUEUE_BULL_REDIS_HOST and QUEUE_BULL_REDIS_PORT'})`;
	if (/TLS|SSL|wrong version number|secure/i.test(message) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) {
		return `${message} (a TLS problem: check ${settings.connection.url ? 'rediss:// in FASEEH_LIMITER_REDIS_URL' : 'QUEUE_BULL_REDIS_TLS'} against the server)`;
	}
	if (/timed? ?out|ETIMEDOUT|no answer/i.test(message) || code === 'ETIMEDOUT') return `${message} (Redis did not answer in time: check ${prefix} settings and the network)`;
	return message;
}

/** An error text never carries the password (ioredis's do not; a URL in a message might). */
function redactSecrets(text: string, settings: SharedLimiterSettings): string {
	let out = text;
	const secrets = [settings.connection.password, settings.secret];
	if (settings.connection.url) {
		try {
			const url = new URL(settings.connection.url);
			secrets.push(decodeURIComponent(url.password), url.password);
		} catch {
			// not a URL: nothing more to hide
		}
	}
	for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
	return out;
}

let choice: SharedLimiterChoice | undefined;
let hub: SharedLimiterHub | undefined;
let reported = false;

/**
 * The limiter of an account for a request: shared through Redis in queue mode (or with
 * FASEEH_LIMITER_REDIS_URL), else the per-process AccountLimiter. Regular mode without the
 * override opens no connection and reads nothing beyond two variables.
 */
export function limiterFor(
	baseUrl: string,
	apiKey: string,
	planLimit: number | undefined,
	now = Date.now(),
	credential?: string,
	logger?: LimiterLogger,
): Limiter {
	choice ??= readSharedLimiterChoice();
	if (!choice.shared) {
		if (!reported && logger) {
			reported = true;
			if (choice.problem) logger.warn(`Faseeh: the shared request limiter is off: ${choice.problem}. Each n8n process holds the Faseeh plan by itself.`);
			else logger.debug(`Faseeh: per-process request limiter (${choice.reason})`);
		}
		return accountLimiter(baseUrl, apiKey, planLimit, now, credential);
	}
	hub ??= new SharedLimiterHub(choice.settings);
	if (logger) hub.logger = logger;
	const account = hub.account(baseUrl, apiKey);
	account.declarePlan(credential ?? 'default', planLimit, now);
	return account;
}

/** The hub of this process, if the shared limiter is on (tests, diagnostics). */
export function sharedLimiterHub(): SharedLimiterHub | undefined {
	return hub;
}

/** Closes the shared limiter's connections and reads the settings again at the next request (tests). */
export async function resetSharedLimiter(): Promise<void> {
	const current = hub;
	hub = undefined;
	choice = undefined;
	reported = false;
	await current?.close();
}
