/**
 * Transcribe: Faseeh → Audio → Transcribe through n8n-core's WorkflowExecute (the harness, in this
 * process) against the sandbox's Munsit STT (a child process) answering each request after 100 ms
 * and refusing with 429 above the plan limit. For plan limits 2 and 5 (set on the credential):
 * - one execution of 100 voice notes, Options → Concurrency 10;
 * - 20 executions at once, 5 voice notes each (the same 100), Concurrency 5 each: they share the
 *   account's limiter, as executions of one n8n process do.
 * Every note is a distinct WAV: "lost" counts notes without an output text, "duplicated" notes the
 * sandbox transcribed more than once; both must be 0, and so must the 429s.
 */
import type { IDataObject } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import type { FixtureItem, NodeRunResult } from '../../test/harness/n8nHarness';
import { cleanupHarness, NODE_UNDER_TEST, runNode } from '../../test/harness/n8nHarness';
import { makePcm16, wrapWav } from '../../test/sandbox/audio';
import { SandboxStt } from '../../test/sandbox/stt';
import type { Figure } from './common';
import { fmt, log, median, sha256 } from './common';
import type { RemoteSandbox } from './sandboxClient';
import { startRemoteSandbox } from './sandboxClient';
import type { RequestSummary } from './sandboxChild';

/** Loaded by its .ts path (see common.ts: plain require would find the codex .json first). */
const { Faseeh } = require('../../nodes/Faseeh/Faseeh.node.ts') as typeof import('../../nodes/Faseeh/Faseeh.node');

export const STT_NOTES = 100;
export const STT_LATENCY_MS = 100;
export const STT_EXECUTIONS = 20;
const PLAN_LIMITS = [2, 5];
/** One execution: the throughput section's bar. Many: the executions section's (wall ≤ 1.15 × ideal). */
const TARGET_ONE = 0.9;
const TARGET_MANY = 1 / 1.15;
const STT_PATH = '/api/v1/audio/transcribe';
export const SECTION_START = '<!-- bench:transcribe:start -->';
export const SECTION_END = '<!-- bench:transcribe:end -->';

/** 100 distinct voice notes (0.4 s, one tone each). */
const NOTES: Buffer[] = Array.from({ length: STT_NOTES }, (_unused, i) => wrapWav(makePcm16(0.4, 16000, 200 + i * 7), 16000));
const NOTE_SHAS = NOTES.map(sha256);

export interface TranscribeRun {
	wallMs: number;
	/** From starting the run(s) until the first request reached the sandbox (harness set-up, binaries stored), ms. */
	leadInMs: number;
	/** From the first request's arrival until the last answer, at the sandbox, ms. */
	serviceMs: number;
	lost: number;
	duplicated: number;
	/** Outputs whose text is not the sandbox's transcript of that note. */
	wrongText: number;
	refused429: number;
	maxInFlight: number;
	maxAdmitted: number;
}

export interface TranscribeRow {
	planLimit: number;
	/** Medians of the same 20-execution shape with Speech → Generate (the control), ms at the sandbox. */
	speechServiceMs?: number[];
	scenario: 'one execution' | '20 executions';
	idealMs: number;
	runs: TranscribeRun[];
}

export interface TranscribeResult {
	reps: number;
	rows: TranscribeRow[];
	figures: Figure[];
}

function items(from: number, count: number): FixtureItem[] {
	return Array.from({ length: count }, (_unused, k) => ({
		json: { note: from + k },
		binary: { data: { data: NOTES[from + k], fileName: `note-${from + k}.wav`, mimeType: 'audio/wav' } },
	}));
}

/** The control: Speech → Generate in the same shape, to tell STT's own cost from the shared limiter's. */
const SPEECH = { resource: 'speech', operation: 'generate', voiceId: { __rl: true, mode: 'id', value: 'ar-najdi-male-2' }, text: 'مرحبا بك', model: 'faseeh-v1-preview', stability: 0.5 };

async function transcribeRun(sandbox: RemoteSandbox, planLimit: number, fixture: FixtureItem[], concurrency: number, speech = false): Promise<NodeRunResult> {
	const result = await runNode({
		nodeType: new Faseeh(),
		parameters: speech ? { ...SPEECH, options: { concurrency } } : { resource: 'audio', operation: 'transcribe', options: { concurrency } },
		items: fixture,
		credentials: { faseehApi: { apiKey: sandbox.apiKey, baseUrl: sandbox.baseUrl, plan: 'custom', maxConcurrentRequests: planLimit } },
		credentialTypes: [new FaseehApi()],
		binaryMode: 'filesystem',
	});
	if (result.error) throw new Error(`the node failed: ${result.error.message}`);
	if (!result.run?.data.resultData.runData[NODE_UNDER_TEST]?.[0]) throw new Error('the node under test did not run');
	return result;
}

/** Checks every note was answered once and its item carries the sandbox's transcript. */
function tally(
	outputs: IDataObject[],
	requests: RequestSummary[],
	startedAt: number,
	wallMs: number,
	stats: { maxInFlight: number; maxAdmitted: number },
): TranscribeRun {
	const expected = new SandboxStt();
	const byNote = new Map<number, IDataObject>();
	for (const json of outputs) {
		const note = Number(/^note-(\d+)\.wav$/.exec(String(json.fileName))?.[1]);
		if (Number.isInteger(note) && typeof json.text === 'string') byNote.set(note, json);
	}
	const answered = requests.filter((request) => request.path === STT_PATH && request.status === 200);
	const perSha = new Map<string, number>();
	for (const request of answered) {
		const file = request.parts?.find((part) => part.name === 'file');
		if (file) perSha.set(file.sha256, (perSha.get(file.sha256) ?? 0) + 1);
	}
	let wrongText = 0;
	for (const [note, json] of byNote) if (json.text !== expected.transcriptFor(NOTE_SHAS[note])) wrongText++;
	const stt = requests.filter((request) => request.path === STT_PATH && request.endedAt !== undefined);
	const firstArrival = Math.min(...stt.map((request) => (request.endedAt as number) - (request.durationMs ?? 0)));
	const lastEnd = Math.max(...stt.map((request) => request.endedAt as number));
	return {
		wallMs,
		leadInMs: firstArrival - startedAt,
		serviceMs: lastEnd - firstArrival,
		lost: STT_NOTES - byNote.size,
		duplicated: [...perSha.values()].reduce((sum, count) => sum + Math.max(0, count - 1), 0),
		wrongText,
		refused429: requests.filter((request) => request.path === STT_PATH && request.status === 429).length,
		maxInFlight: stats.maxInFlight,
		maxAdmitted: stats.maxAdmitted,
	};
}

export async function runTranscribe(reps: number): Promise<TranscribeResult> {
	const rows: TranscribeRow[] = [];
	try {
		for (const planLimit of PLAN_LIMITS) {
			const sandbox = await startRemoteSandbox({ latencyMs: STT_LATENCY_MS, maxConcurrent: planLimit, keepPartData: false });
			try {
				// Warm-up: module loading and JIT are not what is measured.
				await transcribeRun(sandbox, planLimit, items(0, 10), 5);
				const idealMs = (STT_NOTES * STT_LATENCY_MS) / planLimit;
				const one: TranscribeRow = { planLimit, scenario: 'one execution', idealMs, runs: [] };
				const many: TranscribeRow = { planLimit, scenario: '20 executions', idealMs, runs: [] };
				for (let rep = 0; rep < reps; rep++) {
					await sandbox.reset();
					let startedAt = Date.now();
					let started = performance.now();
					const single = await transcribeRun(sandbox, planLimit, items(0, STT_NOTES), 10);
					let wallMs = performance.now() - started;
					let stats = await sandbox.stats();
					one.runs.push(tally(single.items.map((item) => item.json), stats.requests, startedAt, wallMs, stats));

					await sandbox.reset();
					const perExecution = STT_NOTES / STT_EXECUTIONS;
					startedAt = Date.now();
					started = performance.now();
					const results = await Promise.all(
						Array.from({ length: STT_EXECUTIONS }, (_unused, e) => transcribeRun(sandbox, planLimit, items(e * perExecution, perExecution), 5)),
					);
					wallMs = performance.now() - started;
					stats = await sandbox.stats();
					many.runs.push(tally(results.flatMap((result) => result.items.map((item) => item.json)), stats.requests, startedAt, wallMs, stats));

					await sandbox.reset();
					await Promise.all(Array.from({ length: STT_EXECUTIONS }, (_unused, e) => transcribeRun(sandbox, planLimit, items(e * perExecution, perExecution), 5, true)));
					const speech = (await sandbox.stats()).requests.filter((request) => request.path.startsWith('/api/v1/text-to-speech/') && request.endedAt !== undefined);
					const arrival = Math.min(...speech.map((request) => (request.endedAt as number) - (request.durationMs ?? 0)));
					(many.speechServiceMs ??= []).push(Math.max(...speech.map((request) => request.endedAt as number)) - arrival);
					for (const row of [one, many]) {
						const run = row.runs[row.runs.length - 1];
						log(
							`transcribe plan ${planLimit}, ${row.scenario}, rep ${rep + 1}/${reps}: ${fmt(run.wallMs / 1000, 2)} s (ideal ${fmt(idealMs / 1000, 1)} s; lead-in ${fmt(run.leadInMs, 0)} ms, at the sandbox ${fmt(run.serviceMs / 1000, 2)} s), lost ${run.lost}, duplicated ${run.duplicated}, wrong text ${run.wrongText}, 429 × ${run.refused429}, max in flight ${run.maxInFlight}`,
						);
					}
				}
				rows.push(one, many);
			} finally {
				await sandbox.stop();
			}
		}
	} finally {
		await cleanupHarness();
	}
	return { reps, rows, figures: figures(rows) };
}

function figures(rows: TranscribeRow[]): Figure[] {
	const out: Figure[] = [];
	for (const row of rows) {
		const wall = median(row.runs.map((run) => run.wallMs));
		const ratio = row.idealMs / wall;
		const target = row.scenario === 'one execution' ? TARGET_ONE : TARGET_MANY;
		const sum = (pick: (run: TranscribeRun) => number) => row.runs.reduce((total, run) => total + pick(run), 0);
		const label = `plan ${row.planLimit}, ${row.scenario}`;
		out.push({
			section: 'transcribe',
			figure: `${label}: ${STT_NOTES} notes, median wall ${fmt(wall / 1000, 2)} s vs ideal ${fmt(row.idealMs / 1000, 1)} s (notes × ${STT_LATENCY_MS} ms / limit)`,
			measured: `${fmt(ratio, 2)} of ideal`,
			target: `≥ ${fmt(target, 2)}`,
			pass: ratio >= target,
		});
		const service = median(row.runs.map((run) => run.serviceMs));
		out.push({
			section: 'transcribe',
			figure: `${label}: first request's arrival to last answer at the sandbox ${fmt(service / 1000, 2)} s vs ideal (lead-in before it: median ${fmt(median(row.runs.map((run) => run.leadInMs)), 0)} ms)`,
			measured: `${fmt(row.idealMs / service, 2)} of ideal`,
			target: 'info',
		});
		if (row.speechServiceMs) {
			const speech = median(row.speechServiceMs);
			out.push({
				section: 'transcribe',
				figure: `${label}: control, the same shape with Speech → Generate: first arrival to last answer ${fmt(speech / 1000, 2)} s vs ideal`,
				measured: `${fmt(row.idealMs / speech, 2)} of ideal`,
				target: 'info',
			});
		}
		const lost = sum((run) => run.lost + run.wrongText);
		const duplicated = sum((run) => run.duplicated);
		const refused = sum((run) => run.refused429);
		out.push({
			section: 'transcribe',
			figure: `${label}: lost (or wrong text), duplicated, 429s over ${row.runs.length} runs; most in flight`,
			measured: `${lost}, ${duplicated}, ${refused}; ${Math.max(...row.runs.map((run) => run.maxInFlight))}`,
			target: `0, 0, 0; ≤ ${row.planLimit}`,
			pass: lost === 0 && duplicated === 0 && refused === 0 && row.runs.every((run) => run.maxInFlight <= row.planLimit),
		});
	}
	return out;
}

/** The section of docs/benchmarks.md, between its markers. */
export function transcribeMarkdown(result: TranscribeResult | undefined, error: string | undefined, startedAt: Date, table: (figures: Figure[]) => string): string {
	const lines = [SECTION_START, '## Transcribe (Audio → Transcribe, Munsit speech-to-text)', ''];
	if (!result) {
		lines.push(`Not measured${error ? `: ${error}` : ''}.`, '', SECTION_END);
		return lines.join('\n');
	}
	lines.push(
		`Measured ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench\` (\`--only transcribe\` reruns this section alone), ${result.reps} runs per row.`,
		'',
		table(result.figures),
		'',
		`- Setup: the Faseeh node's *Audio → Transcribe* in n8n-core's WorkflowExecute (the test harness, filesystem binary mode, in the bench process), against the sandbox's \`POST /audio/transcribe\` in its own process, answering ${STT_LATENCY_MS} ms after each request arrives and refusing with 429 above the plan limit. The credential sets the plan (*Custom Number* 2 or 5).`,
		`- ${STT_NOTES} distinct WAV voice notes (0.4 s, 16 kHz). *One execution*: all ${STT_NOTES} items, Options → Concurrency 10. *${STT_EXECUTIONS} executions*: ${STT_EXECUTIONS} runs at once of ${STT_NOTES / STT_EXECUTIONS} items each (Concurrency 5), which share the account's limiter as executions of one n8n process do (before 2026-12-07 the test harness ran them one after the other, each new execution starting only when the last one ended: the 0.74–0.78 of ideal measured then was that, ~130 ms lost at each of the 19 hand-overs). These are executions of the engine in one process, not webhook executions of \`n8n start\` (the *Executions* section measures those for cloning).`,
		'- The wall time runs from starting the run(s) to the last output, so it includes the harness storing each run\'s binaries before the node starts (the lead-in, given in the informational row: tens of milliseconds here); the informational row measures from the first request\'s arrival at the sandbox to its last answer, which is what the limiter controls.',
		'- Control: the 20-execution shape run again with *Speech → Generate* (100 requests, same latency and plan), so a loss the shared limiter causes across executions shows in both, and one that transcription causes only in the STT row.',
		'- Targets: one execution ≥ 0.9 of ideal (the throughput section\'s bar); 20 executions wall ≤ 1.15 × ideal, i.e. ≥ 0.87 (the executions section\'s bar for regular mode).',
		'- Ideal: notes × latency / plan limit. Lost: notes without an output item carrying the sandbox\'s transcript of that note (wrong text counts as lost). Duplicated: notes the sandbox transcribed more than once. Most in flight: the sandbox\'s own count.',
		'',
		SECTION_END,
	);
	return lines.join('\n');
}

export function replaceTranscribeSection(docs: string, section: string): string {
	const start = docs.indexOf(SECTION_START);
	const end = docs.indexOf(SECTION_END);
	if (start >= 0 && end > start) return `${docs.slice(0, start)}${section}${docs.slice(end + SECTION_END.length)}`;
	return `${docs.trimEnd()}\n\n${section}\n`;
}
