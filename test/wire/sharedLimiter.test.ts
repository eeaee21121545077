/**
 * The shared account limiter (nodes/shared/transport/sharedLimiter.ts) against a real redis-server
 * (Debian's, installed with apt-get when missing, started here on a free port and removed after),
 * with several limiter instances in separate processes (test/wire/sharedLimiterChild.ts, each its
 * own Redis connection) sending real HTTP to the sandbox, which refuses every request above the
 * plan with 429 / 42901 and counts what is in flight.
 *
 * `redis-cli monitor` runs for the whole file: every command any process sent is searched for the
 * API key at the end, and read to check that each slot was given back exactly once.
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';

import { ensureRedisServer, startRedis } from '../../scripts/lib/queue';
import type { RedisServer } from '../../scripts/lib/queue';
import { limiterFor, resetSharedLimiter, sharedLimiterHub } from '../../nodes/shared/transport/sharedLimiter';
import { takeTicket } from '../../nodes/shared/transport/limiter';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { TEST_API_KEY, startSandbox } from '../helpers/faseeh';
import type { ChildCommand, ChildReply, RequestRecord } from './sharedLimiterChild';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

const ENCRYPTION_KEY = 'test-encryption-key-shared-by-all-processes';
const LEASE_SECONDS = 3;
const PLAN = 2;
const REPO = path.resolve(__dirname, '..', '..');

let redisServerBin: string;
let redis: RedisServer;
let monitor: ChildProcess;
let monitorOutput = '';
const children: Child[] = [];
/** Three processes for the whole file (a process connects once, at its first request, as n8n's do). */
let procs: Child[] = [];

class Child {
	private readonly proc: ChildProcess;
	private nextId = 1;
	private readonly waiting = new Map<number, (reply: ChildReply) => void>();
	readonly ready: Promise<void>;
	readonly exited: Promise<number | null>;

	constructor(env: Record<string, string>) {
		this.proc = fork(path.join(__dirname, 'sharedLimiterChild.ts'), [], {
			execArgv: ['-r', 'ts-node/register/transpile-only'],
			env: { ...process.env, ...env, TS_NODE_PROJECT: path.join(REPO, 'test', 'tsconfig.json') },
			stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
		});
		this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
		this.ready = new Promise((resolve) => this.waiting.set(0, () => resolve()));
		this.proc.on('message', (reply: ChildReply) => {
			const done = this.waiting.get(reply.id);
			this.waiting.delete(reply.id);
			done?.(reply);
		});
		children.push(this);
	}

	/** Sends a command; resolves with its reply (`late`: a second reply, sent when a hold ends). */
	send(command: WithoutId<ChildCommand>, late?: (reply: ChildReply) => void): Promise<ChildReply> {
		const id = this.nextId++;
		if (late) this.waiting.set(-id, late);
		return new Promise((resolve, reject) => {
			this.waiting.set(id, (reply) => (reply.ok ? resolve(reply) : reject(new Error(reply.error))));
			this.proc.send({ ...command, id } as ChildCommand);
		});
	}

	kill(): void {
		this.proc.kill('SIGKILL');
	}

	async stop(): Promise<void> {
		if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
		const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5_000);
		await this.send({ cmd: 'exit' }).catch(() => undefined);
		await this.exited;
		clearTimeout(timer);
	}
}

function childEnv(extra: Record<string, string> = {}): Record<string, string> {
	return {
		FASEEH_LIMITER_REDIS_URL: `redis://127.0.0.1:${redis.port}/0`,
		N8N_ENCRYPTION_KEY: ENCRYPTION_KEY,
		FASEEH_LIMITER_LEASE_SECONDS: String(LEASE_SECONDS),
		...extra,
	};
}

async function startChildren(count: number, extra?: Record<string, string>): Promise<Child[]> {
	const started = Array.from({ length: count }, () => new Child(childEnv(extra)));
	await Promise.all(started.map((child) => child.ready));
	return started;
}

async function stopAll(list: Child[]) {
	await Promise.all(list.map((child) => child.stop()));
}

function redisCli(args: string[]): Promise<string> {
	return new Promise((resolve, reject) => {
		const cli = spawn(path.join(path.dirname(redisServerBin), 'redis-cli'), ['-p', String(redis.port), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		cli.stdout.on('data', (data: Buffer) => (out += data.toString('utf8')));
		cli.stderr.on('data', (data: Buffer) => (out += data.toString('utf8')));
		cli.on('error', reject);
		cli.on('close', () => resolve(out));
	});
}

function startMonitor() {
	monitor = spawn(path.join(path.dirname(redisServerBin), 'redis-cli'), ['-p', String(redis.port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
	monitor.stdout?.on('data', (data: Buffer) => (monitorOutput += data.toString('utf8')));
}

/** The quoted arguments of each EVALSHA/EVAL line that MONITOR printed. */
function scriptCalls(): string[][] {
	return monitorOutput
		.split('\n')
		.filter((line) => /"(evalsha|eval)"/i.test(line))
		.map((line) => [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1]));
}

/** Slot ids each script call gave back (the outcomes section of its arguments: see SYNC_SCRIPT). */
function releasedIds(): string[] {
	const ids: string[] = [];
	for (const call of scriptCalls()) {
		// command, sha, numkeys, 5 keys, 8 fixed arguments, then the declarations and the outcomes.
		let at = 3 + 5 + 8;
		const declarations = Number(call[at++]);
		at += 2 * declarations;
		const outcomes = Number(call[at++]);
		for (let k = 0; k < outcomes; k++) ids.push(call[at + 4 * k]);
	}
	return ids;
}

/** Samples the sandbox's in-flight count every 2 ms while `run` runs: the most seen. */
async function sampled<T>(sandbox: FaseehSandbox, run: () => Promise<T>): Promise<{ result: T; sampledMax: number }> {
	let sampledMax = 0;
	const timer = setInterval(() => (sampledMax = Math.max(sampledMax, sandbox.inFlight)), 2);
	try {
		return { result: await run(), sampledMax };
	} finally {
		clearInterval(timer);
	}
}

beforeAll(async () => {
	redisServerBin = await ensureRedisServer((line) => process.stderr.write(`[redis] ${line}\n`));
	redis = await startRedis({ redisServer: redisServerBin });
	startMonitor();
	procs = await startChildren(3);
	// Each connects (its first request), as an n8n process has long done by the time a burst comes.
	const warm = await startSandbox({ latencyMs: 0 });
	await Promise.all(procs.map((child) => child.send({ cmd: 'burst', baseUrl: warm.baseUrl, apiKey: 'warm-up-key', plan: 1, count: 1 })));
	await warm.stop();
}, 10 * 60_000);

afterAll(async () => {
	await stopAll(children);
	monitor?.kill();
	await redis?.stop();
	await resetSharedLimiter();
}, 60_000);

describe('several processes on one key', () => {
	it(`never more than the plan (${PLAN}) in flight across 3 processes; FIFO across them; no 429; hand-overs between processes cost little`, async () => {
		const timeline: Array<{ arrivedAt: number; endedAt: number }> = [];
		const sandbox = await startSandbox({
			maxConcurrent: PLAN,
			latencyMs: 60,
			onRequestDone: (request) => timeline.push({ arrivedAt: Date.now() - (request.durationMs ?? 0), endedAt: Date.now() }),
		});
		/** First arrival to last answer at the sandbox, for the requests recorded from `from` on. */
		const phase = (from: number) => {
			const part = timeline.slice(from);
			return Math.max(...part.map((entry) => entry.endedAt)) - Math.min(...part.map((entry) => entry.arrivedAt));
		};
		try {
			const burst = { cmd: 'burst' as const, baseUrl: sandbox.baseUrl, apiKey: TEST_API_KEY, plan: PLAN, count: 12 };
			const { result, sampledMax } = await sampled(sandbox, () => Promise.all(procs.map((child) => child.send(burst))));
			const records = result.flatMap((reply) => reply.records as RequestRecord[]);
			expect(records).toHaveLength(36);
			expect(records.every((record) => record.statuses.join() === '200')).toBe(true);
			expect({ maxInFlight: sandbox.maxInFlight, maxAdmitted: sandbox.maxAdmitted, refused: sandbox.requests.filter((r) => r.status === 429).length }).toEqual({
				maxInFlight: PLAN,
				maxAdmitted: PLAN,
				refused: 0,
			});
			expect(sampledMax).toBeLessThanOrEqual(PLAN);
			// Every process was served all along, not one after the other.
			const firstEnds = result.map((reply) => Math.min(...(reply.records as RequestRecord[]).map((record) => record.endedAt)));
			const lastStart = Math.max(...records.map((record) => record.admittedAt));
			expect(Math.max(...firstEnds)).toBeLessThan(lastStart);
			expect(result.every((reply) => reply.mode === 'shared')).toBe(true);

			// The same 36 requests from one process (hand-overs inside it), measured in the same run: the
			// three processes' hand-overs (one round trip and one pub/sub message) cost little more.
			const spread = phase(0);
			const from = timeline.length;
			await procs[0].send({ ...burst, count: 36 });
			const single = phase(from);
			const ideal = (36 * 60) / PLAN;
			process.stderr.write(`[shared limiter] 36 requests × 60 ms at plan ${PLAN}: 3 processes ${spread} ms, 1 process ${single} ms, ideal ${ideal} ms\n`);
			expect(spread / single).toBeLessThan(1.5);
		} finally {
			await sandbox.stop();
		}
	});

	it('arrival order across processes: a later request of one process never overtakes an earlier one of another; a dropdown goes first', async () => {
		const sandbox = await startSandbox({ maxConcurrent: 1, latencyMs: 80 });
		const [a, b] = procs;
		try {
			const base = { cmd: 'burst' as const, baseUrl: sandbox.baseUrl, apiKey: TEST_API_KEY, plan: 1 };
			// Gaps of 300 ms between the arrivals (IPC to a busy child may take a while); A's first 15
			// requests take 1.2 s at plan 1, so all of it happens while they wait.
			const first = a.send({ ...base, count: 15 });
			await new Promise((resolve) => setTimeout(resolve, 300));
			const second = b.send({ ...base, count: 1 });
			await new Promise((resolve) => setTimeout(resolve, 300));
			const third = a.send({ ...base, count: 3 });
			await new Promise((resolve) => setTimeout(resolve, 300));
			const dropdown = b.send({ ...base, count: 1, interactive: true });
			const [early, [fromB], late, [person]] = (await Promise.all([first, second, third, dropdown])).map((reply) => reply.records as RequestRecord[]);
			// B's request came after A's first fifteen and before A's last three: served in between.
			expect(late.every((record) => record.admittedAt >= fromB.admittedAt)).toBe(true);
			// The dropdown went ahead of everything still waiting when it came (at most one admission raced it).
			const admittedBetween = [...early, fromB, ...late].filter((record) => record.admittedAt > person.enqueuedAt && record.admittedAt < person.admittedAt);
			expect(admittedBetween.length).toBeLessThanOrEqual(1);
			expect(sandbox.maxAdmitted).toBe(1);
			expect(sandbox.requests.filter((r) => r.status === 429)).toHaveLength(0);
		} finally {
			await sandbox.stop();
		}
	});

	it('plan Not Set: the limit is learned once for all processes (at most one round of 429s), then no 429', async () => {
		const sandbox = await startSandbox({ maxConcurrent: PLAN, latencyMs: 60 });
		try {
			const burst = { cmd: 'burst' as const, baseUrl: sandbox.baseUrl, apiKey: TEST_API_KEY, count: 8 };
			const firstRound = await Promise.all(procs.map((child) => child.send(burst)));
			const refusedFirst = sandbox.requests.filter((r) => r.status === 429).length;
			// The shared limit starts at 10: at most 10 sent at once, of which PLAN are admitted.
			expect(refusedFirst).toBeLessThanOrEqual(10 - PLAN);
			expect(firstRound.flatMap((reply) => reply.records as RequestRecord[]).every((record) => record.statuses.at(-1) === 200)).toBe(true);
			const before = sandbox.requests.length;
			await Promise.all(procs.map((child) => child.send(burst)));
			const secondRound = sandbox.requests.slice(before);
			expect(secondRound.filter((r) => r.status === 429)).toHaveLength(0);
			expect(secondRound).toHaveLength(24);
		} finally {
			await sandbox.stop();
		}
	});

	it('the smallest declared plan of two credentials with one key wins, across processes', async () => {
		const sandbox = await startSandbox({ maxConcurrent: 10, latencyMs: 60 });
		const [a, b] = procs;
		try {
			const base = { cmd: 'burst' as const, baseUrl: sandbox.baseUrl, apiKey: TEST_API_KEY, count: 10 };
			await Promise.all([a.send({ ...base, plan: 5, credential: 'growth-cred' }), b.send({ ...base, plan: 2, credential: 'basic-cred' })]);
			// The first round trip of each may come before the other's declaration: from then on, 2.
			sandbox.maxAdmitted = 0;
			sandbox.maxInFlight = 0;
			await Promise.all([a.send({ ...base, plan: 5, credential: 'growth-cred' }), b.send({ ...base, plan: 2, credential: 'basic-cred' })]);
			expect(sandbox.maxInFlight).toBe(2);
		} finally {
			await sandbox.stop();
		}
	});
});

describe('leases', () => {
	it(`a killed process's slots come back within the lease (${LEASE_SECONDS} s), not before`, async () => {
		const sandbox = await startSandbox({ maxConcurrent: PLAN, latencyMs: 20 });
		const [doomed] = await startChildren(1);
		const survivor = procs[0];
		try {
			await doomed.send({ cmd: 'hold', baseUrl: sandbox.baseUrl, apiKey: TEST_API_KEY, plan: PLAN, count: PLAN, holdMs: 60_000 });
			doomed.kill();
			const killedAt = Date.now();
			await doomed.exited;
			const [record] = (await survivor.send({ cmd: 'burst', baseUrl: sandbox.baseUrl, apiKey: TEST_API_KEY, plan: PLAN, count: 1 })).records as RequestRecord[];
			const waited = record.admittedAt - killedAt;
			// The dead holder's renewals stopped about a tick (1 s) before the kill: its slots stayed taken
			// until its lease ran out, and came back then (the survivor looks again every second).
			expect(waited).toBeGreaterThan((LEASE_SECONDS * 1000) / 2);
			expect(waited).toBeLessThan(LEASE_SECONDS * 1000 + 4_000);
			expect(record.statuses).toEqual([200]);
		} finally {
			await stopAll([doomed]);
			await sandbox.stop();
		}
	});

	it('a long request keeps its slot past the lease time (renewed while it runs)', async () => {
		const sandbox = await startSandbox({ maxConcurrent: 1, latencyMs: 20 });
		const [holder, other] = procs;
		try {
			const holdMs = LEASE_SECONDS * 1000 * 2.5;
			let holdEnded: RequestRecord[] = [];
			const ended = new Promise<void>((resolve) => {
				void holder.send({ cmd: 'hold', baseUrl: sandbox.baseUrl, apiKey: TEST_API_KEY, plan: 1, count: 1, holdMs }, (reply) => {
					holdEnded = reply.records as RequestRecord[];
					resolve();
				});
			});
			await new Promise((resolve) => setTimeout(resolve, 300));
			const [record] = (await other.send({ cmd: 'burst', baseUrl: sandbox.baseUrl, apiKey: TEST_API_KEY, plan: 1, count: 1 })).records as RequestRecord[];
			await ended;
			expect(record.admittedAt).toBeGreaterThanOrEqual(holdEnded[0].endedAt);
			expect(record.admittedAt - holdEnded[0].admittedAt).toBeGreaterThan(LEASE_SECONDS * 1000 * 2);
		} finally {
			await sandbox.stop();
		}
	});

	it('cancel and Max Wait give the place back; a slot ended three times is given back exactly once', async () => {
		const child = procs[2];
		{
			const before = releasedIds().length;
			const reply = await child.send({ cmd: 'waiters', baseUrl: 'http://127.0.0.1:9/api/v1', apiKey: 'waiters-key', plan: 1, cancelAfterMs: 300, maxWaitMs: 600 });
			expect(reply.outcomes).toEqual(['Error:Stopped waiting for a Faseeh request slot', 'Error:Stopped waiting for a Faseeh request slot']);
			const released = releasedIds()
				.slice(before)
				.filter((id) => id.startsWith(reply.prefix as string));
			// The held slot and the next one: two slots, each given back once.
			expect(released).toHaveLength(2);
			expect(new Set(released).size).toBe(2);
			// Nothing of that account is left waiting or holding in Redis.
			const keys = (await redisCli(['--scan', '--pattern', '*faseeh-limiter*'])).split('\n').filter(Boolean);
			for (const key of keys.filter((name) => /:(holders|waiting)$/.test(name))) {
				const members = await redisCli(['zrange', key, '0', '-1']);
				expect(members.split('\n').filter((id) => released.includes(id))).toEqual([]);
			}
		}
	});
});

describe('Redis going away', () => {
	it('a Redis stop and restart mid-burst loses no request; each process warns once and uses Redis again', async () => {
		const sandbox = await startSandbox({ maxConcurrent: PLAN, latencyMs: 80 });
		try {
			const burst = { cmd: 'burst' as const, baseUrl: sandbox.baseUrl, apiKey: TEST_API_KEY, plan: PLAN, count: 10, maxWaitMs: 120_000 };
			const running = Promise.all(procs.map((child) => child.send(burst)));
			await new Promise((resolve) => setTimeout(resolve, 500));
			const port = redis.port;
			monitor.kill();
			await redis.stop();
			await new Promise((resolve) => setTimeout(resolve, 1_500));
			redis = await startRedis({ redisServer: redisServerBin }, { port });
			startMonitor();
			const replies = await running;
			const records = replies.flatMap((reply) => reply.records as RequestRecord[]);
			expect(records).toHaveLength(30);
			expect(records.every((record) => record.statuses.at(-1) === 200)).toBe(true);
			expect(sandbox.requests.filter((r) => r.status === 200)).toHaveLength(30);
			// Back to the shared limiter once Redis answers (a new burst goes through it).
			await new Promise((resolve) => setTimeout(resolve, 2_500));
			await Promise.all(procs.map((child) => child.send({ ...burst, count: 2 })));
			for (const child of procs) {
				const state = await child.send({ cmd: 'mode' });
				expect(state.mode).toBe('shared');
				const warnings = (state.logs ?? []).filter((line) => line.level === 'warn');
				expect(warnings).toHaveLength(1);
				expect(warnings[0].message).toContain(`FASEEH_LIMITER_REDIS_URL (redis://127.0.0.1:${port})`);
				expect((state.logs ?? []).some((line) => line.message.includes('uses Redis again'))).toBe(true);
			}
		} finally {
			await sandbox.stop();
		}
	}, 60_000);
});

describe('bad configuration falls back with one clear log line, and the request goes on', () => {
	const saved = { ...process.env };
	afterEach(async () => {
		await resetSharedLimiter();
		for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
		Object.assign(process.env, saved);
	});

	async function oneRequestWith(env: Record<string, string>) {
		Object.assign(process.env, { N8N_ENCRYPTION_KEY: ENCRYPTION_KEY, ...env });
		const lines: Array<{ level: string; message: string }> = [];
		const logger = {
			debug: (message: string) => lines.push({ level: 'debug', message }),
			warn: (message: string) => lines.push({ level: 'warn', message }),
		};
		const started = Date.now();
		const limiter = limiterFor('http://127.0.0.1:9/api/v1', TEST_API_KEY, 2, Date.now(), 'cred', logger);
		const permit = await limiter.acquire(takeTicket(), [AbortSignal.timeout(10_000)]);
		permit.succeeded();
		// A second request while still in fallback: no second warning.
		(await limiterFor('http://127.0.0.1:9/api/v1', TEST_API_KEY, 2, Date.now(), 'cred', logger).acquire(takeTicket())).succeeded();
		return { lines, waitedMs: Date.now() - started, mode: sharedLimiterHub()?.mode };
	}

	it('a wrong password (QUEUE_BULL_REDIS_PASSWORD in queue mode)', async () => {
		const secured = await startRedis({ redisServer: redisServerBin }, { args: ['--requirepass', 'right-password'] });
		try {
			const { lines, waitedMs, mode } = await oneRequestWith({
				EXECUTIONS_MODE: 'queue',
				QUEUE_BULL_REDIS_HOST: '127.0.0.1',
				QUEUE_BULL_REDIS_PORT: String(secured.port),
				QUEUE_BULL_REDIS_PASSWORD: 'wrong-password-value',
			});
			const warnings = lines.filter((line) => line.level === 'warn');
			expect(warnings).toHaveLength(1);
			expect(warnings[0].message).toMatch(/QUEUE_BULL_REDIS_HOST \/ QUEUE_BULL_REDIS_PORT \(127\.0\.0\.1:\d+\).*WRONGPASS.*check QUEUE_BULL_REDIS_USERNAME and QUEUE_BULL_REDIS_PASSWORD/);
			expect(JSON.stringify(lines)).not.toContain('wrong-password-value');
			expect(mode).toBe('fallback');
			expect(waitedMs).toBeLessThan(5_000);
		} finally {
			await secured.stop();
		}
	});

	it('TLS to a port that speaks plain Redis (rediss:// in FASEEH_LIMITER_REDIS_URL)', async () => {
		const { lines, waitedMs, mode } = await oneRequestWith({ FASEEH_LIMITER_REDIS_URL: `rediss://user:url-secret@127.0.0.1:${redis.port}/0` });
		const warnings = lines.filter((line) => line.level === 'warn');
		expect(warnings).toHaveLength(1);
		expect(warnings[0].message).toContain(`FASEEH_LIMITER_REDIS_URL (rediss://127.0.0.1:${redis.port})`);
		expect(JSON.stringify(lines)).not.toContain('url-secret');
		expect(mode).toBe('fallback');
		expect(waitedMs).toBeLessThan(5_000);
	});

	it('an unknown host (QUEUE_BULL_REDIS_HOST)', async () => {
		const { lines, waitedMs, mode } = await oneRequestWith({ EXECUTIONS_MODE: 'queue', QUEUE_BULL_REDIS_HOST: 'no-such-redis-host.invalid' });
		const warnings = lines.filter((line) => line.level === 'warn');
		expect(warnings).toHaveLength(1);
		expect(warnings[0].message).toMatch(/QUEUE_BULL_REDIS_HOST \/ QUEUE_BULL_REDIS_PORT \(no-such-redis-host\.invalid:6379\)/);
		expect(mode).toBe('fallback');
		expect(waitedMs).toBeLessThan(5_000);
	});

	it('regular mode without the override: the per-process limiter, and no connection at all', async () => {
		const clientsBefore = (await redisCli(['client', 'list'])).split('\n').filter((line) => line.includes('faseeh-limiter')).length;
		const { mode } = await oneRequestWith({ QUEUE_BULL_REDIS_HOST: '127.0.0.1', QUEUE_BULL_REDIS_PORT: String(redis.port) });
		expect(mode).toBeUndefined();
		const clientsAfter = (await redisCli(['client', 'list'])).split('\n').filter((line) => line.includes('faseeh-limiter')).length;
		expect(clientsAfter).toBe(clientsBefore);
	});
});

it('no raw API key (nor the encryption key) in redis-cli --scan or in MONITOR output; accounts are keyed hashes', async () => {
	const keys = await redisCli(['--scan']);
	expect(monitorOutput.length).toBeGreaterThan(1000);
	expect(keys).toMatch(/faseeh-limiter:\{[0-9a-f]{32}\}:state/);
	for (const text of [keys, monitorOutput]) {
		expect(text).not.toContain(TEST_API_KEY);
		expect(text).not.toContain(ENCRYPTION_KEY);
		expect(text).not.toContain('waiters-key');
	}
});
