/**
 * A local, strict stand-in for the Faseeh REST API (see shared/faseeh-api.md sections 2-4).
 *
 * Used by the jest wire tests, the end-to-end suite, `npm run sandbox` and benchmarks. It answers
 * only what the contract documents and rejects everything else with the documented error shape,
 * records every request for assertions, and can inject faults, latency and a concurrency limit.
 *
 * This file is the request pipeline; the concerns live beside it: admission.ts (404/401/429 at
 * arrival), faults.ts, body.ts (reading and recording bodies), endpoints.ts (routes and their
 * state), validation.ts, responses.ts, errors.ts, catalog.ts (models, voices, synthetic speech).
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Admission } from './admission';
import { DEFAULT_MAX_BODY, readBody, recordBody } from './body';
import { SandboxApi } from './endpoints';
import { ApiError, errorBody, type ErrorBody } from './errors';
import { FaultQueue, sendFault } from './faults';
import { sendAudio, sendJson, type Reply } from './responses';
import { API_PREFIX, type FaseehSandboxOptions, type Fault, type RecordedRequest, type Voice } from './types';

export type { FaseehSandboxOptions, Fault, Model, RecordedPart, RecordedRequest, Voice } from './types';
export { API_PREFIX, PCM_CONTENT_TYPE } from './types';
export { SANDBOX_MODELS } from './catalog';

export class FaseehSandbox {
	readonly apiKey: string;
	baseUrl = '';
	readonly requests: RecordedRequest[] = [];
	inFlight = 0;
	maxInFlight = 0;
	/** Most requests admitted (being served, not answered by an early 401/404/429) at once. */
	maxAdmitted = 0;

	private readonly opts: FaseehSandboxOptions;
	private server?: http.Server;
	private readonly sockets = new Set<Socket>();
	private readonly faults = new FaultQueue();
	private readonly admission: Admission;
	private readonly api: SandboxApi;
	private readonly sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

	constructor(options: FaseehSandboxOptions = {}) {
		this.opts = options;
		this.apiKey = options.apiKey ?? 'sandbox-key';
		this.admission = new Admission(this.apiKey, options.maxConcurrent, options.retryAfterSeconds);
		this.api = new SandboxApi({
			voicesRoute: options.voicesRoute,
			textFieldsFirst: options.textFieldsFirst,
			streamingSampleRate: options.streamingSampleRate,
			ttsTextMinimum: options.ttsTextMinimum,
			stt: { routes: options.sttRoutes, bareBody: options.sttBareBody, successStatus: options.sttSuccessStatus, timestamps: options.sttTimestamps },
		});
	}

	start(): Promise<string> {
		if (this.server) return Promise.reject(new Error('FaseehSandbox already started'));
		// requestTimeout 0: slow benchmark uploads must not be cut by node's 300 s default.
		const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
			this.handle(req, res).catch(() => {
				// A bug in the sandbox must still produce an answer, never a hung test.
				if (!res.headersSent && !res.destroyed) sendJson(res, 500, this.errBody(50001, 'Internal sandbox error'));
				else res.destroy();
			});
		});
		server.on('connection', (socket: Socket) => {
			this.sockets.add(socket);
			socket.on('close', () => this.sockets.delete(socket));
		});
		this.server = server;
		const host = this.opts.host ?? '127.0.0.1';
		return new Promise((resolve, reject) => {
			server.once('error', reject);
			server.listen(this.opts.port ?? 0, host, () => {
				server.off('error', reject);
				const { port } = server.address() as AddressInfo;
				this.baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}${API_PREFIX}`;
				this.api.baseUrl = this.baseUrl;
				resolve(this.baseUrl);
			});
		});
	}

	async stop(): Promise<void> {
		const server = this.server;
		if (!server) return;
		this.server = undefined;
		for (const sleeper of this.sleepers) {
			clearTimeout(sleeper.timer);
			sleeper.resolve();
		}
		this.sleepers.clear();
		await new Promise<void>((resolve) => {
			server.close(() => resolve());
			// Destroying is what ends keep-alive and hung connections; close() alone would wait.
			for (const socket of this.sockets) socket.destroy();
		});
	}

	reset(): void {
		this.requests.length = 0;
		this.maxInFlight = this.inFlight;
		this.maxAdmitted = this.admission.count;
		this.faults.clear();
		this.api.reset();
	}

	inject(fault: Fault): void {
		this.faults.add(fault);
	}

	/** The preview this sandbox produced whose PCM, or PCM wrapped as WAV, has this sha256. */
	knownPreview(sha256Hex: string): { text: string; modelId: string } | undefined {
		return this.api.knownPreview(sha256Hex);
	}

	voices(): Voice[] {
		return this.api.voices();
	}

	/** The transcript this sandbox gives (or gave) the audio with this sha256. */
	transcriptFor(sha256Hex: string): string {
		return this.api.stt.transcriptFor(sha256Hex);
	}

	/** Transcripts answered since the last reset, by sha256 of the uploaded file. */
	transcripts(): Map<string, string> {
		return new Map(this.api.stt.transcripts);
	}

	// ---------------------------------------------------------------- request pipeline

	private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const started = Date.now();
		const arrivedAt = performance.now();
		const method = req.method ?? 'GET';
		const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
		const rec = this.record(req, method, url);

		this.inFlight++;
		this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
		let admitted = false;
		let done = false;
		const finish = () => {
			if (done) return;
			done = true;
			this.inFlight--;
			if (admitted) this.admission.release();
			if (res.writableFinished) rec.status = res.statusCode;
			else rec.aborted = true;
			rec.durationMs = Date.now() - started;
			this.opts.onRequestDone?.(rec);
		};
		res.on('finish', finish);
		res.on('close', finish);

		// Everything after /api/v1; undefined for paths outside the API.
		const sub =
			url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)
				? url.pathname.slice(API_PREFIX.length) || '/'
				: undefined;

		// Decide at arrival (headers): faults, then 404 outside the API, 401, 429.
		const fault = this.faults.take(method, sub);
		const early = fault ? undefined : this.admission.check(req, method, sub);
		if (!early) {
			admitted = true;
			this.admission.admit();
			this.maxAdmitted = Math.max(this.maxAdmitted, this.admission.count);
		}

		if (fault?.kind === 'reset' && !fault.afterBytes) {
			req.socket.destroy();
			return;
		}
		const resetAfter = fault?.kind === 'reset' ? fault.afterBytes : undefined;
		const body = await readBody(req, rec, this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY, resetAfter);
		if (!body.complete) return; // connection gone (client abort or reset fault)
		const ctx = recordBody(req, rec, body.data, this.opts.keepPartData ?? true);

		if (fault?.kind === 'hang') return; // never answer; stop() destroys the socket
		if (fault?.kind === 'reset') {
			// The body was shorter than afterBytes: reset once it is all in.
			req.socket.destroy();
			return;
		}

		const answer = (): Reply | ApiError => {
			try {
				return this.api.route(method, sub ?? '/', ctx);
			} catch (err) {
				if (err instanceof ApiError) return err;
				throw err;
			}
		};
		const routed = !fault && !early && !body.tooLarge;
		let reply = routed && this.opts.answerWithinLatency ? answer() : undefined;
		if (this.opts.latencyMs) {
			const remaining = this.opts.latencyMs - (performance.now() - arrivedAt);
			if (remaining > 0) await this.sleep(remaining);
		}
		if (res.destroyed || res.writableEnded) return;

		if (fault) return sendFault(res, fault, (code, message) => this.errBody(code, message), this.admission.retryAfterHeader());
		if (early) return this.sendError(res, early);
		if (body.tooLarge) return this.sendError(res, new ApiError(413, 41301, 'Payload too large'));

		reply ??= answer();
		if (reply instanceof ApiError) return this.sendError(res, reply);
		if (reply.kind === 'json') return sendJson(res, reply.status, reply.body);
		await sendAudio(res, reply);
	}

	/** Records the request as it arrives (the body's size, parts and status are filled in later). */
	private record(req: http.IncomingMessage, method: string, url: URL): RecordedRequest {
		const contentLengthHeader = req.headers['content-length'];
		const rec: RecordedRequest = {
			method,
			path: url.pathname,
			query: Object.fromEntries(url.searchParams),
			headers: { ...req.headers },
			chunked: /\bchunked\b/i.test(req.headers['transfer-encoding'] ?? ''),
			bodySize: 0,
		};
		if (contentLengthHeader !== undefined) rec.contentLength = Number(contentLengthHeader);
		this.requests.push(rec);
		if (this.opts.maxRecorded !== undefined && this.requests.length > this.opts.maxRecorded) {
			this.requests.splice(0, this.requests.length - this.opts.maxRecorded);
		}
		return rec;
	}

	private errBody(code: number, message: string): ErrorBody {
		return errorBody(code, message, this.opts.errorCodeAsString);
	}

	private sendError(res: http.ServerResponse, err: ApiError): void {
		sendJson(res, err.status, this.errBody(err.code, err.message), err.headers);
	}

	private sleep(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const sleeper = {
				timer: setTimeout(() => {
					this.sleepers.delete(sleeper);
					resolve();
				}, ms),
				resolve,
			};
			this.sleepers.add(sleeper);
		});
	}
}
