/**
 * The sandbox's public shapes: options, what it records, the faults it can inject, and the
 * voice and model objects it serves (shared/faseeh-api.md sections 2-4).
 */

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
	/**
	 * With latencyMs: make the answer (synthesize the audio) while the latency runs, as a real
	 * server's response time includes its work, instead of after it. Default false: the wire
	 * tests' in-process sandbox keeps the order they were written against. The benchmark's sandbox
	 * (its own process) sets it, so a piece's 5 s of audio do not add ~6 ms of sandbox CPU per
	 * request to what is charged to the node.
	 */
	answerWithinLatency?: boolean;
	/** A request arriving while this many are being served gets 429 / 42901. */
	maxConcurrent?: number;
	/** If set, every 429 carries `Retry-After: <value>`. */
	retryAfterSeconds?: number;
	/** Default true; false => GET /voices answers 404 (a host without that route). */
	voicesRoute?: boolean;
	/**
	 * Default true: a multipart text field after a file part is answered 400 (some multipart
	 * parsers only see the fields sent before the files). false => any order is accepted.
	 */
	textFieldsFirst?: boolean;
	/**
	 * Streaming TTS with `sample_rate` (whether the API honours it is not documented):
	 * 'fixed' (default, as the docs' content type says) answers 24 kHz PCM labelled rate=24000;
	 * 'named' answers PCM at the asked rate, labelled with it; 'unnamed' answers PCM at the asked
	 * rate with a content type that names no rate; 'ignoredUnnamed' answers 24 kHz PCM whatever was
	 * asked, with a content type that names no rate (what the bytes alone cannot reveal).
	 */
	streamingSampleRate?: 'fixed' | 'named' | 'unnamed' | 'ignoredUnnamed';
	/**
	 * Default false: text-to-speech takes any non-empty text (the preview endpoint documents the
	 * minimum). true => TTS also answers 400 / 40001 "text must contain at least 3 words and 10
	 * characters", as the errors page lists that rule under ValidationError without naming endpoints
	 * (the node's long-text splitter assumes it holds for every piece).
	 */
	ttsTextMinimum?: boolean;
	/**
	 * Default true: POST /audio/transcribe and /audio/diarization/transcribe (Munsit STT) are served.
	 * false => they answer 404 / 40401, as a host serving only Faseeh TTS would.
	 */
	sttRoutes?: boolean;
	/** Default false; true => STT answers are the bare `data` object, without `{statusCode, data, message}`. */
	sttBareBody?: boolean;
	/** HTTP status of an STT success, default 200 (one public fake answers 201). */
	sttSuccessStatus?: number;
	/** Default true; false => STT answers never carry word timestamps (a model that does not give them). */
	sttTimestamps?: boolean;
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
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';
