/**
 * End-to-end: triggered pipelines. Many webhook executions at once, all with one Faseeh key whose
 * plan allows 2 concurrent requests, in a real n8n 2.41.1:
 * - regular mode: `n8n start` serving a published Webhook → Faseeh Voice Clone (one-step) workflow;
 * - queue mode: Postgres + Redis (Debian packages, installed with apt-get when missing), a main
 *   process and 3 workers, binary data in the database; the account limiter is shared by the workers
 *   through that Redis (one plan across every worker), and one worker is killed mid-burst.
 * Each call must come back with its own voice, the sandbox must have created exactly one voice per
 * execution and charged one preview per execution.
 *
 * Everything (sandbox, Postgres, Redis, n8n processes, folders) is started and removed here
 * (scripts/lib/queue.ts), also when a test fails.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Pipeline, CloneTally, WebhookCall } from '../../scripts/lib/queue';
import { executionsPerWorker, fireCloneWebhooks, startPipeline, tallyClones, webhookCloneWorkflow } from '../../scripts/lib/queue';
import { ensureRuntime } from '../../scripts/lib/runtime';
import type { Runtime } from '../../scripts/lib/runtime';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { TEST_API_KEY, startSandbox, wavRecording } from '../helpers/faseeh';

const REPO = `${__dirname}/../..`;
const RECORDING = wavRecording(1.5, 190);
const TEXT = 'مرحبا بكم في المدونة الصوتية الجديدة';
/** Faseeh Basic: 2 concurrent requests per key. */
const PLAN_LIMIT = 2;
/** Per request, like a real API (the sandbox answers this long after a request arrived). */
const LATENCY_MS = 500;

let runtime: Runtime;
/** Everything n8n printed or logged in this file, searched for the key at the end. */
const n8nOutput: string[] = [];

beforeAll(async () => {
	runtime = await ensureRuntime();
}, 30 * 60_000);

function log(line: string) {
	process.stderr.write(`[pipelines] ${line}\n`);
}

function credential(id: string, sandbox: FaseehSandbox, plan: string) {
	return {
		id,
		name: `Faseeh ${id}`,
		type: 'faseehApi',
		data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl, plan, maxConcurrentRequests: PLAN_LIMIT },
	};
}

/** What a failed assertion should show: the tally without the per-name map. */
function summary(tally: CloneTally) {
	return {
		succeeded: tally.succeeded,
		failed: tally.failed.map((call: WebhookCall) => `${call.name}: ${call.status} ${call.error ?? call.text.slice(0, 300)}`),
		duplicateClones: tally.duplicateClones,
		missingClones: tally.missingClones,
		paidPreviews: tally.paidPreviews,
		otherStatuses: tally.otherStatuses,
	};
}

/** Every call got its own voice; one clone and one paid preview per execution, no other failures. */
function expectEveryVoiceOnce(tally: CloneTally, count: number, sandbox: FaseehSandbox) {
	expect(summary(tally)).toEqual({
		succeeded: count,
		failed: [],
		duplicateClones: 0,
		missingClones: [],
		paidPreviews: count,
		otherStatuses: {},
	});
	expect([...tally.clonesByName.values()]).toEqual(Array(count).fill(1));
	const cloned = sandbox.voices().filter((voice) => voice.voice_id.startsWith('cl-'));
	expect(cloned).toHaveLength(count);
}

async function fire(pipeline: Pipeline, webhookPath: string, count: number, namePrefix: string) {
	const started = Date.now();
	const result = await fireCloneWebhooks(`${pipeline.url}/webhook/${webhookPath}`, count, { recording: RECORDING, text: TEXT, namePrefix, timeoutMs: 5 * 60_000 });
	log(`${count} webhook calls to ${webhookPath}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
	return result;
}

describe('regular mode: n8n start with published webhook workflows', () => {
	const EXECUTIONS = 20;
	let pipeline: Pipeline | undefined;
	let basic: FaseehSandbox;
	let unknown: FaseehSandbox;

	beforeAll(async () => {
		// One sandbox (one Faseeh account) per plan setting: the limiter is per account.
		basic = await startSandbox({ maxConcurrent: PLAN_LIMIT, latencyMs: LATENCY_MS });
		unknown = await startSandbox({ maxConcurrent: PLAN_LIMIT, latencyMs: LATENCY_MS });
		pipeline = await startPipeline(runtime, {
			mode: 'regular',
			packageDir: REPO,
			credentials: [credential('faseehBasic', basic, 'basic'), credential('faseehUnknown', unknown, 'unknown')],
			workflows: [
				webhookCloneWorkflow({ id: 'pipeBasic', path: 'clone-basic', credentialId: 'faseehBasic', credentialName: 'Faseeh faseehBasic' }),
				webhookCloneWorkflow({ id: 'pipeUnknown', path: 'clone-unknown', credentialId: 'faseehUnknown', credentialName: 'Faseeh faseehUnknown' }),
			],
			env: { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' },
			log,
		});
	}, 10 * 60_000);

	afterAll(async () => {
		if (pipeline) {
			n8nOutput.push(...pipeline.cliOutput, pipeline.logs());
			await pipeline.stop();
		}
		await basic?.stop();
		await unknown?.stop();
	}, 5 * 60_000);

	it(`plan "basic" on the credential: ${EXECUTIONS} concurrent executions, every voice cloned once, no 429`, async () => {
		const { calls } = await fire(pipeline!, 'clone-basic', EXECUTIONS, 'Basic voice');
		const tally = tallyClones(calls, basic.requests);
		log(`plan basic: ${tally.succeeded}/${EXECUTIONS} voices, ${tally.refused429} answers 429, sandbox max in flight ${basic.maxInFlight}`);
		expectEveryVoiceOnce(tally, EXECUTIONS, basic);
		// The plan is held across executions: the process never has more than 2 requests open.
		expect({ refused429: tally.refused429, maxInFlight: basic.maxInFlight }).toEqual({ refused429: 0, maxInFlight: PLAN_LIMIT });
		expect(tally.requests).toBe(2 * EXECUTIONS);
	});

	it(`plan "unknown": ${EXECUTIONS} concurrent executions, 429s waited out, nothing lost or duplicated`, async () => {
		const { calls } = await fire(pipeline!, 'clone-unknown', EXECUTIONS, 'Unknown-plan voice');
		const tally = tallyClones(calls, unknown.requests);
		log(`plan unknown: ${tally.succeeded}/${EXECUTIONS} voices, ${tally.refused429} answers 429`);
		expectEveryVoiceOnce(tally, EXECUTIONS, unknown);
		// Every request was either served once or refused (not processed) and sent again.
		expect(tally.requests).toBe(2 * EXECUTIONS + tally.refused429);
	});
});

describe('queue mode: Postgres, Redis, a main process and 3 workers sharing one plan through Redis', () => {
	const EXECUTIONS = 60;
	const WORKERS = 3;
	/** Per request here: long enough that n8n's own start of 60 executions is small beside the ideal. */
	const QUEUE_LATENCY_MS = 300;
	/** requests × latency / plan. */
	const IDEAL_MS = (EXECUTIONS * 2 * QUEUE_LATENCY_MS) / PLAN_LIMIT;
	/** The shared limiter's default lease (FASEEH_LIMITER_LEASE_SECONDS unset). */
	const LEASE_MS = 15_000;
	let pipeline: Pipeline | undefined;
	const sandboxes: Record<'basic' | 'unknown' | 'kill', FaseehSandbox> = {} as never;
	/** When each request arrived and ended at each sandbox (ms since the epoch), and how it was answered. */
	const timelines: Record<string, Array<{ arrivedAt: number; endedAt: number; status?: number }>> = { basic: [], unknown: [], kill: [] };

	beforeAll(async () => {
		for (const name of ['basic', 'unknown', 'kill'] as const) {
			sandboxes[name] = await startSandbox({
				maxConcurrent: PLAN_LIMIT,
				latencyMs: QUEUE_LATENCY_MS,
				onRequestDone: (request) => {
					const endedAt = Date.now();
					timelines[name].push({ arrivedAt: endedAt - (request.durationMs ?? 0), endedAt, status: request.status });
				},
			});
		}
		pipeline = await startPipeline(runtime, {
			mode: 'queue',
			workers: WORKERS,
			workerConcurrency: 20,
			packageDir: REPO,
			credentials: [
				credential('faseehQueueBasic', sandboxes.basic, 'basic'),
				credential('faseehQueueUnknown', sandboxes.unknown, 'unknown'),
				credential('faseehQueueKill', sandboxes.kill, 'basic'),
			],
			workflows: [
				webhookCloneWorkflow({ id: 'pipeQueueBasic', path: 'clone-queue-basic', credentialId: 'faseehQueueBasic', credentialName: 'Faseeh faseehQueueBasic' }),
				webhookCloneWorkflow({ id: 'pipeQueueUnknown', path: 'clone-queue-unknown', credentialId: 'faseehQueueUnknown', credentialName: 'Faseeh faseehQueueUnknown' }),
				webhookCloneWorkflow({ id: 'pipeQueueKill', path: 'clone-queue-kill', credentialId: 'faseehQueueKill', credentialName: 'Faseeh faseehQueueKill' }),
			],
			// Debug: the shared limiter's state changes are in the workers' logs. A dead worker's job is
			// noticed by n8n after its lock (10 s here instead of 60 s) and a stalled check (every 5 s).
			env: { N8N_LOG_LEVEL: 'debug', QUEUE_WORKER_LOCK_DURATION: '10000', QUEUE_WORKER_LOCK_RENEW_TIME: '2000', QUEUE_WORKER_STALLED_INTERVAL: '5000' },
			log,
		});
	}, 15 * 60_000);

	afterAll(async () => {
		if (pipeline) {
			n8nOutput.push(...pipeline.cliOutput, pipeline.logs());
			await pipeline.stop();
		}
		for (const sandbox of Object.values(sandboxes)) await sandbox?.stop();
	}, 5 * 60_000);

	/** From the first request's arrival to the last answer at the sandbox: the part the limiter decides. */
	function requestPhaseMs(name: string): number {
		const timeline = timelines[name];
		return Math.max(...timeline.map((entry) => entry.endedAt)) - Math.min(...timeline.map((entry) => entry.arrivedAt));
	}

	it(`plan "basic" (2): ${EXECUTIONS} concurrent executions on ${WORKERS} workers, every voice once, 0 × 429, at most 2 in flight, near the ideal time`, async () => {
		const { calls, wallMs } = await fire(pipeline!, 'clone-queue-basic', EXECUTIONS, 'Shared voice');
		const sandbox = sandboxes.basic;
		const tally = tallyClones(calls, sandbox.requests);
		const perWorker = executionsPerWorker(pipeline!.workers);
		const phase = requestPhaseMs('basic');
		log(
			`queue mode, plan basic: ${tally.succeeded}/${EXECUTIONS} voices, ${tally.refused429} answers 429, max in flight ${sandbox.maxInFlight}, executions per worker ${perWorker.join(' + ')}; ` +
				`wall ${(wallMs / 1000).toFixed(2)} s = ${(wallMs / IDEAL_MS).toFixed(3)} × ideal ${(IDEAL_MS / 1000).toFixed(1)} s, request phase ${(phase / 1000).toFixed(2)} s = ${(phase / IDEAL_MS).toFixed(3)} ×`,
		);
		expectEveryVoiceOnce(tally, EXECUTIONS, sandbox);
		// The plan holds across the three workers: Faseeh never refuses, never more than 2 open.
		expect({ refused429: tally.refused429, maxInFlight: sandbox.maxInFlight, requests: tally.requests }).toEqual({ refused429: 0, maxInFlight: PLAN_LIMIT, requests: 2 * EXECUTIONS });
		// Every worker took executions; none ran on the main process.
		expect(perWorker.every((count) => count > 0)).toBe(true);
		const rows = await pipeline!.postgres!.query(`select status, count(*) from execution_entity where "workflowId" = 'pipeQueueBasic' group by status`);
		expect(rows).toEqual([['success', String(EXECUTIONS)]]);
		// The two slots were kept busy while executions waited on three workers. Speed is the bench's to
		// measure (section "executions": target ≤ 1.15 × the ideal, wall time), and the cost of a hand-over
		// between processes is held by a same-run ratio in wire/sharedLimiter.test.ts; on a shared machine
		// this only catches hand-overs that wait for the next renewal (a missed pub/sub wake-up: 2.8 × the
		// ideal here before that was fixed, 1.3–1.75 × after, machine load 6–11 on 2 cores).
		expect(phase / IDEAL_MS).toBeLessThan(2.5);
		// Each worker says it shares the limiter through Redis.
		for (const worker of pipeline!.workers) expect(fs.readFileSync(worker.logFile, 'utf8')).toContain('Faseeh: shared request limiter connected to Redis');
		// In Redis the account is a keyed hash: the key is in no key name.
		const redisCli = path.join(path.dirname(which('redis-server')), 'redis-cli');
		const keys = execFileSync(redisCli, ['-p', String(pipeline!.redis!.port), '--scan'], { encoding: 'utf8' });
		expect(keys).toMatch(/^bull:faseeh-limiter:\{[0-9a-f]{32}\}:state$/m);
		expect(keys).not.toContain(TEST_API_KEY);
	});

	it(`plan Not Set: at most one round of 429s while the limit is learned (for all workers at once), then none`, async () => {
		const { calls } = await fire(pipeline!, 'clone-queue-unknown', EXECUTIONS, 'Learned voice');
		const sandbox = sandboxes.unknown;
		const tally = tallyClones(calls, sandbox.requests);
		log(`queue mode, plan unknown: ${tally.succeeded}/${EXECUTIONS} voices, ${tally.refused429} answers 429, max in flight ${sandbox.maxInFlight}`);
		expectEveryVoiceOnce(tally, EXECUTIONS, sandbox);
		expect(tally.requests).toBe(2 * EXECUTIONS + tally.refused429);
		// The shared limit starts at 10 for the account: one round of at most 10 sent, 2 admitted.
		expect(tally.refused429).toBeLessThanOrEqual(10 - PLAN_LIMIT);
		// ... then none: the next burst, on every worker, finds the learned limit in Redis. (Which requests
		// of the first burst were in its first round is decided at admission, not at arrival: under load a
		// request admitted at the starting limit may reach the sandbox after the maximum was learned.)
		const before = sandbox.requests.length;
		const next = await fire(pipeline!, 'clone-queue-unknown', 20, 'Learned voice, next burst');
		const nextRequests = sandbox.requests.slice(before);
		expect(next.calls.filter((call) => call.status !== 200)).toEqual([]);
		expect({ refused429: nextRequests.filter((request) => request.status === 429).length, requests: nextRequests.length }).toEqual({ refused429: 0, requests: 40 });
	});

	it(`one worker kill -9'd mid-burst: the others go on within the lease; nothing sent twice by this package`, async () => {
		const sandbox = sandboxes.kill;
		const victim = pipeline!.workers[WORKERS - 1];
		const firing = fire(pipeline!, 'clone-queue-kill', EXECUTIONS, 'Kill voice');
		// Mid-burst: once a third of the requests were answered.
		while (sandbox.requests.filter((request) => request.status === 200).length < (2 * EXECUTIONS) / 3) await new Promise((resolve) => setTimeout(resolve, 20));
		const killedAt = Date.now();
		await victim.stop('SIGKILL', 0);
		const { calls } = await firing;
		const tally = tallyClones(calls, sandbox.requests);
		const answered = timelines.kill.filter((entry) => entry.status === 200);
		// The slots the dead worker held came back within the lease: no pause longer than that.
		const after = answered.map((entry) => entry.arrivedAt).filter((at) => at > killedAt).sort((a, b) => a - b);
		const gaps = [after[0] - killedAt, ...after.slice(1).map((at, i) => at - after[i])];
		const longestPauseMs = Math.max(...gaps);
		const rows = await pipeline!.postgres!.query(`select status, count(*) from execution_entity where "workflowId" = 'pipeQueueKill' group by status order by status`);
		const byStatus = Object.fromEntries(rows.map(([status, count]) => [status, Number(count)]));
		log(
			`queue mode, worker killed: ${tally.succeeded}/${EXECUTIONS} calls answered with their voice, webhook answers ${JSON.stringify(countBy(calls.map((call) => call.status)))}; ` +
				`n8n's executions by status ${JSON.stringify(byStatus)}; ${tally.duplicateClones} duplicate clones, ${tally.refused429} answers 429, max in flight ${sandbox.maxInFlight}, longest pause after the kill ${longestPauseMs} ms`,
		);
		expect(after.length).toBeGreaterThan(0);
		expect(longestPauseMs).toBeLessThan(LEASE_MS + 3_000);
		// Nothing created twice: every voice name cloned at most once, and never more than the plan open.
		expect(tally.duplicateClones).toBe(0);
		expect(sandbox.maxAdmitted).toBe(PLAN_LIMIT);
		// What n8n did with the dead worker's executions: every execution is either a success (its call
		// got its voice) or not (n8n's own status for it); the surviving workers' all succeeded.
		expect(Object.values(byStatus).reduce((sum, count) => sum + count, 0)).toBe(EXECUTIONS);
		expect(byStatus.success).toBe(tally.succeeded);
		expect(tally.succeeded).toBeGreaterThanOrEqual(EXECUTIONS / 2);
	});
});

/** An executable on PATH or in the usual places. */
function which(name: string): string {
	for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin']) {
		if (dir && fs.existsSync(path.join(dir, name))) return path.join(dir, name);
	}
	throw new Error(`${name} not found`);
}

function countBy(values: Array<string | number>): Record<string, number> {
	const counts: Record<string, number> = {};
	for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
	return counts;
}

it('the API key appears nowhere in what n8n printed or logged', () => {
	const everything = n8nOutput.join('\n');
	// Both pipelines ran (their logs are here) and imported credentials.
	expect(everything).toContain('Successfully imported 2 credentials');
	expect(everything).toContain('Worker started execution');
	expect(everything).not.toContain(TEST_API_KEY);
});
