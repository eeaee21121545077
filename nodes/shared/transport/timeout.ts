import type FormData from 'form-data';
import { sleep } from 'n8n-workflow';

/** Which part of a request ran out of time. */
export type TimeoutPhase = 'upload' | 'answer';

/**
 * Options → Timeout as one thing on every n8n version: seconds without progress. While a streamed
 * body is uploading, progress is bytes read from it (a slow link that keeps sending never times
 * out; a stalled one does); once the body has been read (at once for a JSON body), it is the wait
 * for the answer. n8n's own HTTP timeout differs per version (1.x: socket idle time; 2.x: from the
 * request's start, the upload included), so it is only set far above this as a backstop.
 *
 * Checks every quarter of the timeout (at most every 250 ms) with n8n's `sleep`: one timer at a
 * time however fast the upload's chunks come.
 */
export class ProgressTimeout {
	private lastProgressAt = Date.now();
	private stopped = false;
	private bodyDone: boolean;
	/** Resolves with the phase that ran out of time; never resolves once stopped. */
	readonly expired: Promise<TimeoutPhase>;

	constructor(
		private readonly timeoutMs: number,
		body: unknown,
	) {
		const form = isStream(body) ? body : undefined;
		this.bodyDone = form === undefined;
		if (form) {
			form.on('data', () => {
				this.lastProgressAt = Date.now();
			});
			form.on('end', () => {
				this.bodyDone = true;
				this.lastProgressAt = Date.now();
			});
		}
		this.expired = this.watch();
	}

	/** The whole body was handed to the connection (a JSON body: from the start). */
	get uploadFinished(): boolean {
		return this.bodyDone;
	}

	stop(): void {
		this.stopped = true;
	}

	private async watch(): Promise<TimeoutPhase> {
		const step = Math.max(10, Math.min(250, this.timeoutMs / 4));
		for (;;) {
			await sleep(step);
			if (this.stopped) return await new Promise<never>(() => {});
			if (Date.now() - this.lastProgressAt >= this.timeoutMs) return this.bodyDone ? 'answer' : 'upload';
		}
	}
}

/** n8n's own HTTP timeout: the node's Timeout plus an hour, so only a request that hangs for good meets it. */
export function backstopTimeoutMs(timeoutSeconds: number): number {
	return (timeoutSeconds + 3600) * 1000;
}

function isStream(body: unknown): body is FormData {
	return typeof body === 'object' && body !== null && typeof (body as { on?: unknown }).on === 'function' && typeof (body as { pipe?: unknown }).pipe === 'function';
}
