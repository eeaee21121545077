/**
 * A local, strict stand-in for the Faseeh REST API (see shared/faseeh-api.md sections 2-4).
 *
 * Used by the jest wire tests, the end-to-end suite, `npm run sandbox` and benchmarks. It answers
 * only what the contract documents and rejects everything else with the documented error shape,
 * records every request for assertions, and can inject faults, latency and a concurrency limit.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { makePcm16, sniffAudio, wrapWav } from './audio';
import { MultipartError, parseHeaderValue, parseMultipart, type MultipartPart } from './multipart';

export interface FaseehSandboxOptions {
	/** Default 'sandbox-key'. Every /api/v1 route except /samples requires x-api-key === apiKey. */
	apiKey?: string;
	/** Default '127.0.0.1'. */
	host?: string;
	/** Default 0 (ephemeral). */
	port?: number;
	/**
	 * Each answer is sent this long after its request arrived (or once its body is read and
	 * checked, if that takes longer): a server whose response time is latencyMs. The sandbox's own
	 * parsing happens inside that time instead of adding to it.
	 */
	latencyMs?: number;
	/** A request arriving while this many are being served gets 429 / 42901. */
	maxConcurrent?: number;
	/** If set, every 429 carries `Retry-After: <value>`. */
	retryAfterSeconds?: number;
	/** Default true; false => GET /voices answers 404 (a host without that route). */
	voicesRoute?: boolean;
	/** Default false; true => errorCode values are strings ("40001"), as some doc pages show. */
	errorCodeAsString?: boolean;
	/** Default true; false => recorded parts keep size/sha256 but an empty `data` (big uploads). */
	keepPartData?: boolean;
	/** Body limit, default 512 MiB; larger bodies are drained and answered 413 / 41301. */
	maxBodyBytes?: number;
	/** Keep only the last N recorded requests (default: all). For long-running use (CLI). */
	maxRecorded?: number;
	/** Called once per request when it is finished (answered, aborted or reset). */
	onRequestDone?: (request: RecordedRequest) => void;
}

export interface RecordedPart {
	name: string;
	filename?: string;
	contentType?: string;
	size: number;
	sha256: string;
	/** The part's bytes; empty when keepPartData is false. */
	data: Buffer;
}

export interface RecordedRequest {
	method: string;
	/** URL path as received (still percent-encoded), without the query string. */
	path: string;
	query: Record<string, string>;
	/** Raw node headers (lowercase names). */
	headers: Record<string, string | string[] | undefined>;
	/** From the Content-Length header, if present. */
	contentLength?: number;
	/** Transfer-Encoding: chunked. */
	chunked: boolean;
	/** Bytes of body actually received. */
	bodySize: number;
	parts?: RecordedPart[];
	/** Text parts (no filename) decoded as UTF-8; first occurrence wins when a name repeats. */
	fields?: Record<string, string>;
	/** Parsed body of application/json requests. */
	json?: unknown;
	/** Why a multipart or JSON body could not be parsed (the request still gets recorded). */
	parseError?: string;
	/** Status answered; set when the response finished. */
	status?: number;
	/** The connection closed before a response finished (client abort, or a reset/hang fault). */
	aborted?: boolean;
	/** Milliseconds from arrival until finished or closed. */
	durationMs?: number;
}

type FaultBase = {
	/** 'METHOD /path' after /api/v1, e.g. 'POST /voices/clone'; ':name' segments match any. Omitted = any. */
	route?: string;
	/** How many matching requests it applies to; default 1. */
	times?: number;
};

export type Fault = FaultBase &
	(
		| {
				kind: 'status';
				status: number;
				/** JSON-encoded if not a string/Buffer; default: the documented error body for the status. */
				body?: unknown;
				contentType?: string;
				headers?: Record<string, string>;
		  }
		| { kind: 'hang' }
		| { kind: 'reset'; afterBytes?: number }
		| { kind: 'redirect'; location: string; status?: number }
		| { kind: 'raw'; status: number; contentType: string; body: string | Buffer }
	);

export interface Voice {
	id: string;
	voice_id: string;
	name: string;
	description: string | null;
	gender: string | null;
	age: string | null;
	languages: string[];
	dialect: string[];
	type: string | null;
	sample_url: string;
	avatar_url: string | null;
	stability: number;
}

export interface Model {
	id: string;
	model_id: string;
	model_name: string;
	cost: number;
	description: string | null;
}

export const API_PREFIX = '/api/v1';
export const PCM_CONTENT_TYPE = 'audio/raw;codec=pcm16;rate=24000;channels=1';
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
const DEFAULT_MAX_BODY = 512 * 1024 * 1024;
// Odd sizes first so chunk boundaries fall mid-sample, as the real streaming endpoints do.
const CHUNK_SIZES = [1001, 4096, 2731, 8192];

/** A deterministic UUID (v4 layout) so stock ids are stable across runs and instances. */
function stableUuid(seed: string): string {
	const h = createHash('sha256').update(seed).digest('hex');
	const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function sha256(data: Buffer): string {
	return createHash('sha256').update(data).digest('hex');
}

export const SANDBOX_MODELS: readonly Model[] = [
	{
		id: stableUuid('model:faseeh-v1-preview'),
		model_id: 'faseeh-v1-preview',
		model_name: 'Faseeh V1 Preview',
		cost: 0.0001,
		description: 'Full-quality Arabic text-to-speech model (sandbox).',
	},
	{
		id: stableUuid('model:faseeh-mini-v1-preview'),
		model_id: 'faseeh-mini-v1-preview',
		model_name: 'Faseeh Mini V1 Preview',
		cost: 0.00005,
		description: 'Faster, lighter Arabic text-to-speech model (sandbox).',
	},
];

type StockVoice = Omit<Voice, 'sample_url'>;

function stock(voiceId: string, name: string, gender: string, dialect: string): StockVoice {
	return {
		id: stableUuid(`voice:${voiceId}`),
		voice_id: voiceId,
		name,
		description: `${name} (${dialect} ${gender}, sandbox stock voice)`,
		gender,
		age: 'middle',
		languages: ['ar'],
		dialect: [dialect],
		type: 'neural',
		avatar_url: null,
		stability: 0.5,
	};
}

const STOCK_VOICES: readonly StockVoice[] = [
	stock('ar-najdi-male-2', 'Fahad', 'male', 'najdi'),
	stock('ar-hijazi-female-2', 'Hijazi Female 2', 'female', 'hijazi'),
	stock('ar-uae-male-1', 'Emirati Male 1', 'male', 'emirati'),
	stock('ar-hijazi-female-1', 'Lama', 'female', 'hijazi'),
];

/** A validation or routing failure answered with the documented error body. */
class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly code: number,
		message: string,
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}
}

const bad = (message: string) => new ApiError(400, 40001, message);
const notFound = (message = 'Not found') => new ApiError(404, 40401, message);

/** Default bodies for status faults without an explicit body. */
const DEFAULT_ERRORS: Record<number, [number, string]> = {
	400: [40001, 'Validation error'],
	401: [40101, 'Invalid or missing API key'],
	402: [40201, 'Insufficient wallet balance. Required: $0.05, Available: $0.02'],
	403: [40301, 'Model not enabled for this account'],
	404: [40401, 'Not found'],
	413: [41301, 'Payload too large'],
	429: [42901, 'Concurrency limit exceeded. Current: 2, Maximum: 2'],
	500: [50001, 'Internal server error'],
};

interface ParsedPart extends MultipartPart {
	sha256: string;
}

interface Ctx {
	req: http.IncomingMessage;
	rec: RecordedRequest;
	parts?: ParsedPart[];
	json?: unknown;
	parseError?: string;
}

interface FaultEntry {
	fault: Fault;
	remaining: number;
}

interface PreviewMemory {
	text: string;
	modelId: string;
}

type Reply =
	| { kind: 'json'; status: number; body: unknown }
	| { kind: 'audio'; contentType: string; data: Buffer; chunked: boolean };

export class FaseehSandbox {
	readonly apiKey: string;
	baseUrl = '';
	readonly requests: RecordedRequest[] = [];
	inFlight = 0;
	maxInFlight = 0;

	private readonly opts: FaseehSandboxOptions;
	private server?: http.Server;
	private readonly sockets = new Set<Socket>();
	private faults: FaultEntry[] = [];
	private cloned: Voice[] = [];
	private readonly previews = new Map<string, PreviewMemory>();
	/** Requests being served (not answered by an early 401/404/429): what maxConcurrent limits. */
	private admitted = 0;
	private readonly sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

	constructor(options: FaseehSandboxOptions = {}) {
		this.opts = options;
		this.apiKey = options.apiKey ?? 'sandbox-key';
	}

	start(): Promise<string> {
		if (this.server) return Promise.reject(new Error('FaseehSandbox already started'));
		// requestTimeout 0: slow benchmark uploads must not be cut by node's 300 s default.
		const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
			this.handle(req, res).catch(() => {
				// A bug in the sandbox must still produce an answer, never a hung test.
				if (!res.headersSent && !res.destroyed) this.sendJson(res, 500, this.errBody(50001, 'Internal sandbox error'));
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
		this.faults = [];
		this.cloned = [];
		this.previews.clear();
	}

	inject(fault: Fault): void {
		this.faults.push({ fault, remaining: fault.times ?? 1 });
	}

	/** The preview this sandbox produced whose PCM, or PCM wrapped as WAV, has this sha256. */
	knownPreview(sha256Hex: string): { text: string; modelId: string } | undefined {
		const memory = this.previews.get(sha256Hex);
		return memory ? { ...memory } : undefined;
	}

	voices(): Voice[] {
		return [...STOCK_VOICES.map((v) => ({ ...v, sample_url: this.sampleUrl(v.voice_id) })), ...this.cloned];
	}

	// ---------------------------------------------------------------- request pipeline

	private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
		const started = Date.now();
		const arrivedAt = performance.now();
		const method = req.method ?? 'GET';
		const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
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

		this.inFlight++;
		this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
		let admitted = false;
		let done = false;
		const finish = () => {
			if (done) return;
			done = true;
			this.inFlight--;
			if (admitted) this.admitted--;
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
		const fault = this.takeFault(method, sub);
		let early: ApiError | undefined;
		if (!fault) {
			const isSample = method === 'GET' && sub !== undefined && /^\/samples\/[^/]+\.wav$/.test(sub);
			const max = this.opts.maxConcurrent;
			if (sub === undefined) early = notFound();
			else if (!isSample && req.headers['x-api-key'] !== this.apiKey) {
				early = new ApiError(401, 40101, 'Invalid or missing API key');
			} else if (max !== undefined && this.admitted >= max) {
				early = new ApiError(
					429,
					42901,
					`Concurrency limit exceeded. Current: ${this.admitted}, Maximum: ${max}`,
					this.retryAfterHeader(),
				);
			}
		}
		if (!early) {
			admitted = true;
			this.admitted++;
		}

		if (fault?.kind === 'reset' && !fault.afterBytes) {
			req.socket.destroy();
			return;
		}
		const resetAfter = fault?.kind === 'reset' ? fault.afterBytes : undefined;
		const body = await this.readBody(req, rec, resetAfter);
		if (!body.complete) return; // connection gone (client abort or reset fault)
		const ctx = this.recordBody(req, rec, body.data);

		if (fault?.kind === 'hang') return; // never answer; stop() destroys the socket
		if (fault?.kind === 'reset') {
			// The body was shorter than afterBytes: reset once it is all in.
			req.socket.destroy();
			return;
		}

		if (this.opts.latencyMs) {
			const remaining = this.opts.latencyMs - (performance.now() - arrivedAt);
			if (remaining > 0) await this.sleep(remaining);
		}
		if (res.destroyed || res.writableEnded) return;

		if (fault) return this.sendFault(res, fault);
		if (early) return this.sendError(res, early);
		if (body.tooLarge) return this.sendError(res, new ApiError(413, 41301, 'Payload too large'));

		let reply: Reply;
		try {
			reply = this.route(method, sub ?? '/', ctx);
		} catch (err) {
			if (err instanceof ApiError) return this.sendError(res, err);
			throw err;
		}
		if (reply.kind === 'json') return this.sendJson(res, reply.status, reply.body);
		await this.sendAudio(res, reply);
	}

	private takeFault(method: string, sub: string | undefined): Fault | undefined {
		const index = this.faults.findIndex(
			(entry) => entry.remaining > 0 && routeMatches(entry.fault.route, method, sub),
		);
		if (index < 0) return undefined;
		const entry = this.faults[index];
		entry.remaining--;
		if (entry.remaining <= 0) this.faults.splice(index, 1);
		return entry.fault;
	}

	/**
	 * Reads the whole body. With a Content-Length it is copied into one preallocated buffer
	 * (no chunk list + concat, which would double peak memory on a 200 MiB upload). Bodies over
	 * the limit are drained, counted and dropped, so the 413 is answered after a full read.
	 */
	private readBody(
		req: http.IncomingMessage,
		rec: RecordedRequest,
		resetAfter: number | undefined,
	): Promise<{ data: Buffer; tooLarge: boolean; complete: boolean }> {
		const limit = this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
		const declared = rec.contentLength;
		let tooLarge = declared !== undefined && declared > limit;
		let pre =
			!tooLarge && declared !== undefined && Number.isSafeInteger(declared) ? Buffer.allocUnsafe(declared) : undefined;
		const chunks: Buffer[] = [];
		let received = 0;
		return new Promise((resolve) => {
			let settled = false;
			const settle = (complete: boolean) => {
				if (settled) return;
				settled = true;
				let data = Buffer.alloc(0);
				if (complete && !tooLarge) data = pre ? pre.subarray(0, received) : Buffer.concat(chunks);
				pre = undefined;
				chunks.length = 0;
				resolve({ data, tooLarge, complete });
			};
			req.on('data', (chunk: Buffer) => {
				if (!tooLarge) {
					if (pre && received + chunk.length <= pre.length) {
						chunk.copy(pre, received);
					} else if (received + chunk.length > limit) {
						tooLarge = true;
						pre = undefined;
						chunks.length = 0;
					} else {
						chunks.push(chunk);
					}
				}
				received += chunk.length;
				rec.bodySize = received;
				if (resetAfter !== undefined && received >= resetAfter) req.socket.destroy();
			});
			req.on('end', () => settle(true));
			req.on('error', () => settle(false));
			req.on('close', () => settle(false));
		});
	}

	/** Parses the body for the record (and the handlers), whatever the route or outcome. */
	private recordBody(req: http.IncomingMessage, rec: RecordedRequest, body: Buffer): Ctx {
		const ctx: Ctx = { req, rec };
		const contentType = req.headers['content-type'];
		if (contentType === undefined) return ctx;
		let media: string;
		try {
			media = parseHeaderValue(contentType).value;
		} catch (err) {
			ctx.parseError = rec.parseError = `Invalid Content-Type: ${(err as Error).message}`;
			return ctx;
		}
		if (media === 'multipart/form-data') {
			try {
				const keep = this.opts.keepPartData ?? true;
				ctx.parts = parseMultipart(body, contentType).map((p) => ({ ...p, sha256: sha256(p.data) }));
				rec.parts = ctx.parts.map((p) => {
					const part: RecordedPart = { name: p.name, size: p.data.length, sha256: p.sha256, data: keep ? p.data : Buffer.alloc(0) };
					if (p.filename !== undefined) part.filename = p.filename;
					if (p.contentType !== undefined) part.contentType = p.contentType;
					return part;
				});
				const fields: Record<string, string> = {};
				for (const p of ctx.parts) {
					if (p.filename === undefined && !(p.name in fields)) fields[p.name] = p.data.toString('utf8');
				}
				rec.fields = fields;
			} catch (err) {
				if (!(err instanceof MultipartError)) throw err;
				ctx.parseError = rec.parseError = err.message;
			}
		} else if (media === 'application/json') {
			try {
				ctx.json = rec.json = JSON.parse(body.toString('utf8'));
			} catch (err) {
				ctx.parseError = rec.parseError = `Invalid JSON body: ${(err as Error).message}`;
			}
		}
		return ctx;
	}

	private route(method: string, sub: string, ctx: Ctx): Reply {
		if (sub === '/models' && method === 'GET') return { kind: 'json', status: 200, body: SANDBOX_MODELS };
		if (sub === '/voices' && method === 'GET') {
			if (this.opts.voicesRoute === false) throw notFound();
			return { kind: 'json', status: 200, body: this.voices() };
		}
		if (sub === '/voices/preview' && method === 'POST') return this.preview(ctx);
		if (sub === '/voices/clone' && method === 'POST') return this.clone(ctx);
		const tts = /^\/text-to-speech\/([^/]+)$/.exec(sub);
		if (tts && method === 'POST') return this.textToSpeech(decodeSegment(tts[1]), ctx);
		const sample = /^\/samples\/([^/]+)\.wav$/.exec(sub);
		if (sample && method === 'GET') return this.sample(decodeSegment(sample[1]));
		throw notFound();
	}

	// ---------------------------------------------------------------- endpoints

	/** POST /voices/preview: multipart in, chunked headerless PCM out. */
	private preview(ctx: Ctx): Reply {
		const form = readForm(ctx, {
			text: 'text',
			similarity: 'text',
			model_id: 'text',
			speed: 'optional-text',
			file: 'file',
		});
		const text = form.texts.get('text') ?? '';
		checkPreviewText(text);
		const similarity = parseDecimal(form.texts.get('similarity') ?? '');
		if (similarity === undefined || similarity < 0 || similarity > 1) {
			throw bad('similarity must be a number between 0 and 1');
		}
		const modelId = form.texts.get('model_id') ?? '';
		if (modelId.trim() === '') throw bad('model_id is required');
		checkModel(modelId);
		const speedText = form.texts.get('speed');
		if (speedText !== undefined) {
			const speed = parseDecimal(speedText);
			if (speed === undefined || speed < 0.7 || speed > 1.2) throw bad('speed must be a number between 0.7 and 1.2');
		}
		checkAudioFile('file', form.files.get('file'));

		const pcm = synthesize(`preview\n${modelId}\n${text}`, text, 24000);
		// Remember both forms: the clone call may upload the PCM as returned or wrapped as WAV.
		const memory = { text, modelId };
		this.previews.set(sha256(pcm), memory);
		this.previews.set(sha256(wrapWav(pcm)), memory);
		return { kind: 'audio', contentType: PCM_CONTENT_TYPE, data: pcm, chunked: true };
	}

	/** POST /voices/clone: multipart in, voice JSON out. */
	private clone(ctx: Ctx): Reply {
		const form = readForm(ctx, {
			voice_file: 'file',
			reference_audio_file: 'file',
			text: 'text',
			stability: 'text',
			name: 'text',
			model: 'text',
			description: 'optional-text',
			gender: 'optional-text',
			age: 'optional-text',
			languages: 'optional-text',
			dialects: 'optional-text',
			avatar_url: 'optional-text',
		});
		const text = form.texts.get('text') ?? '';
		if (text.trim() === '') throw bad('text is required');
		const stability = parseDecimal(form.texts.get('stability') ?? '');
		if (stability === undefined || stability < 0 || stability > 1) {
			throw bad('stability must be a number between 0 and 1');
		}
		const name = form.texts.get('name') ?? '';
		if (name.trim() === '') throw bad('name is required');
		const model = form.texts.get('model') ?? '';
		if (model.trim() === '') throw bad('model is required');
		checkModel(model);

		// Optional fields: an empty value is almost always a client sending an unset field.
		for (const key of ['description', 'gender', 'age', 'languages', 'dialects', 'avatar_url']) {
			const value = form.texts.get(key);
			if (value !== undefined && value.trim() === '') throw bad(`${key} must not be empty (omit the field instead)`);
		}
		const list = (key: 'languages' | 'dialects'): string[] => {
			const value = form.texts.get(key);
			if (value === undefined) return [];
			if (!/^[^,\s]+(,[^,\s]+)*$/.test(value)) {
				throw bad(`${key} must be a comma-separated list without spaces or empty entries`);
			}
			return value.split(',');
		};
		const languages = list('languages');
		const dialect = list('dialects');
		const avatarUrl = form.texts.get('avatar_url');
		if (avatarUrl !== undefined && !isHttpUrl(avatarUrl)) throw bad('avatar_url must be an http(s) URL');

		const voiceFile = checkAudioFile('voice_file', form.files.get('voice_file'));
		checkAudioFile('reference_audio_file', form.files.get('reference_audio_file'));
		const preview = this.previews.get(voiceFile.sha256);
		if (preview && preview.text !== text) throw bad('text must match the text used for the preview');

		const voiceId = `cl-${randomAlphanumeric(20)}`;
		const voice: Voice = {
			id: randomUUID(),
			voice_id: voiceId,
			name,
			description: form.texts.get('description') ?? null,
			gender: form.texts.get('gender') ?? null,
			age: form.texts.get('age') ?? null,
			languages,
			dialect,
			type: 'cloned',
			sample_url: this.sampleUrl(voiceId),
			avatar_url: avatarUrl ?? null,
			stability,
		};
		this.cloned.push(voice);
		return { kind: 'json', status: 200, body: voice };
	}

	/** POST /text-to-speech/:model_id: JSON in, WAV or chunked PCM out. */
	private textToSpeech(modelId: string, ctx: Ctx): Reply {
		const media = mediaType(ctx.req.headers['content-type']);
		if (media !== 'application/json') throw bad('Content-Type must be application/json');
		if (ctx.parseError !== undefined) throw bad('Invalid JSON body');
		const body = ctx.json;
		if (typeof body !== 'object' || body === null || Array.isArray(body)) {
			throw bad('Request body must be a JSON object');
		}
		const input = body as Record<string, unknown>;
		const allowed = ['voice_id', 'text', 'stability', 'streaming', 'speed', 'sample_rate', 'dialect'];
		for (const key of Object.keys(input)) {
			if (!allowed.includes(key)) throw bad(`Unknown field: ${key}`);
		}
		for (const key of ['voice_id', 'text', 'stability', 'streaming']) {
			if (!(key in input)) throw bad(`${key} is required`);
		}
		const { voice_id: voiceId, text, stability, streaming, speed, sample_rate: sampleRate, dialect } = input;
		if (typeof voiceId !== 'string' || voiceId === '') throw bad('voice_id must be a non-empty string');
		if (typeof text !== 'string' || text.trim() === '') throw bad('text must be a non-empty string');
		if (typeof stability !== 'number' || !(stability >= 0 && stability <= 1)) {
			throw bad('stability must be a number between 0 and 1');
		}
		if (typeof streaming !== 'boolean') throw bad('streaming must be a boolean');
		if (speed !== undefined && (typeof speed !== 'number' || !(speed >= 0.7 && speed <= 1.2))) {
			throw bad('speed must be a number between 0.7 and 1.2');
		}
		if (
			sampleRate !== undefined &&
			(typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000)
		) {
			throw bad('sample_rate must be an integer between 8000 and 48000');
		}
		if (dialect !== undefined && (typeof dialect !== 'string' || !['auto', 'emirati', 'fusha'].includes(dialect))) {
			throw bad('dialect must be one of auto, emirati, fusha');
		}
		checkModel(modelId);
		if (!this.voices().some((v) => v.voice_id === voiceId)) {
			throw new ApiError(404, 40401, `Voice not found: ${voiceId}`);
		}

		const seed = `tts\n${modelId}\n${voiceId}\n${text}`;
		if (streaming) {
			// The streaming content type fixes 24 kHz, so sample_rate is not applied here.
			return { kind: 'audio', contentType: PCM_CONTENT_TYPE, data: synthesize(seed, text, 24000), chunked: true };
		}
		const rate = typeof sampleRate === 'number' ? sampleRate : 24000;
		return { kind: 'audio', contentType: 'audio/wav', data: wrapWav(synthesize(seed, text, rate), rate), chunked: false };
	}

	/** GET /samples/:voice_id.wav (no auth): a short WAV for any known voice. */
	private sample(voiceId: string): Reply {
		if (!this.voices().some((v) => v.voice_id === voiceId)) throw notFound(`Voice not found: ${voiceId}`);
		const pcm = makePcm16(0.25, 24000, toneFor(`sample\n${voiceId}`));
		return { kind: 'audio', contentType: 'audio/wav', data: wrapWav(pcm), chunked: false };
	}

	// ---------------------------------------------------------------- responses

	private errBody(code: number, message: string): { errorCode: number | string; errorMessage: string } {
		return { errorCode: this.opts.errorCodeAsString ? String(code) : code, errorMessage: message };
	}

	private retryAfterHeader(): Record<string, string> {
		const seconds = this.opts.retryAfterSeconds;
		return seconds === undefined ? {} : { 'Retry-After': String(seconds) };
	}

	private sendError(res: http.ServerResponse, err: ApiError): void {
		this.sendJson(res, err.status, this.errBody(err.code, err.message), err.headers);
	}

	private sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
		this.sendRaw(res, status, JSON_CONTENT_TYPE, JSON.stringify(body), headers);
	}

	private sendRaw(
		res: http.ServerResponse,
		status: number,
		contentType: string | undefined,
		body: string | Buffer,
		headers: Record<string, string> = {},
	): void {
		const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
		const all: Record<string, string | number> = { 'Content-Length': data.length, ...headers };
		if (contentType !== undefined) all['Content-Type'] = contentType;
		res.writeHead(status, all);
		res.end(data);
	}

	private sendFault(res: http.ServerResponse, fault: Fault): void {
		switch (fault.kind) {
			case 'status': {
				let body: string | Buffer = '';
				let contentType: string | undefined = fault.contentType;
				if (typeof fault.body === 'string' || Buffer.isBuffer(fault.body)) {
					body = fault.body;
					contentType ??= typeof fault.body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
				} else if (fault.body !== undefined) {
					body = JSON.stringify(fault.body);
					contentType ??= JSON_CONTENT_TYPE;
				} else if (fault.status >= 400) {
					const [code, message] = DEFAULT_ERRORS[fault.status] ?? [fault.status * 100 + 1, 'Error'];
					body = JSON.stringify(this.errBody(code, message));
					contentType ??= JSON_CONTENT_TYPE;
				}
				const headers = { ...(fault.status === 429 ? this.retryAfterHeader() : {}), ...fault.headers };
				return this.sendRaw(res, fault.status, contentType, body, headers);
			}
			case 'redirect':
				return this.sendRaw(res, fault.status ?? 307, undefined, '', { Location: fault.location });
			case 'raw':
				return this.sendRaw(res, fault.status, fault.contentType, fault.body);
			default:
				// hang and reset never reach here.
				return;
		}
	}

	private async sendAudio(res: http.ServerResponse, reply: Extract<Reply, { kind: 'audio' }>): Promise<void> {
		if (!reply.chunked) {
			return this.sendRaw(res, 200, reply.contentType, reply.data, { 'Cache-Control': 'no-cache' });
		}
		// No Content-Length => node uses Transfer-Encoding: chunked; each write() is one chunk.
		res.writeHead(200, { 'Content-Type': reply.contentType, 'Cache-Control': 'no-cache' });
		let offset = 0;
		for (let i = 0; offset < reply.data.length; i++) {
			if (res.destroyed) return;
			const size = Math.min(CHUNK_SIZES[i % CHUNK_SIZES.length], reply.data.length - offset);
			const flushed = res.write(reply.data.subarray(offset, offset + size));
			offset += size;
			// Yield between writes so chunks leave separately, like a real stream.
			await (flushed ? new Promise<void>((r) => setImmediate(r)) : waitDrain(res));
		}
		if (!res.destroyed) res.end();
	}

	private sampleUrl(voiceId: string): string {
		return `${this.baseUrl}/samples/${encodeURIComponent(voiceId)}.wav`;
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

// -------------------------------------------------------------------- helpers

function routeMatches(route: string | undefined, method: string, sub: string | undefined): boolean {
	if (route === undefined) return true;
	if (sub === undefined) return false;
	const space = route.indexOf(' ');
	if (space < 0 || route.slice(0, space).toUpperCase() !== method) return false;
	const want = route.slice(space + 1).split('/');
	const got = sub.split('/');
	return want.length === got.length && want.every((seg, i) => (seg.startsWith(':') && got[i] !== '') || seg === got[i]);
}

function decodeSegment(segment: string): string {
	try {
		return decodeURIComponent(segment);
	} catch {
		throw notFound();
	}
}

function mediaType(header: string | undefined): string | undefined {
	if (header === undefined) return undefined;
	try {
		return parseHeaderValue(header).value;
	} catch {
		return undefined;
	}
}

type FieldKind = 'file' | 'text' | 'optional-text';

/**
 * Checks the multipart structure against an exact field list: no unknown, repeated or missing
 * parts, text parts without filename and valid UTF-8, file parts present (contents checked later).
 */
function readForm(
	ctx: Ctx,
	spec: Record<string, FieldKind>,
): { texts: Map<string, string>; files: Map<string, ParsedPart> } {
	if (mediaType(ctx.req.headers['content-type']) !== 'multipart/form-data') {
		throw bad('Content-Type must be multipart/form-data');
	}
	if (ctx.parts === undefined) throw bad(`Malformed multipart body: ${ctx.parseError ?? 'unreadable'}`);
	const texts = new Map<string, string>();
	const files = new Map<string, ParsedPart>();
	const seen = new Set<string>();
	const utf8 = new TextDecoder('utf-8', { fatal: true });
	for (const part of ctx.parts) {
		const kind = Object.prototype.hasOwnProperty.call(spec, part.name) ? spec[part.name] : undefined;
		if (kind === undefined) throw bad(`Unknown field: ${part.name}`);
		if (seen.has(part.name)) {
			throw bad(
				part.name === 'languages' || part.name === 'dialects'
					? `${part.name} must be sent once, as a comma-separated string`
					: `${part.name} must be sent once`,
			);
		}
		seen.add(part.name);
		if (kind === 'file') {
			files.set(part.name, part);
			continue;
		}
		if (part.filename !== undefined) throw bad(`${part.name} must be a text field, not a file`);
		try {
			texts.set(part.name, utf8.decode(part.data));
		} catch {
			throw bad(`${part.name} must be UTF-8 text`);
		}
	}
	for (const [name, kind] of Object.entries(spec)) {
		if (seen.has(name) || kind === 'optional-text') continue;
		throw bad(kind === 'file' ? `${name} is required and must be of audio type` : `${name} is required`);
	}
	return { texts, files };
}

function checkAudioFile(name: string, part: ParsedPart | undefined): ParsedPart {
	const ok =
		part !== undefined &&
		part.filename !== undefined &&
		part.filename !== '' &&
		(part.contentType ?? '').toLowerCase().startsWith('audio/') &&
		part.data.length > 0 &&
		sniffAudio(part.data) !== undefined;
	if (!ok || part === undefined) throw bad(`${name} is required and must be of audio type`);
	return part;
}

function checkPreviewText(text: string): void {
	const trimmed = text.trim();
	if (trimmed === '') throw bad('text is required');
	const words = trimmed.split(/\s+/u).length;
	const codePoints = Array.from(trimmed).length;
	if (words < 3 || codePoints < 10) throw bad('text must contain at least 3 words and 10 characters');
}

function checkModel(modelId: string): void {
	if (!SANDBOX_MODELS.some((m) => m.model_id === modelId)) throw bad(`Model not found: ${modelId}`);
}

/** A plain decimal string such as "0.5" or "1" (no exponent, no spaces, no hex). */
function parseDecimal(value: string): number | undefined {
	return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : undefined;
}

function isHttpUrl(value: string): boolean {
	try {
		const url = new URL(value);
		return url.protocol === 'http:' || url.protocol === 'https:';
	} catch {
		return false;
	}
}

function randomAlphanumeric(length: number): string {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
	let out = '';
	for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
	return out;
}

/** A tone between 150 and 900 Hz chosen by the seed, so different inputs give different bytes. */
function toneFor(seed: string): number {
	const h = createHash('sha256').update(seed).digest();
	return 150 + (h.readUInt32BE(0) % 75000) / 100;
}

/** Deterministic speech stand-in: 0.3 s + 0.02 s per code point of text, at most 5 s. */
function synthesize(seed: string, text: string, sampleRate: number): Buffer {
	const seconds = Math.min(0.3 + 0.02 * Array.from(text).length, 5);
	return makePcm16(seconds, sampleRate, toneFor(seed));
}

function waitDrain(res: http.ServerResponse): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			res.off('drain', done);
			res.off('close', done);
			resolve();
		};
		res.on('drain', done);
		res.on('close', done);
	});
}
