/**
 * Speech, long texts (issue 15): one item of ~50,000 Arabic characters through Speech → Generate
 * (n8n-core's WorkflowExecute, this process) against the sandbox (a child process) answering every
 * request after LATENCY_MS, with the account's plan limit 2 and 5 (credential plan, and the sandbox
 * refusing more with 429). Wall time is compared with the ideal: pieces × latency / plan limit.
 */
import type { IDataObject, INodeParameters } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import { splitForSpeech, validateSpeechText } from '../../nodes/shared/speech/split';
import { cleanupHarness, NODE_UNDER_TEST, runNode } from '../../test/harness/n8nHarness';
import { longArabicText } from '../../test/helpers/longText';
import type { Figure } from './common';
import { fmt, log, median } from './common';
import { startRemoteSandbox } from './sandboxClient';

// Faseeh.node.json sits beside Faseeh.node.ts, and Node's resolver would pick the JSON (see common.ts).
const { Faseeh } = require('../../nodes/Faseeh/Faseeh.node.ts') as typeof import('../../nodes/Faseeh/Faseeh.node');

export const LONG_TEXT_CHARACTERS = 50_000;
export const LONG_TEXT_LATENCY_MS = 200;
export const LONG_TEXT_MAX_CHARACTERS = 1000;
const PLANS = [
	{ plan: 'basic', limit: 2 },
	{ plan: 'starter', limit: 5 },
] as const;
export const LONG_TEXT_TARGET = 1.15;

export interface LongTextRow {
	planLimit: number;
	pieces: number;
	idealMs: number;
	nodeMs: number[];
	maxInFlight: number;
	refused429: number;
}

export interface LongTextResult {
	reps: number;
	rows: LongTextRow[];
	dialogueRows: LongTextRow[];
	figures: Figure[];
}

/** The one synchronous step before a long item's first request: checking and splitting its text. */
export const SPLIT_CHARACTERS = 1_000_000;
const SPLIT_RUNS = 7;

function measureSplitting(): Figure {
	const text = longArabicText(SPLIT_CHARACTERS, 11);
	const times: number[] = [];
	let pieces = 0;
	for (let run = 0; run < SPLIT_RUNS; run++) {
		const started = performance.now();
		validateSpeechText(text);
		pieces = splitForSpeech(text, LONG_TEXT_MAX_CHARACTERS).length;
		times.push(performance.now() - started);
	}
	log(`speech long text: checking and splitting ${SPLIT_CHARACTERS} characters: median ${fmt(median(times), 0)} ms`);
	return {
		section: 'speech',
		figure: `Long text: checking and splitting ${SPLIT_CHARACTERS.toLocaleString('en')} characters (${pieces} pieces of ≤ ${LONG_TEXT_MAX_CHARACTERS}), one block of the event loop before the first request (median of ${SPLIT_RUNS})`,
		measured: `${fmt(median(times), 0)} ms (runs ${fmt(Math.min(...times), 0)}–${fmt(Math.max(...times), 0)} ms)`,
		target: 'info',
	};
}

export const DIALOGUE_TURNS = 20;
/** Turn lengths in characters, two hosts taking turns: short answers and long explanations. */
const DIALOGUE_TURN_CHARACTERS = [220, 2600, 180, 3100, 450, 1900, 160, 2800, 600, 2200, 240, 3300, 380, 1700, 200, 2500, 520, 2100, 300, 1400];

/** The bench's dialogue: DIALOGUE_TURNS turns of two voices, deterministic. */
export function dialogueTurns(): Array<{ voice_id: string; text: string }> {
	return DIALOGUE_TURN_CHARACTERS.slice(0, DIALOGUE_TURNS).map((characters, turn) => ({
		voice_id: turn % 2 === 0 ? 'ar-najdi-male-2' : 'ar-hijazi-female-1',
		text: longArabicText(characters, 100 + turn),
	}));
}

/** Runs per plan at least: a run is 2.5-6 s, and its median moves ±0.05× between runs of 3. */
const LONG_TEXT_MIN_REPS = 7;

export async function runSpeechLongText(requestedReps: number): Promise<LongTextResult> {
	const reps = Math.max(requestedReps, LONG_TEXT_MIN_REPS);
	const text = longArabicText(LONG_TEXT_CHARACTERS);
	const pieces = splitForSpeech(text, LONG_TEXT_MAX_CHARACTERS).length;
	const rows: LongTextRow[] = [];
	const splitting = measureSplitting();
	const dialogueRows: LongTextRow[] = [];
	const turns = dialogueTurns();
	const dialoguePieces = turns.reduce((sum, turn) => sum + splitForSpeech(turn.text, LONG_TEXT_MAX_CHARACTERS).length, 0);
	try {
		for (const { plan, limit } of PLANS) {
			const sandbox = await startRemoteSandbox({ latencyMs: LONG_TEXT_LATENCY_MS, maxConcurrent: limit });
			try {
				// The node run reps + 1 times (the first a warm-up) on one item, checked to have sent `expected` pieces.
				const measure = async (what: string, expected: number, parameters: INodeParameters, item: IDataObject): Promise<LongTextRow> => {
					const row: LongTextRow = { planLimit: limit, pieces: expected, idealMs: (expected * LONG_TEXT_LATENCY_MS) / limit, nodeMs: [], maxInFlight: 0, refused429: 0 };
					for (let rep = 0; rep <= reps; rep++) {
						await sandbox.reset();
						const result = await runNode({
							nodeType: new Faseeh(),
							parameters: { ...parameters, model: 'faseeh-mini-v1-preview', stability: 0.5, options: { concurrency: 10, maxCharacters: LONG_TEXT_MAX_CHARACTERS } },
							items: [{ json: item }],
							credentials: { faseehApi: { apiKey: sandbox.apiKey, baseUrl: sandbox.baseUrl, plan } },
							credentialTypes: [new FaseehApi()],
							binaryMode: 'filesystem',
						});
						if (result.error) throw new Error(`${what} failed: ${result.error.message}`);
						if (result.items[0]?.json.pieces !== expected) throw new Error(`expected ${expected} pieces, got ${String(result.items[0]?.json.pieces)}`);
						const task = result.run?.data.resultData.runData[NODE_UNDER_TEST]?.[0];
						if (!task) throw new Error('the node under test did not run');
						const stats = await sandbox.stats();
						if (rep === 0) continue; // warm-up
						row.nodeMs.push(task.executionTime);
						row.maxInFlight = Math.max(row.maxInFlight, stats.maxInFlight);
						row.refused429 += stats.requests.filter((request) => request.status === 429).length;
					}
					return row;
				};
				const row = await measure(
					'the node',
					pieces,
					{ resource: 'speech', operation: 'generate', voiceId: { __rl: true, mode: 'id', value: 'ar-najdi-male-2' }, text: '={{ $json.text }}' },
					{ text },
				);
				log(`speech long text, plan ${limit}: ${pieces} pieces, median ${fmt(median(row.nodeMs), 0)} ms, ideal ${fmt(row.idealMs, 0)} ms`);
				rows.push(row);

				// Speech → Generate Dialogue: the turns' pieces through one queue.
				const dialogue = await measure('the dialogue', dialoguePieces, { resource: 'speech', operation: 'generateDialogue', turnsInput: 'json', turnsJson: '={{ $json.turns }}' }, { turns });
				log(`speech dialogue, plan ${limit}: ${DIALOGUE_TURNS} turns, ${dialoguePieces} pieces, median ${fmt(median(dialogue.nodeMs), 0)} ms, ideal ${fmt(dialogue.idealMs, 0)} ms`);
				dialogueRows.push(dialogue);
			} finally {
				await sandbox.stop();
			}
		}
	} finally {
		await cleanupHarness();
	}
	const figures: Figure[] = rows.flatMap((row) => {
		const ratio = median(row.nodeMs) / row.idealMs;
		return [
			{
				section: 'speech' as const,
				figure: `Long text (${LONG_TEXT_CHARACTERS.toLocaleString('en')} chars, ${row.pieces} pieces, ${LONG_TEXT_LATENCY_MS} ms latency), plan limit ${row.planLimit}: wall / ideal`,
				measured: `${fmt(ratio, 3)}× (${fmt(median(row.nodeMs) / 1000, 2)} s vs ${fmt(row.idealMs / 1000, 2)} s; runs ${fmt(Math.min(...row.nodeMs) / row.idealMs, 2)}–${fmt(Math.max(...row.nodeMs) / row.idealMs, 2)}×)`,
				target: `≤ ${LONG_TEXT_TARGET}×`,
				pass: ratio <= LONG_TEXT_TARGET,
			},
			{
				section: 'speech' as const,
				figure: `Long text, plan limit ${row.planLimit}: max in flight, 429s`,
				measured: `${row.maxInFlight} in flight, ${row.refused429} refused`,
				target: `≤ ${row.planLimit}, 0`,
				pass: row.maxInFlight <= row.planLimit && row.refused429 === 0,
			},
		];
	});
	for (const row of dialogueRows) {
		const ratio = median(row.nodeMs) / row.idealMs;
		figures.push(
			{
				section: 'speech' as const,
				figure: `Dialogue (${DIALOGUE_TURNS} turns, two voices, ${row.pieces} pieces, ${LONG_TEXT_LATENCY_MS} ms latency), plan limit ${row.planLimit}: wall / ideal`,
				measured: `${fmt(ratio, 3)}× (${fmt(median(row.nodeMs) / 1000, 2)} s vs ${fmt(row.idealMs / 1000, 2)} s; runs ${fmt(Math.min(...row.nodeMs) / row.idealMs, 2)}–${fmt(Math.max(...row.nodeMs) / row.idealMs, 2)}×)`,
				target: `≤ ${LONG_TEXT_TARGET}×`,
				pass: ratio <= LONG_TEXT_TARGET,
			},
			{
				section: 'speech' as const,
				figure: `Dialogue, plan limit ${row.planLimit}: max in flight, 429s`,
				measured: `${row.maxInFlight} in flight, ${row.refused429} refused`,
				target: `≤ ${row.planLimit}, 0`,
				pass: row.maxInFlight <= row.planLimit && row.refused429 === 0,
			},
		);
	}
	return { reps, rows, dialogueRows, figures: [...figures, splitting] };
}

const SECTION_START = '<!-- speech long text: start -->';
const SECTION_END = '<!-- speech long text: end -->';

/** Its own part of docs/benchmarks.md, between markers, so `--only speech` can refresh it alone. */
export function speechLongTextMarkdown(result: LongTextResult, startedAt: Date, table: (figures: Figure[]) => string): string {
	return [
		SECTION_START,
		'## Speech: long texts',
		'',
		`Date: ${startedAt.toISOString()}. \`npm run bench -- --only speech\` (scripts/bench/speechLongText.ts).`,
		'',
		table(result.figures),
		'',
		`- One item of ${LONG_TEXT_CHARACTERS.toLocaleString('en')} Arabic characters (test/helpers/longText.ts: sentences, commas, paragraphs, break tags) through Speech → Generate in n8n-core's real \`WorkflowExecute\`, Max Characters per Request ${LONG_TEXT_MAX_CHARACTERS}, Options → Concurrency 10, the credential's plan Basic (2) or Starter (5); the sandbox (child process) answers every request after ${LONG_TEXT_LATENCY_MS} ms and refuses more than the plan with 429.`,
		`- Dialogue: Speech → Generate Dialogue with ${DIALOGUE_TURNS} turns of two voices (160 to 3,300 characters each, ${result.dialogueRows[0]?.pieces ?? 'n'} pieces in all, the turns as a JSON array), otherwise as above; ideal = pieces × ${LONG_TEXT_LATENCY_MS} ms / plan limit.`,
		`- Time: n8n's \`executionTime\` of the node, median of ${result.reps} runs after one warm-up. Ideal = pieces × ${LONG_TEXT_LATENCY_MS} ms / plan limit (a lower bound: the last round may be partly empty).`,
		`- Splitting: validateSpeechText and splitForSpeech on a ${SPLIT_CHARACTERS.toLocaleString('en')}-character text of the same kind (seed 11), in this process, ${SPLIT_RUNS} runs; they run synchronously before the item's first request. Before issue 22.7 the same step took 0.3-0.45 s (characters counted through an array per token, a regular-expression match per word, a piece's length measured again for every sentence added to it).`,
		'- Where the time beyond the ideal goes (traced per request, plan 5): 53 pieces need 11 rounds of 5, so 2.20 s is the floor (1.04× the formula\'s ideal); preparing the item (validation, splitting at sentences) takes ~30 ms, joining 12.7 MB of PCM into one WAV and writing it to the binary store 40-100 ms, and each request ~5 ms on the client (a new connection per request through n8n\'s HTTP helper, as in the throughput section). The benchmark\'s sandbox synthesizes a piece while its latency runs (`answerWithinLatency`), as a real server\'s response time includes its work; synthesizing after the latency added ~6 ms of sandbox CPU per request, and with the sandbox and n8n sharing this machine\'s 2 cores ~25 ms per round (1.21× at plan 5). The wire tests\' in-process sandbox keeps the old order (default off).',
		SECTION_END,
	].join('\n');
}

export function replaceSpeechLongTextSection(docs: string, section: string): string {
	const start = docs.indexOf(SECTION_START);
	const end = docs.indexOf(SECTION_END);
	if (start >= 0 && end > start) return `${docs.slice(0, start)}${section}${docs.slice(end + SECTION_END.length)}`;
	return `${docs.trimEnd()}\n\n${section}\n`;
}
