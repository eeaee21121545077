/**
 * Overhead: per-item time of the Faseeh Voice Clone node (concurrency 1, sandbox answering at once)
 * against a bare `form-data` POST of the same parts from this same process.
 */
import * as fs from 'node:fs';

import { cleanupHarness } from '../../test/harness/n8nHarness';
import type { BareClient, BareFiles } from './bare';
import { bareBatch, runMinimalNode, writeBareFiles } from './bare';
import type { Figure } from './common';
import { assertAllCloned, cloneItems, clones, fmt, log, median, runCloneNode } from './common';
import type { RemoteSandbox } from './sandboxClient';
import { startRemoteSandbox } from './sandboxClient';

export const OVERHEAD_ITEMS = 200;
export const TARGET_RATIO = 1.1;
/** The second measurement: the sandbox answering after this long, as in the throughput section. */
export const OVERHEAD_LATENCY_MS = 100;
export const OVERHEAD_LATENCY_ITEMS = 50;

type Contender = 'node' | 'minimal' | BareClient;
const CONTENDERS: Contender[] = ['node', 'http', 'httpNewConnection', 'axios', 'minimal'];

export interface OverheadResult {
	items: number;
	rounds: number;
	/** Per-item ms of each round, per contender. */
	perItemMs: Record<Contender, number[]>;
	/** CPU ms of this process per item (user + system, all threads), per round. */
	cpuMs: Record<Contender, number[]>;
	/** node / bare http (the target), sandbox answering at once. */
	ratio: number;
	/** Per-item ms of node and bare http per round with the sandbox answering after OVERHEAD_LATENCY_MS. */
	withLatencyMs: { node: number[]; http: number[] };
	/** node / bare http with that latency. */
	ratioWithLatency: number;
	figures: Figure[];
}

/** Per-item wall and CPU ms of one batch of `count` items, sequential. */
async function timeOne(contender: Contender, sandbox: RemoteSandbox, files: BareFiles, count: number): Promise<{ wall: number; cpu: number }> {
	if (contender === 'node' || contender === 'minimal') {
		// Built before the clock starts: the fixture node writes the binaries inside the run,
		// but the per-item time is n8n's executionTime of the node alone.
		const items = cloneItems(count);
		const cpu = process.cpuUsage();
		let nodeMs: number;
		if (contender === 'node') {
			const run = await runCloneNode(sandbox, items, { concurrency: 1 });
			assertAllCloned(run, count);
			nodeMs = run.nodeMs;
		} else {
			nodeMs = await runMinimalNode(sandbox, items, 1);
		}
		const used = process.cpuUsage(cpu);
		// CPU of the whole harness run includes the fixture node writing the binaries: an upper
		// bound, reported for the analysis only.
		return { wall: nodeMs / count, cpu: (used.user + used.system) / 1000 / count };
	}
	const cpu = process.cpuUsage();
	const wall = await bareBatch(contender, sandbox, files, count, 1);
	const used = process.cpuUsage(cpu);
	return { wall: wall / count, cpu: (used.user + used.system) / 1000 / count };
}

export async function runOverhead(rounds: number): Promise<OverheadResult> {
	const files = writeBareFiles();
	const sandbox = await startRemoteSandbox({ latencyMs: 0 });
	const empty = () => Object.fromEntries(CONTENDERS.map((contender) => [contender, [] as number[]])) as Record<Contender, number[]>;
	const result: OverheadResult = {
		items: OVERHEAD_ITEMS,
		rounds,
		perItemMs: empty(),
		cpuMs: empty(),
		ratio: Number.NaN,
		withLatencyMs: { node: [], http: [] },
		ratioWithLatency: Number.NaN,
		figures: [],
	};
	try {
		// Warm-up of every path (JIT, module loading, first connections).
		for (const contender of CONTENDERS) await timeOne(contender, sandbox, files, 20);
		await sandbox.reset();

		for (let round = 0; round < rounds; round++) {
			// Alternate the order so slow drift (GC, JIT, disk cache) does not favour one side.
			const order = round % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse();
			for (const contender of order) {
				const timed = await timeOne(contender, sandbox, files, OVERHEAD_ITEMS);
				result.perItemMs[contender].push(timed.wall);
				result.cpuMs[contender].push(timed.cpu);
			}
			const stats = await sandbox.stats();
			const accepted = clones(stats.requests).filter((request) => request.status === 200).length;
			const expected = CONTENDERS.length * OVERHEAD_ITEMS;
			if (accepted !== expected) throw new Error(`sandbox accepted ${accepted} clones in round ${round + 1}, expected ${expected}`);
			await sandbox.reset();
			log(
				`overhead round ${round + 1}/${rounds}: ${CONTENDERS.map((contender) => `${contender} ${fmt(result.perItemMs[contender][round], 2)}`).join(', ')} ms/item`,
			);
		}
	} finally {
		await sandbox.stop();
	}

	// The same two contenders against a sandbox that answers after 100 ms, as a real API does
	// after some time: what the node adds to a request that takes time.
	const slowSandbox = await startRemoteSandbox({ latencyMs: OVERHEAD_LATENCY_MS });
	try {
		const latencyRounds = Math.min(rounds, 3);
		for (let round = 0; round < latencyRounds; round++) {
			const order: Array<'node' | 'http'> = round % 2 === 0 ? ['node', 'http'] : ['http', 'node'];
			for (const contender of order) {
				const timed = await timeOne(contender, slowSandbox, files, OVERHEAD_LATENCY_ITEMS);
				result.withLatencyMs[contender].push(timed.wall);
			}
			const accepted = clones((await slowSandbox.stats()).requests).filter((request) => request.status === 200).length;
			if (accepted !== 2 * OVERHEAD_LATENCY_ITEMS) throw new Error(`sandbox accepted ${accepted} clones, expected ${2 * OVERHEAD_LATENCY_ITEMS}`);
			await slowSandbox.reset();
			log(`overhead with ${OVERHEAD_LATENCY_MS} ms latency, round ${round + 1}/${latencyRounds}: node ${fmt(result.withLatencyMs.node[round], 2)}, http ${fmt(result.withLatencyMs.http[round], 2)} ms/item`);
		}
	} finally {
		await slowSandbox.stop();
		await cleanupHarness();
		fs.rmSync(files.dir, { recursive: true, force: true });
	}
	result.ratioWithLatency = median(result.withLatencyMs.node) / median(result.withLatencyMs.http);

	const per = (contender: Contender) => median(result.perItemMs[contender]);
	result.ratio = per('node') / per('http');
	const info = (figure: string, contender: Contender): Figure => ({
		section: 'overhead',
		figure,
		measured: `${fmt(per(contender), 2)} ms (node / this = ${fmt(per('node') / per(contender), 2)}×)`,
		target: '—',
	});
	result.figures = [
		{
			section: 'overhead',
			figure: 'sandbox answering at once: node per item / bare form-data POST per item (node http, keep-alive)',
			measured: `${fmt(per('node'), 2)} ms / ${fmt(per('http'), 2)} ms = ${fmt(result.ratio, 2)}×`,
			target: `≤ ${TARGET_RATIO}×`,
			pass: result.ratio <= TARGET_RATIO,
		},
		{
			section: 'overhead',
			figure: `sandbox answering after ${OVERHEAD_LATENCY_MS} ms: node per item / bare form-data POST per item`,
			measured: `${fmt(median(result.withLatencyMs.node), 2)} ms / ${fmt(median(result.withLatencyMs.http), 2)} ms = ${fmt(result.ratioWithLatency, 3)}×`,
			target: `≤ ${TARGET_RATIO}×`,
			pass: result.ratioWithLatency <= TARGET_RATIO,
		},
		info('bare POST, new connection per request (info)', 'httpNewConnection'),
		info('bare POST with axios (info)', 'axios'),
		info('minimal n8n node: helpers.httpRequest only (info)', 'minimal'),
	];
	return result;
}
