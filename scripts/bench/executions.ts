/**
 * Executions: triggered pipelines in a real n8n 2.41.1. Many webhook executions at once
 * (examples/webhook-one-step-clone.json: Webhook → Faseeh Voice Clone with "Generate Preview
 * First", 2 Faseeh requests per execution), all with one key, against the sandbox (own process)
 * answering after 200 ms and refusing every request above the plan with 429:
 * - regular mode (`n8n start`, SQLite): plan "basic" (targets) and "unknown" (info);
 * - queue mode (Postgres, Redis, a main process and workers, binary data in the database):
 *   - shared limiter (issue 23, the default): 1, 2 and 3 workers, plan 2 (basic) and plan 5
 *     (starter), targets 0 × 429 and ≤ 1.15 × ideal;
 *   - per process (`FASEEH_LIMITER_REDIS_URL=off`, the limiter before issue 23), 2 workers: plan
 *     "basic" on every worker (the workers together may send 4) and plan "custom" 1 per worker (the
 *     plan divided by the workers, as the README used to advise), information beside the shared rows.
 * Each scenario has its own sandbox (one Faseeh account), warmed up with 2 executions, then `reps`
 * runs of 50 executions.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';

import type { Pipeline } from '../lib/queue';
import { executionsPerWorker, fireCloneWebhooks, startPipeline, tallyClones, webhookCloneWorkflow } from '../lib/queue';
import { ensureRuntime } from '../lib/runtime';
import type { Runtime } from '../lib/runtime';
import { makePcm16, wrapWav } from '../../test/sandbox/audio';
import type { Figure } from './common';
import { fmt, log, median } from './common';
import { stagePackage } from './memory';
import type { RemoteSandbox } from './sandboxClient';
import { startRemoteSandbox } from './sandboxClient';
import type { RequestSummary } from './sandboxChild';

export const EXECUTIONS = 50;
export const EXEC_LATENCY_MS = 200;
export const EXEC_PLAN_LIMIT = 2;
export const REQUESTS_PER_EXECUTION = 2;
const WARM_UP = 2;
const TARGET = 1.15;
const RECORDING = wrapWav(makePcm16(1.5, 24000, 190));
const TEXT = 'مرحبا بكم في المدونة الصوتية الجديدة';
/** requests × latency / limit (for the plan of 2). */
export const IDEAL_MS = idealMs(EXEC_PLAN_LIMIT);

/** requests × latency / plan. */
function idealMs(plan: number): number {
	return (EXECUTIONS * REQUESTS_PER_EXECUTION * EXEC_LATENCY_MS) / plan;
}

/** One n8n set-up: the scenarios of one stack run on it one after another. */
interface Stack {
	key: string;
	mode: 'regular' | 'queue';
	workers: number;
	/** Queue mode: the shared limiter through n8n's Redis (false: FASEEH_LIMITER_REDIS_URL=off). */
	shared: boolean;
	label: string;
}

interface Scenario {
	key: string;
	stack: Stack;
	label: string;
	plan: 'basic' | 'starter' | 'unknown' | 'custom';
	maxConcurrentRequests: number;
	/** What the account takes (the sandbox's maxConcurrent): the ideal follows it. */
	accountLimit: number;
	/** Wall-time target (× ideal) and whether 429s must be 0; undefined = information only. */
	target?: { ratio: number; no429: boolean };
}

const REGULAR: Stack = { key: 'regular', mode: 'regular', workers: 0, shared: false, label: 'regular' };
const PER_PROCESS: Stack = { key: 'queue-per-process', mode: 'queue', workers: 2, shared: false, label: 'queue 2 workers, per-process limiter' };
const SHARED: Stack[] = [1, 2, 3].map((workers) => ({
	key: `queue-shared-${workers}`,
	mode: 'queue',
	workers,
	shared: true,
	label: `queue ${workers} worker${workers === 1 ? '' : 's'}, shared limiter`,
}));
export const STACKS: Stack[] = [REGULAR, PER_PROCESS, ...SHARED];

const SCENARIOS: Scenario[] = [
	{ key: 'regBasic', stack: REGULAR, label: 'regular, plan basic', plan: 'basic', maxConcurrentRequests: EXEC_PLAN_LIMIT, accountLimit: EXEC_PLAN_LIMIT, target: { ratio: TARGET, no429: true } },
	{ key: 'regUnknown', stack: REGULAR, label: 'regular, plan unknown', plan: 'unknown', maxConcurrentRequests: EXEC_PLAN_LIMIT, accountLimit: EXEC_PLAN_LIMIT },
	{ key: 'qBasic', stack: PER_PROCESS, label: `${PER_PROCESS.label}, plan basic on each`, plan: 'basic', maxConcurrentRequests: EXEC_PLAN_LIMIT, accountLimit: EXEC_PLAN_LIMIT },
	{
		key: 'qCustom',
		stack: PER_PROCESS,
		label: `${PER_PROCESS.label}, plan custom ${EXEC_PLAN_LIMIT / PER_PROCESS.workers} on each`,
		plan: 'custom',
		maxConcurrentRequests: EXEC_PLAN_LIMIT / PER_PROCESS.workers,
		accountLimit: EXEC_PLAN_LIMIT,
	},
	...SHARED.flatMap((stack): Scenario[] => [
		{ key: `s${stack.workers}Basic`, stack, label: `${stack.label}, plan basic (2)`, plan: 'basic', maxConcurrentRequests: 2, accountLimit: 2, target: { ratio: TARGET, no429: true } },
		{ key: `s${stack.workers}Starter`, stack, label: `${stack.label}, plan starter (5)`, plan: 'starter', maxConcurrentRequests: 5, accountLimit: 5, target: { ratio: TARGET, no429: true } },
	]),
];

/** n8n matches webhook paths in lower case. */
function webhookPath(scenario: Scenario): string {
	return `bench-${scenario.key.toLowerCase()}`;
}

export interface ExecutionsRun {
	wallMs: number;
	failed: number;
	duplicateClones: number;
	missingClones: number;
	paidPreviews: number;
	refused429: number;
	requests: number;
	maxInFlight: number;
	maxAdmitted: number;
	/** Queue mode: executions each worker started. */
	perWorker: number[];
	/** Slowest single webhook call, ms. */
	slowestCallMs: number;
	/** From sending the calls until the first request reached the sandbox, ms. */
	leadInMs: number;
	/** From the last answer of the sandbox until the last call was answered, ms. */
	tailMs: number;
	/** Admitted requests' time at the sandbox / (limit × time between first arrival and last answer). */
	slotOccupancy: number;
	/** Median time an admitted request spent at the sandbox, ms. */
	admittedMedianMs: number;
}

export interface ExecutionsRow {
	scenario: Scenario;
	runs: ExecutionsRun[];
}

export interface ExecutionsResult {
	reps: number;
	rows: ExecutionsRow[];
	/** Start-up of each stack (s per step), as measured, by the stack's label. */
	startup: Record<string, Record<string, number>>;
	/** 1-minute load average of the machine before and after the section (other processes count). */
	loadAverage: { before: number; after: number };
	figures: Figure[];
}

export async function runExecutions(reps: number): Promise<ExecutionsResult> {
	const loadBefore = os.loadavg()[0];
	const rt = await ensureRuntime({ log });
	const stage = stagePackage();
	const startup: ExecutionsResult['startup'] = {};
	const rows: ExecutionsRow[] = [];
	try {
		for (const stack of STACKS) {
			const scenarios = SCENARIOS.filter((scenario) => scenario.stack === stack);
			const stackRows = await runStack(rt, stage, stack, scenarios, reps, startup);
			rows.push(...stackRows);
		}
	} finally {
		fs.rmSync(stage, { recursive: true, force: true });
	}
	return { reps, rows, startup, loadAverage: { before: loadBefore, after: os.loadavg()[0] }, figures: figures(rows) };
}

async function runStack(
	rt: Runtime,
	packageDir: string,
	stack: Stack,
	scenarios: Scenario[],
	reps: number,
	startup: ExecutionsResult['startup'],
): Promise<ExecutionsRow[]> {
	const apiKey = `fsk-bench-${randomBytes(16).toString('hex')}`;
	const sandboxes: RemoteSandbox[] = [];
	let pipeline: Pipeline | undefined;
	try {
		for (const scenario of scenarios) {
			sandboxes.push(await startRemoteSandbox({ apiKey, maxConcurrent: scenario.accountLimit, latencyMs: EXEC_LATENCY_MS }));
		}
		log(`executions: starting n8n: ${stack.label}`);
		const env: Record<string, string> = stack.mode === 'regular' ? { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' } : {};
		if (stack.mode === 'queue' && !stack.shared) env.FASEEH_LIMITER_REDIS_URL = 'off';
		pipeline = await startPipeline(rt, {
			mode: stack.mode,
			workers: stack.workers,
			workerConcurrency: 10,
			packageDir,
			credentials: scenarios.map((scenario, i) => ({
				id: `bench${scenario.key}`,
				name: `Faseeh ${scenario.key}`,
				type: 'faseehApi',
				data: { apiKey, baseUrl: sandboxes[i].baseUrl, plan: scenario.plan, maxConcurrentRequests: scenario.maxConcurrentRequests },
			})),
			workflows: scenarios.map((scenario) =>
				webhookCloneWorkflow({ id: `bench${scenario.key}`, path: webhookPath(scenario), credentialId: `bench${scenario.key}`, credentialName: `Faseeh ${scenario.key}` }),
			),
			env,
			log: (line) => log(`executions ${stack.label}: ${line}`),
		});
		startup[stack.label] = {};
		for (const [step, ms] of Object.entries(pipeline.timings)) startup[stack.label][step] = ms / 1000;

		const rows: ExecutionsRow[] = [];
		for (const [i, scenario] of scenarios.entries()) {
			const sandbox = sandboxes[i];
			const url = `${pipeline.url}/webhook/${webhookPath(scenario)}`;
			const warm = await fireCloneWebhooks(url, WARM_UP, { recording: RECORDING, text: TEXT, namePrefix: 'Warm-up' });
			const warmFailed = warm.calls.filter((call) => call.status !== 200).length;
			if (warmFailed > 0) throw new Error(`${scenario.label}: ${warmFailed} of ${WARM_UP} warm-up executions failed: ${warm.calls[0].text.slice(0, 300)}`);
			const row: ExecutionsRow = { scenario, runs: [] };
			for (let rep = 0; rep < reps; rep++) {
				await sandbox.reset();
				const before = executionsPerWorker(pipeline.workers);
				const firedAt = Date.now();
				const { calls, wallMs } = await fireCloneWebhooks(url, EXECUTIONS, { recording: RECORDING, text: TEXT, namePrefix: `Run ${rep + 1} voice` });
				const answeredAt = Date.now();
				const stats = await sandbox.stats();
				const timing = slotTiming(stats.requests, firedAt, answeredAt, scenario.accountLimit);
				const tally = tallyClones(calls, stats.requests);
				const perWorker = executionsPerWorker(pipeline.workers).map((count, w) => count - before[w]);
				const run: ExecutionsRun = {
					wallMs,
					failed: EXECUTIONS - tally.succeeded,
					duplicateClones: tally.duplicateClones,
					missingClones: tally.missingClones.length,
					paidPreviews: tally.paidPreviews,
					refused429: tally.refused429,
					requests: tally.requests,
					maxInFlight: stats.maxInFlight,
					maxAdmitted: stats.maxAdmitted,
					perWorker,
					slowestCallMs: Math.max(...calls.map((call) => call.durationMs)),
					...timing,
				};
				row.runs.push(run);
				log(
					`executions ${scenario.label} rep ${rep + 1}/${reps}: ${tally.succeeded}/${EXECUTIONS} ok, ${run.duplicateClones} duplicate clones, ${run.refused429} × 429, ${fmt(wallMs / 1000, 2)} s (ideal ${fmt(idealMs(scenario.accountLimit) / 1000, 1)} s)` +
						(perWorker.length ? `, per worker ${perWorker.join(' + ')}` : '') +
						`; lead-in ${fmt(run.leadInMs, 0)} ms, tail ${fmt(run.tailMs, 0)} ms, slots occupied ${fmt(run.slotOccupancy * 100, 1)} %, admitted median ${fmt(run.admittedMedianMs, 0)} ms`,
				);
				if (tally.failed.length > 0) log(`  first failure: ${tally.failed[0].status} ${tally.failed[0].error ?? tally.failed[0].text.slice(0, 300)}`);
			}
			rows.push(row);
		}
		const leaked = [...pipeline.cliOutput, pipeline.logs()].some((text) => text.includes(apiKey));
		if (leaked) throw new Error(`the API key appeared in n8n's output (${stack.label})`);
		return rows;
	} finally {
		await pipeline?.stop();
		for (const sandbox of sandboxes) await sandbox.stop();
	}
}

/** Where the wall time went, from the sandbox's own record of each request. */
function slotTiming(requests: RequestSummary[], firedAt: number, answeredAt: number, limit: number) {
	const timed = requests.filter((request) => request.endedAt !== undefined && request.durationMs !== undefined);
	const arrivals = timed.map((request) => (request.endedAt as number) - (request.durationMs as number));
	const ends = timed.map((request) => request.endedAt as number);
	const firstArrival = Math.min(...arrivals);
	const lastEnd = Math.max(...ends);
	const admitted = timed.filter((request) => request.status !== 429).map((request) => request.durationMs as number);
	const busy = admitted.reduce((sum, ms) => sum + ms, 0);
	return {
		leadInMs: firstArrival - firedAt,
		tailMs: answeredAt - lastEnd,
		slotOccupancy: busy / (limit * (lastEnd - firstArrival)),
		admittedMedianMs: median(admitted),
	};
}

// -------------------------------------------------------------------------------------------
// Figures, findings, the docs section.
// -------------------------------------------------------------------------------------------

const worst = (runs: ExecutionsRun[], pick: (run: ExecutionsRun) => number) => Math.max(...runs.map(pick));
const medianOf = (runs: ExecutionsRun[], pick: (run: ExecutionsRun) => number) => median(runs.map(pick));
const list = (runs: ExecutionsRun[], pick: (run: ExecutionsRun) => number) => runs.map(pick).join(', ');

function figures(rows: ExecutionsRow[]): Figure[] {
	const out: Figure[] = [];
	for (const { scenario, runs } of rows) {
		const target = scenario.target;
		const failed = worst(runs, (run) => run.failed);
		const duplicates = worst(runs, (run) => run.duplicateClones);
		const ideal = idealMs(scenario.accountLimit);
		const ratio = medianOf(runs, (run) => run.wallMs) / ideal;
		out.push({
			section: 'executions',
			figure: `${scenario.label}: failed executions of ${EXECUTIONS} (worst run) / duplicate clones (worst run)`,
			measured: `${failed} / ${duplicates}`,
			target: '0 / 0',
			pass: failed === 0 && duplicates === 0,
		});
		out.push({
			section: 'executions',
			figure: `${scenario.label}: answers 429 (median; each run)`,
			measured: `${fmt(medianOf(runs, (run) => run.refused429), 0)} (${list(runs, (run) => run.refused429)})`,
			target: target?.no429 ? '0' : '—',
			pass: target?.no429 ? worst(runs, (run) => run.refused429) === 0 : undefined,
		});
		out.push({
			section: 'executions',
			figure: `${scenario.label}: wall time (median) / ideal ${fmt(ideal / 1000, 1)} s`,
			measured: `${fmt(medianOf(runs, (run) => run.wallMs) / 1000, 2)} s = ${fmt(ratio, 3)}×`,
			target: target ? `≤ ${target.ratio}×` : '—',
			pass: target ? ratio <= target.ratio : undefined,
		});
		out.push({
			section: 'executions',
			figure: `${scenario.label}: max requests open at the sandbox (attempted / admitted)`,
			measured: `${worst(runs, (run) => run.maxInFlight)} / ${worst(runs, (run) => run.maxAdmitted)}`,
			target: '—',
		});
	}
	return out;
}

function findings(result: ExecutionsResult): string[] {
	const lines: string[] = [];
	for (const { scenario, runs } of result.rows) {
		const ok = runs.map((run) => EXECUTIONS - run.failed).join(', ');
		const wall = runs.map((run) => fmt(run.wallMs / 1000, 2)).join(', ');
		const ideal = idealMs(scenario.accountLimit);
		const perWorker = runs[0].perWorker.length ? ` Executions per worker (each run): ${runs.map((run) => run.perWorker.join(' + ')).join('; ')}.` : '';
		lines.push(
			`- ${scenario.label}: executions answered with their own voice in each run: ${ok} of ${EXECUTIONS}; duplicate clones ${list(runs, (run) => run.duplicateClones)}; clones missing ${list(runs, (run) => run.missingClones)}; previews paid ${list(runs, (run) => run.paidPreviews)} (one per execution would be ${EXECUTIONS}). ` +
				`Requests sent ${list(runs, (run) => run.requests)} for ${EXECUTIONS * REQUESTS_PER_EXECUTION} needed, of them answered 429: ${list(runs, (run) => run.refused429)}. ` +
				`Wall time ${wall} s against the ideal ${fmt(ideal / 1000, 1)} s (median ${fmt(medianOf(runs, (run) => run.wallMs) / ideal, 3)}×); the slowest single call took ${fmt(worst(runs, (run) => run.slowestCallMs) / 1000, 2)} s. ` +
				`At most ${worst(runs, (run) => run.maxInFlight)} requests were open at the sandbox at once, ${worst(runs, (run) => run.maxAdmitted)} admitted.${perWorker} ` +
				`Where the time went (medians over the runs): ${fmt(medianOf(runs, (run) => run.leadInMs) / 1000, 2)} s from sending the calls to the first request at Faseeh (n8n taking in ${EXECUTIONS} uploads and starting executions), ${fmt(medianOf(runs, (run) => run.tailMs) / 1000, 2)} s from the last answer of Faseeh to the last webhook answer; the request phase in between took ${fmt(medianOf(runs, (run) => run.wallMs - run.leadInMs - run.tailMs) / 1000, 2)} s = ${fmt(medianOf(runs, (run) => run.wallMs - run.leadInMs - run.tailMs) / ideal, 3)}× the ideal, and in it the ${scenario.accountLimit} slots were occupied ${fmt(medianOf(runs, (run) => run.slotOccupancy) * 100, 1)} % of the time, an admitted request taking ${fmt(medianOf(runs, (run) => run.admittedMedianMs), 0)} ms at the sandbox (median) for ${EXEC_LATENCY_MS} ms of latency.`,
		);
	}
	const perProcess = result.rows.find((row) => row.scenario.key === 'qBasic');
	const shared = result.rows.find((row) => row.scenario.key === 's2Basic');
	if (perProcess && shared) {
		const ideal = idealMs(EXEC_PLAN_LIMIT);
		lines.push(
			`- Two workers on one key at plan 2: with the per-process limiter each worker held the full plan and got a median of ${fmt(medianOf(perProcess.runs, (run) => run.refused429), 0)} answers 429 per run, ${fmt(medianOf(perProcess.runs, (run) => run.wallMs) / ideal, 3)}× the ideal; with the shared limiter ${fmt(medianOf(shared.runs, (run) => run.refused429), 0)} and ${fmt(medianOf(shared.runs, (run) => run.wallMs) / ideal, 3)}×.`,
		);
	}
	for (const [label, startup] of Object.entries(result.startup)) {
		const steps = Object.entries(startup);
		if (steps.length) lines.push(`- Start-up of the stack "${label}" (not in the wall times): ${steps.map(([step, s]) => `${step} ${fmt(s, 1)} s`).join(', ')}.`);
	}
	return lines;
}

const runs = (count: number) => `${count} run${count === 1 ? '' : 's'}`;

export const SECTION_START = '<!-- executions:start -->';
export const SECTION_END = '<!-- executions:end -->';

/** The "Executions" part of docs/benchmarks.md, between markers so `--only executions` can replace it. */
export function executionsMarkdown(result: ExecutionsResult | undefined, error: string | undefined, startedAt: Date, markdownTable: (figures: Figure[]) => string): string {
	const out = [SECTION_START, '## Executions (triggered pipelines)', '', `Run: ${startedAt.toISOString()}, ${runs(result?.reps ?? 0)} per scenario.` +
			(result ? ` Machine load (1-minute load average, ${os.availableParallelism()} cores) ${fmt(result.loadAverage.before, 2)} before and ${fmt(result.loadAverage.after, 2)} after (all processes of the machine).` : ''),
		'',
	];
	if (result) {
		const missed = result.figures.filter((figure) => figure.pass === false).length;
		out.push(markdownTable(result.figures), '', missed === 0 ? 'All targets met.' : `Missed targets: ${missed}.`, '');
	}
	if (error) out.push(`The section failed to run: ${error}`, '');
	out.push(
		'### Method',
		'',
		`- A real n8n (scripts/lib/queue.ts, runtime from scripts/lib/runtime.ts), the package compiled from the current sources and installed on every n8n process. Workflow: examples/webhook-one-step-clone.json (Webhook, response from the last node → Faseeh Voice Clone with Voice Source "Generate Preview First": ${REQUESTS_PER_EXECUTION} Faseeh requests per execution), published with \`n8n publish:workflow\`.`,
		`- Load: ${EXECUTIONS} multipart POSTs at once (a 1.5 s WAV, a voice name of its own, the preview text), after ${WARM_UP} warm-up executions; ${runs(result?.reps ?? 0)} per scenario. Wall time: from sending the first call to reading the last answer. Ideal: ${EXECUTIONS} × ${REQUESTS_PER_EXECUTION} requests × ${EXEC_LATENCY_MS} ms / the account's limit = ${fmt(idealMs(2) / 1000, 1)} s at plan 2, ${fmt(idealMs(5) / 1000, 1)} s at plan 5.`,
		`- Faseeh: the sandbox in its own process, \`maxConcurrent\` = the account's limit (2, or 5 for the starter rows; a request above it is answered 429 / 42901), every answer ${EXEC_LATENCY_MS} ms after its request arrived (429s too). One sandbox, one credential and one workflow per scenario, so the limiter of one scenario never sees another's account.`,
		`- Regular mode: one \`n8n start\` (SQLite, filesystem binary mode). Queue mode: Postgres and Redis (Debian packages, throwaway data folders), a main process (\`EXECUTIONS_MODE=queue\`, it takes the webhooks) and 1, 2 or 3 \`n8n worker --concurrency 10\`, binary data mode \`database\`. "Shared limiter": the default in queue mode (issue 23, the account's slots in that Redis). "Per-process limiter": the same with \`FASEEH_LIMITER_REDIS_URL=off\`, the limiter as it was before issue 23, measured in the same run.`,
		'- Failed: calls not answered 200 with a voice_id and their own name. Duplicate clones: clones the sandbox answered 200 beyond one per voice name. Previews paid: previews answered 200. Executions per worker: "Worker started execution" lines in each worker\'s log.',
		'',
		'### Findings',
		'',
		...(result ? findings(result) : []),
		SECTION_END,
	);
	return out.join('\n');
}

/** docs text with its executions section replaced (or appended when it has none). */
export function replaceExecutionsSection(docs: string, section: string): string {
	const start = docs.indexOf(SECTION_START);
	const end = docs.indexOf(SECTION_END);
	if (start >= 0 && end > start) return `${docs.slice(0, start)}${section}${docs.slice(end + SECTION_END.length)}`;
	return `${docs.trimEnd()}\n\n${section}\n`;
}
