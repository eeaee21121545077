import { sleep } from 'n8n-workflow';

/**
 * Longest stretch of synchronous encoding work before the encoder gives the event loop a turn.
 * A unit of work (one MP3 piece of 4 608 samples, one 20 ms Opus frame, one resampled piece) takes
 * well under 2 ms here, so a block stays near this budget.
 */
export const SLICE_BUDGET_MS = 10;

/**
 * Lets n8n breathe while an encoder works: `pause()` yields (a timer turn, so I/O callbacks and
 * other executions run) once `SLICE_BUDGET_MS` of work has passed since the last yield. The budget
 * spans calls: an encoder fed in a tight loop of already-resolved writes still yields.
 * `sleep(0)` from n8n-workflow is a `setTimeout(0)`: the node rules forbid `setImmediate` in node
 * code, and one timer turn (about 1 ms) per 10 ms of work costs little.
 */
export class Slicer {
	private since = performance.now();

	/** Yields if the budget is spent (or always, with `now`). */
	async pause(now = false): Promise<void> {
		if (!now && performance.now() - this.since < SLICE_BUDGET_MS) return;
		await sleep(0);
		this.since = performance.now();
	}
}
