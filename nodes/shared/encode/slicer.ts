import { sleep } from 'n8n-workflow';

/**
 * Longest stretch of synchronous encoding work before the encoder gives the event loop a turn.
 * A unit of work (one MP3 piece of 4 608 samples, one 20 ms Opus frame, one resampled piece) takes
 * well under 2 ms here, so a block stays near this budget.
 */
export const SLICE_BUDGET_MS = 10;

/**
 * One run queue for every encoder of the process. The budget is the process's, not an encoder's:
 * with a budget per encoder, ten items encoding at once each took their 10 ms in the same turn of
 * the event loop (their timers all fall due together), so a socket waited 100-570 ms (measured
 * with a TCP echo beside 10 busy encoders; 23 ms with this queue, for 4 % more wall time).
 *
 * An encoder whose slice is spent waits in line; each timer turn resumes exactly one, which then
 * has the budget to itself, and the next timer is armed before it works, so it falls due in a
 * later turn, after I/O has run. Work that starts from an I/O callback (a new chunk of speech)
 * finds the last turn's clock stale and yields after its first unit.
 */
const waiting: Array<() => void> = [];
let timerArmed = false;
/** performance.now() when the current turn of encoding work began. */
let turnStartedAt = 0;

function armTimer(): void {
	if (timerArmed || waiting.length === 0) return;
	timerArmed = true;
	// `sleep(0)` from n8n-workflow is a `setTimeout(0)`: the node rules forbid `setImmediate` in
	// node code, and one timer turn (about 1 ms) per 10 ms of work costs little.
	void sleep(0).then(() => {
		timerArmed = false;
		const next = waiting.shift();
		turnStartedAt = performance.now();
		armTimer();
		next?.();
	});
}

function nextTurn(): Promise<void> {
	return new Promise((resolve) => {
		waiting.push(resolve);
		armTimer();
	});
}

/**
 * Lets n8n breathe while encoders work: `pause()` waits for a turn of the process's run queue
 * once SLICE_BUDGET_MS of encoding work has run since the current turn began (whichever encoder
 * did it). An encoder fed in a tight loop of already-resolved writes still yields.
 */
export class Slicer {
	/** Yields if the process's budget is spent (or always, with `now`). */
	async pause(now = false): Promise<void> {
		if (!now && performance.now() - turnStartedAt < SLICE_BUDGET_MS) return;
		await nextTurn();
	}
}
