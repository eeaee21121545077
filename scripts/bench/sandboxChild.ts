/**
 * The Faseeh sandbox in its own process, driven over IPC by the benchmark (see sandboxClient.ts).
 *
 * Why a separate process: the sandbox parses and hashes every multipart body. In the bench
 * process that CPU work would run on the same event loop as the node under test (slowing it and
 * blurring its timings), and in the memory benchmark its 200 MiB body buffer must not be counted.
 *
 * Messages in:  { type: 'start', options } | { type: 'stats' } | { type: 'reset' } | { type: 'stop' }
 * Messages out: { type: 'started', baseUrl, apiKey } | { type: 'stats', stats } | { type: 'reset' }
 *               | { type: 'stopped' } | { type: 'error', message }
 */
import type { FaseehSandboxOptions, RecordedRequest } from '../../test/sandbox/FaseehSandbox';
import { FaseehSandbox } from '../../test/sandbox/FaseehSandbox';

/** What the parent learns about each finished request (no part bytes, no headers: no key). */
export interface RequestSummary {
	method: string;
	path: string;
	status?: number;
	aborted?: boolean;
	durationMs?: number;
	/** When it finished (Date.now() in the sandbox process; same clock as the bench). */
	endedAt?: number;
	contentLength?: number;
	chunked: boolean;
	bodySize: number;
	parseError?: string;
	parts?: Array<{ name: string; filename?: string; contentType?: string; size: number; sha256: string }>;
	fields?: Record<string, string>;
}

export interface SandboxStats {
	/** Most requests in flight at once, as seen by the sandbox (admitted or refused with 429). */
	maxInFlight: number;
	/** Most requests admitted (being served, not refused with 429) at once. */
	maxAdmitted: number;
	requests: RequestSummary[];
}

export type ChildOptions = Omit<FaseehSandboxOptions, 'onRequestDone'>;

let sandbox: FaseehSandbox | undefined;
let finished: RequestSummary[] = [];

function summarise(request: RecordedRequest): RequestSummary {
	return {
		method: request.method,
		path: request.path,
		status: request.status,
		aborted: request.aborted,
		durationMs: request.durationMs,
		endedAt: Date.now(),
		contentLength: request.contentLength,
		chunked: request.chunked,
		bodySize: request.bodySize,
		parseError: request.parseError,
		parts: request.parts?.map((part) => ({
			name: part.name,
			filename: part.filename,
			contentType: part.contentType,
			size: part.size,
			sha256: part.sha256,
		})),
		fields: request.fields,
	};
}

function send(message: unknown): void {
	process.send?.(message);
}

async function onMessage(message: { type: string; options?: ChildOptions }): Promise<void> {
	switch (message.type) {
		case 'start': {
			sandbox = new FaseehSandbox({
				// A server's response time includes making its answer (the audio it synthesizes): without
				// this, each 5 s piece added ~6 ms of sandbox CPU after the latency, and at plan 5 the
				// sandbox and n8n contending for this machine's 2 cores added ~25 ms per request.
				answerWithinLatency: true,
				...message.options,
				// The bench only needs sizes and hashes; keeping part bytes would grow this process.
				keepPartData: false,
				// The parent keeps the summaries; the sandbox's own list stays short.
				maxRecorded: 50,
				onRequestDone: (request) => finished.push(summarise(request)),
			});
			const baseUrl = await sandbox.start();
			send({ type: 'started', baseUrl, apiKey: sandbox.apiKey });
			return;
		}
		case 'stats': {
			const stats: SandboxStats = {
				maxInFlight: sandbox?.maxInFlight ?? 0,
				maxAdmitted: sandbox?.maxAdmitted ?? 0,
				requests: finished,
			};
			send({ type: 'stats', stats });
			return;
		}
		case 'reset': {
			sandbox?.reset();
			finished = [];
			send({ type: 'reset' });
			return;
		}
		case 'stop': {
			await sandbox?.stop();
			// Disconnect only once the reply is out; the 'disconnect' handler then exits.
			process.send?.({ type: 'stopped' }, undefined, {}, () => process.disconnect?.());
			return;
		}
		default:
			send({ type: 'error', message: `unknown message ${message.type}` });
	}
}

process.on('message', (message: { type: string; options?: ChildOptions }) => {
	onMessage(message).catch((error: Error) => send({ type: 'error', message: error.message }));
});
// The parent going away (crash, Ctrl-C) must not leave this server running.
process.on('disconnect', () => {
	void (sandbox?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
});
