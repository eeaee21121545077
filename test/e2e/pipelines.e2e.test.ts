/**
 * End-to-end: triggered pipelines. Many webhook executions at once, all with one Faseeh key whose
 * plan allows 2 concurrent requests, in a real n8n 2.41.1:
 * - regular mode: `n8n start` serving a published Webhook → Faseeh Voice Clone (one-step) workflow;
 * - queue mode: Postgres + Redis (Debian packages, installed with apt-get when missing), a main
 *   process and 2 workers, binary data in the database.
 * Each call must come back with its own voice, the sandbox must have created exactly one voice per
 * execution and charged one preview per execution.
 *
 * Everything (sandbox, Postgres, Redis, n8n processes, folders) is started and removed here
 * (scripts/lib/queue.ts), also when a test fails.
 */
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
	const result = await fireCloneWebhooks(`${pipeline.url}/webhook/${webhookPath}`, count, { recording: RECORDING, text: TEXT, namePrefix });
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

describe('queue mode: Postgres, Redis, a main process and 2 workers, binary data in the database', () => {
	const EXECUTIONS = 30;
	let pipeline: Pipeline | undefined;
	let sandbox: FaseehSandbox;

	beforeAll(async () => {
		sandbox = await startSandbox({ maxConcurrent: PLAN_LIMIT, latencyMs: LATENCY_MS });
		pipeline = await startPipeline(runtime, {
			mode: 'queue',
			workers: 2,
			workerConcurrency: 10,
			packageDir: REPO,
			credentials: [credential('faseehQueue', sandbox, 'basic')],
			workflows: [webhookCloneWorkflow({ id: 'pipeQueue', path: 'clone-queue', credentialId: 'faseehQueue', credentialName: 'Faseeh faseehQueue' })],
			log,
		});
	}, 15 * 60_000);

	afterAll(async () => {
		if (pipeline) {
			n8nOutput.push(...pipeline.cliOutput, pipeline.logs());
			await pipeline.stop();
		}
		await sandbox?.stop();
	}, 5 * 60_000);

	it(`${EXECUTIONS} concurrent executions: nothing lost, nothing cloned twice, all "success" in Postgres, both workers used`, async () => {
		const { calls } = await fire(pipeline!, 'clone-queue', EXECUTIONS, 'Queue voice');
		const tally = tallyClones(calls, sandbox.requests);
		const perWorker = executionsPerWorker(pipeline!.workers);
		log(`queue mode: ${tally.succeeded}/${EXECUTIONS} voices, ${tally.refused429} answers 429, executions per worker ${perWorker.join(' + ')}`);
		expectEveryVoiceOnce(tally, EXECUTIONS, sandbox);
		expect(tally.requests).toBe(2 * EXECUTIONS + tally.refused429);

		// What n8n recorded: one execution per call, each a success.
		const rows = await pipeline!.postgres!.query(`select status, mode, count(*) from execution_entity where "workflowId" = 'pipeQueue' group by status, mode`);
		expect(rows).toEqual([['success', 'webhook', String(EXECUTIONS)]]);
		// Both workers took executions, and nothing ran on the main process.
		expect(perWorker.every((count) => count > 0)).toBe(true);
		expect(perWorker.reduce((sum, count) => sum + count, 0)).toBe(EXECUTIONS);
		// The recordings went through the database binary store (no filesystem sharing between processes).
		const [[binaries]] = await pipeline!.postgres!.query('select count(*) from binary_data');
		expect(Number(binaries)).toBeGreaterThanOrEqual(EXECUTIONS);
		// Execution data in Postgres does not carry the key.
		const [[withKey]] = await pipeline!.postgres!.query(`select count(*) from execution_data where data like '%${TEST_API_KEY}%'`);
		expect(withKey).toBe('0');
	});
});

it('the API key appears nowhere in what n8n printed or logged', () => {
	const everything = n8nOutput.join('\n');
	// Both pipelines ran (their logs are here) and imported credentials.
	expect(everything).toContain('Successfully imported 2 credentials');
	expect(everything).toContain('Worker started execution');
	expect(everything).not.toContain(TEST_API_KEY);
});
