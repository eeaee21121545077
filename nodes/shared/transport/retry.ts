import { sleep } from 'n8n-workflow';

/** Server errors and dropped connections (when the request allows retrying them): tries after the first. */
export const MAX_RETRIES = 6;
/** Options → Max Wait on Concurrency Limit: how long 429s are waited out by default, in seconds. */
export const DEFAULT_RATE_LIMIT_WAIT_SECONDS = 300;
const MAX_DELAY_MS = 60_000;

/**
 * Delay before retry `attempt` (1-based). With Retry-After: at least that long, plus up to half of
 * it again (at least 250 ms of spread), so executions told the same delay do not come back in
 * lockstep. Otherwise exponential with "equal jitter": between half and all of 250 ms × 2^(n-1),
 * up to 8 s.
 */
export function retryDelayMs(attempt: number, retryAfterSeconds?: number, random: () => number = Math.random): number {
	if (retryAfterSeconds !== undefined) {
		const base = Math.min(MAX_DELAY_MS, retryAfterSeconds * 1000);
		return Math.round(base + random() * Math.max(250, base / 2));
	}
	const ceiling = Math.min(8_000, 250 * 2 ** (attempt - 1));
	return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
	if (value === undefined || value.trim() === '') return undefined;
	if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
	const date = Date.parse(value);
	return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}

/**
 * Waits `ms`; resolves false at once if any of the signals aborts (true after a full wait). n8n
 * 2.x's `sleep(ms, signal)` clears its timer on abort; 1.x's ignores the signal, so the abort is
 * also raced here (on 1.x the timer then runs out unobserved).
 */
export async function waitUnlessAborted(
	ms: number,
	signals: AbortSignal | ReadonlyArray<AbortSignal | undefined> | undefined,
): Promise<boolean> {
	const watched = (Array.isArray(signals) ? signals : [signals]).filter(
		(signal): signal is AbortSignal => signal !== undefined,
	);
	if (watched.some((signal) => signal.aborted)) return false;
	if (watched.length === 0) {
		await sleep(ms);
		return true;
	}
	const stop = new AbortController();
	const onAbort = () => stop.abort();
	for (const signal of watched) signal.addEventListener('abort', onAbort, { once: true });
	const aborted = new Promise<boolean>((resolve) => stop.signal.addEventListener('abort', () => resolve(false), { once: true }));
	try {
		return await Promise.race([sleep(ms, stop.signal).then(() => true, () => false), aborted]);
	} finally {
		for (const signal of watched) signal.removeEventListener('abort', onAbort);
		stop.abort();
	}
}
