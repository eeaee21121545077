/**
 * Throughput: 200 clone items through the Faseeh Voice Clone node (n8n-core's WorkflowExecute, in
 * this process) against the sandbox (a child process) answering each request after 100 ms.
 */
import * as fs from 'node:fs';

import { cleanupHarness } from '../../test/harness/n8nHarness';
import { bareBatch, runMinimalNode, writeBareFiles } from './bare';
import type { Figure } from './common';
import { assertAllCloned, cloneItems, clones, fmt, log, median, runCloneNode } from './common';
import { startRemoteSandbox } from './sandboxClient';

export const ITEMS = 200;
export const LATENCY_MS = 100;
const CONCURRENCIES = [1, 2, 5, 10];
const LIMITED_CONCURRENCIES = [10, 5];
/** Concurrencies of the reference clients (what the environment allows without the node). */
const REFERENCE_CONCURRENCIES = [5, 10];
const PLAN_LIMIT = 2;
const TARGET_RATIO = 0.9;

export interface ThroughputRow {
	concurrency: number;
	idealMs: number;
	nodeMs: number[];
	wallMs: number[];
	maxInFlight: number;
	/** ideal / median node time. */
	ratio: number;
}

export interface LimitedRow {
	concurrency: number;
	succeeded: number;
	refused429: number[];
	nodeMs: number[];
	maxInFlight: number;
	maxAdmitted: number;
}

/** The same 200 uploads without the Faseeh node, same sandbox (medians of ms). */
export interface ReferenceRow {
	concurrency: number;
	/** Bare form-data POSTs, one connection per request (as n8n's helpers open them). */
	bareMs: number[];
	/** A minimal n8n node calling this.helpers.httpRequest (see bare.ts). */
	minimalMs: number[];
}

export interface ThroughputResult {
	reps: number;
	rows: ThroughputRow[];
	limited: LimitedRow[];
	references: ReferenceRow[];
	figures: Figure[];
}

export async function runThroughput(reps: number): Promise<ThroughputResult> {
	const rows: ThroughputRow[] = [];
	const limited: LimitedRow[] = [];
	const references: ReferenceRow[] = [];
	const sandbox = await startRemoteSandbox({ latencyMs: LATENCY_MS });
	const files = writeBareFiles();
	try {
		// Warm-up: module loading and JIT of the engine and the node are not what we measure.
		await runCloneNode(sandbox, cloneItems(20), { concurrency: 5 });

		for (const concurrency of CONCURRENCIES) {
			const row: ThroughputRow = {
				concurrency,
				idealMs: (ITEMS * LATENCY_MS) / concurrency,
				nodeMs: [],
				wallMs: [],
				maxInFlight: 0,
				ratio: Number.NaN,
			};
			for (let rep = 0; rep < reps; rep++) {
				await sandbox.reset();
				const run = await runCloneNode(sandbox, cloneItems(ITEMS), { concurrency });
				assertAllCloned(run, ITEMS);
				const stats = await sandbox.stats();
				const accepted = clones(stats.requests).filter((request) => request.status === 200).length;
				if (accepted !== ITEMS) throw new Error(`sandbox accepted ${accepted} clones, expected ${ITEMS}`);
				row.nodeMs.push(run.nodeMs);
				row.wallMs.push(run.wallMs);
				row.maxInFlight = Math.max(row.maxInFlight, stats.maxInFlight);
				log(`throughput c=${concurrency} rep ${rep + 1}/${reps}: node ${fmt(run.nodeMs, 0)} ms, wall ${fmt(run.wallMs, 0)} ms, max in flight ${stats.maxInFlight}`);
			}
			row.ratio = row.idealMs / median(row.nodeMs);
			rows.push(row);
		}

		for (const concurrency of REFERENCE_CONCURRENCIES) {
			const row: ReferenceRow = { concurrency, bareMs: [], minimalMs: [] };
			for (let rep = 0; rep < reps; rep++) {
				row.bareMs.push(await bareBatch('httpNewConnection', sandbox, files, ITEMS, concurrency));
				row.minimalMs.push(await runMinimalNode(sandbox, cloneItems(ITEMS), concurrency));
				await sandbox.reset();
				log(`reference c=${concurrency} rep ${rep + 1}/${reps}: bare ${fmt(row.bareMs[rep], 0)} ms, minimal n8n node ${fmt(row.minimalMs[rep], 0)} ms`);
			}
			references.push(row);
		}
	} finally {
		await sandbox.stop();
		fs.rmSync(files.dir, { recursive: true, force: true });
	}

	const planSandbox = await startRemoteSandbox({ latencyMs: LATENCY_MS, maxConcurrent: PLAN_LIMIT });
	try {
		for (const concurrency of LIMITED_CONCURRENCIES) {
			const row: LimitedRow = { concurrency, succeeded: ITEMS, refused429: [], nodeMs: [], maxInFlight: 0, maxAdmitted: 0 };
			for (let rep = 0; rep < reps; rep++) {
				await planSandbox.reset();
				let succeeded = 0;
				try {
					const run = await runCloneNode(planSandbox, cloneItems(ITEMS), { concurrency });
					succeeded = run.result.items.filter((item) => typeof item.json.voice_id === 'string').length;
					row.nodeMs.push(run.nodeMs);
				} catch (error) {
					log(`limited c=${concurrency}: ${(error as Error).message}`);
				}
				const stats = await planSandbox.stats();
				const requests = clones(stats.requests);
				const accepted = requests.filter((request) => request.status === 200).length;
				const refused = requests.filter((request) => request.status === 429).length;
				row.succeeded = Math.min(row.succeeded, succeeded, accepted);
				row.refused429.push(refused);
				row.maxInFlight = Math.max(row.maxInFlight, stats.maxInFlight);
				row.maxAdmitted = Math.max(row.maxAdmitted, stats.maxAdmitted);
				log(`limited (plan ${PLAN_LIMIT}) c=${concurrency} rep ${rep + 1}/${reps}: ${succeeded}/${ITEMS} ok, ${refused} x 429, node ${fmt(row.nodeMs[row.nodeMs.length - 1] ?? Number.NaN, 0)} ms, in flight ${stats.maxInFlight} attempted / ${stats.maxAdmitted} admitted`);
			}
			limited.push(row);
		}
	} finally {
		await planSandbox.stop();
		await cleanupHarness();
	}

	return { reps, rows, limited, references, figures: figures(rows, limited, references) };
}

function figures(rows: ThroughputRow[], limited: LimitedRow[], references: ReferenceRow[]): Figure[] {
	const out: Figure[] = [];
	for (const row of rows) {
		const gated = row.concurrency >= 5;
		out.push({
			section: 'throughput',
			figure: `c=${row.concurrency}: node time (wall), ratio to ideal ${fmt(row.idealMs / 1000, 1)} s`,
			measured: `${fmt(median(row.nodeMs) / 1000, 2)} s (${fmt(median(row.wallMs) / 1000, 2)} s), ${fmt(row.ratio * 100, 1)} %`,
			target: gated ? `≥ ${TARGET_RATIO * 100} %` : '—',
			pass: gated ? row.ratio >= TARGET_RATIO : undefined,
		});
		out.push({
			section: 'throughput',
			figure: `c=${row.concurrency}: max in flight at the sandbox`,
			measured: String(row.maxInFlight),
			target: `≤ ${row.concurrency}`,
			pass: row.maxInFlight <= row.concurrency,
		});
	}
	for (const row of references) {
		const ideal = (ITEMS * LATENCY_MS) / row.concurrency;
		out.push({
			section: 'throughput',
			figure: `reference c=${row.concurrency} (info): bare form-data POSTs / minimal n8n node, ratio to ideal`,
			measured: `${fmt((ideal / median(row.bareMs)) * 100, 1)} % / ${fmt((ideal / median(row.minimalMs)) * 100, 1)} %`,
			target: '—',
		});
	}
	for (const row of limited) {
		out.push({
			section: 'throughput',
			figure: `plan limit ${PLAN_LIMIT}, c=${row.concurrency}: items succeeded (429s, time)`,
			measured: `${row.succeeded}/${ITEMS} (${fmt(median(row.refused429), 0)} × 429, ${fmt(median(row.nodeMs) / 1000, 2)} s)`,
			target: `${ITEMS}/${ITEMS}`,
			pass: row.succeeded === ITEMS,
		});
		out.push({
			section: 'throughput',
			figure: `plan limit ${PLAN_LIMIT}, c=${row.concurrency}: max in flight attempted / admitted`,
			measured: `${row.maxInFlight} / ${row.maxAdmitted}`,
			target: `≤ ${row.concurrency} / ≤ ${PLAN_LIMIT}`,
			pass: row.maxInFlight <= row.concurrency && row.maxAdmitted <= PLAN_LIMIT,
		});
	}
	return out;
}
