import type FormData from 'form-data';
import type {
	IDataObject,
	IExecuteFunctions,
	IHttpRequestOptions,
	ILoadOptionsFunctions,
	INode,
	JsonObject,
} from 'n8n-workflow';
import { NodeApiError, NodeOperationError, sleep } from 'n8n-workflow';

import { closePartStreams } from './binary';
import { requestGateFor, retryDelayMs } from './concurrency';

export const CREDENTIAL_TYPE = 'faseehApi';

/** API paths relative to the credential's base URL. The preview path is inferred, not documented. */
export const API_PATHS = {
	models: '/models',
	voices: '/voices',
	voicePreview: '/voices/preview',
	voiceClone: '/voices/clone',
	textToSpeech: (modelId: string) => `/text-to-speech/${encodeURIComponent(modelId)}`,
} as const;

export const DEFAULT_TIMEOUT_SECONDS = 120;

/** Retries after a 429 (and, when allowed, a 5xx or dropped connection) before giving up. */
export const MAX_RETRIES = 6;

type FaseehContext = IExecuteFunctions | ILoadOptionsFunctions;

export interface FaseehRequest {
	method: 'GET' | 'POST';
	path: string;
	/**
	 * A JSON object, or a function that builds a fresh multipart body: a streamed body is consumed
	 * by sending it, so every attempt needs its own (built only once a request slot is free).
	 */
	body?: IDataObject | (() => Promise<FormData>);
	/** What a successful answer must be: parsed JSON, or audio bytes. */
	expect: 'json' | 'audio';
	timeoutSeconds?: number;
	itemIndex?: number;
	/**
	 * Also retry 5xx answers and dropped connections. Never for a request that creates something
	 * (a clone may have been created before the error), so it is off unless the user opts in.
	 */
	retryServerErrors?: boolean;
}

export interface FaseehAudioResponse {
	audio: Buffer;
	contentType: string;
}

interface FullResponse {
	body: unknown;
	headers: Record<string, string | string[] | undefined>;
	statusCode: number;
}

const STATUS_HINTS: Record<number, string> = {
	400: 'Faseeh rejected the request as invalid. Check the parameter the message names.',
	401: 'Check the API key in the Faseeh API credential. Keys are region-specific: a UAE key works only with the UAE base URL.',
	402: 'The Faseeh wallet balance is too low for this request. Top it up in the Faseeh dashboard.',
	403: 'This model is not enabled for your Faseeh account. Choose another model or ask Faseeh to enable it.',
	404: 'Faseeh could not find the resource. Check the model ID, the voice ID and the base URL in the credential.',
	413: 'The upload is too large for Faseeh. Use a shorter or more compressed recording.',
	429: 'Your Faseeh plan limits concurrent requests (Basic 2, Starter 5, Growth 10). Lower the node’s concurrency or retry later.',
};
const SERVER_ERROR_HINT =
	'Faseeh had a server error. Try again later. After a failed clone, check the voice list before retrying: the voice may have been created.';

/** Sends a request whose successful answer is JSON (a list, a voice). */
export async function faseehJson(
	this: FaseehContext,
	request: Omit<FaseehRequest, 'expect'>,
): Promise<unknown> {
	return await faseehRequest.call(this, { ...request, expect: 'json' });
}

/** Sends a request whose successful answer is audio bytes (preview, speech). */
export async function faseehAudio(
	this: FaseehContext,
	request: Omit<FaseehRequest, 'expect'>,
): Promise<FaseehAudioResponse> {
	return (await faseehRequest.call(this, { ...request, expect: 'audio' })) as FaseehAudioResponse;
}

/**
 * Sends one request to Faseeh with the credential's key and maps every failure to a
 * NodeApiError that carries Faseeh's own message and code. Status errors are never thrown by the
 * HTTP layer (so n8n does not resend a consumed upload on 401) and redirects are not followed
 * (following them buffers the body and could carry the key to another host).
 */
async function faseehRequest(this: FaseehContext, request: FaseehRequest): Promise<unknown> {
	const node = this.getNode();
	const baseURL = await getBaseUrl.call(this, request.itemIndex);
	const timeoutSeconds = request.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
	const gate = requestGateFor(this);
	const cancelSignal = 'getExecutionCancelSignal' in this ? this.getExecutionCancelSignal() : undefined;

	for (let attempt = 1; ; attempt++) {
		const slot = gate ? await gate.acquire(request.itemIndex) : undefined;
		let response: FullResponse | undefined;
		let failure: unknown;
		let body: IDataObject | FormData | undefined;
		try {
			body = typeof request.body === 'function' ? await request.body() : request.body;
			response = await sendOnce.call(this, request, baseURL, timeoutSeconds, body);
		} catch (error) {
			failure = error;
		} finally {
			closePartStreams(body);
		}

		// A missing credential is reported as is; anything else failed before an HTTP answer.
		const networkFailure =
			response === undefined && !(failure instanceof NodeOperationError)
				? networkError(node, failure, timeoutSeconds, request.itemIndex)
				: undefined;
		const statusCode = response?.statusCode;
		const canRetry = attempt <= MAX_RETRIES;
		// A 429 was refused, not processed: safe to send again, clone included. Server errors and
		// dropped connections only when the request allows it.
		const retry =
			canRetry &&
			(statusCode === 429 ||
				(request.retryServerErrors === true &&
					((statusCode !== undefined && statusCode >= 500) ||
						['ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(String(networkFailure?.context.errorCode)))));
		if (retry) {
			// Lower the limit before the slot goes back, so it is not handed on above the plan's cap.
			if (statusCode === 429) gate?.rateLimited();
			slot?.release();
			const retryAfter = statusCode === 429 && response ? parseRetryAfter(headerValue(response, 'retry-after')) : undefined;
			await waitBeforeRetry(node, attempt, retryAfter, cancelSignal, request.itemIndex);
			continue;
		}
		slot?.keepUntilItemFinished();

		if (response === undefined) {
			if (networkFailure) throw networkFailure;
			throw new NodeOperationError(node, failure as NodeOperationError);
		}
		if (response.statusCode >= 300 && response.statusCode < 400) throw redirectError(node, response, request.itemIndex);
		if (response.statusCode >= 400 || response.statusCode < 200) throw faseehApiError(node, response, request.itemIndex);
		gate?.succeeded();
		return request.expect === 'audio'
			? audioBody(node, response, request.itemIndex)
			: jsonBody(node, response, request.itemIndex);
	}
}

async function sendOnce(
	this: FaseehContext,
	request: FaseehRequest,
	baseURL: string,
	timeoutSeconds: number,
	body: IDataObject | FormData | undefined,
): Promise<FullResponse> {
	const options: IHttpRequestOptions = {
		method: request.method,
		baseURL,
		url: request.path,
		json: request.expect === 'json',
		encoding: request.expect === 'audio' ? 'arraybuffer' : undefined,
		timeout: timeoutSeconds * 1000,
		disableFollowRedirect: true,
		ignoreHttpStatusErrors: true,
		returnFullResponse: true,
	};
	if (body !== undefined) options.body = body as IHttpRequestOptions['body'];
	return (await this.helpers.httpRequestWithAuthentication.call(this, CREDENTIAL_TYPE, options)) as FullResponse;
}

/** Waits the backoff (or Retry-After) with n8n's sleep; a cancelled execution stops waiting. */
async function waitBeforeRetry(
	node: INode,
	attempt: number,
	retryAfterSeconds: number | undefined,
	cancelSignal: AbortSignal | undefined,
	itemIndex?: number,
): Promise<void> {
	try {
		if (cancelSignal?.aborted) throw new Error('cancelled');
		await sleep(retryDelayMs(attempt, retryAfterSeconds), cancelSignal);
	} catch {
		throw new NodeOperationError(node, 'The execution was cancelled while waiting to retry a request to Faseeh', {
			itemIndex,
		});
	}
}

/** Reads the base URL from the credential and refuses plain http except on loopback hosts. */
export async function getBaseUrl(this: FaseehContext, itemIndex?: number): Promise<string> {
	const credentials = await this.getCredentials(CREDENTIAL_TYPE, itemIndex ?? 0);
	const raw = String(credentials.baseUrl ?? '').trim() || 'https://api.faseeh.ai/api/v1';
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		throw new NodeOperationError(
			this.getNode(),
			`The Base URL in the Faseeh API credential is not a valid URL: "${raw}"`,
			{ itemIndex, description: 'Use e.g. https://api.faseeh.ai/api/v1.' },
		);
	}
	const loopback = isLoopbackHost(url.hostname);
	if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
		throw new NodeOperationError(
			this.getNode(),
			`The Base URL in the Faseeh API credential must use https: "${raw}"`,
			{
				itemIndex,
				description:
					'The API key would travel unencrypted over plain http. Plain http is accepted only for loopback hosts (localhost, 127.0.0.1, ::1) used in local testing.',
			},
		);
	}
	return raw.replace(/\/+$/, '');
}

function isLoopbackHost(hostname: string): boolean {
	const host = hostname.replace(/^\[|\]$/g, '');
	return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * A number as a plain decimal for a multipart text field ("0.0000001", never "1e-7"): a strict
 * server reads the exponent form as not a number. The digits are JavaScript's shortest round-trip
 * form, so parsing the text gives back exactly the same number.
 */
export function plainDecimal(value: number): string {
	const text = String(value);
	const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
	if (!match) return text;
	const [, sign, lead, fraction = '', exponentText] = match;
	const digits = lead + fraction;
	const exponent = Number(exponentText);
	if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
	// Only for huge values (1e21 and up), which have no fraction digits left.
	return sign + digits + '0'.repeat(Math.max(0, exponent - fraction.length));
}

/** Faseeh sends `{errorCode, errorMessage}`; some deployments send `{code, message}`. Accept both. */
export function parseFaseehError(body: unknown): { code?: string | number; message?: string } {
	let value = body;
	if (Buffer.isBuffer(value)) value = value.toString('utf8');
	if (typeof value === 'string') {
		try {
			value = JSON.parse(value);
		} catch {
			return {};
		}
	}
	if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
	const record = value as Record<string, unknown>;
	const message = [record.errorMessage, record.message].find(
		(candidate): candidate is string => typeof candidate === 'string' && candidate.trim() !== '',
	);
	const code = [record.errorCode, record.code].find(
		(candidate): candidate is string | number =>
			(typeof candidate === 'string' && candidate !== '') || typeof candidate === 'number',
	);
	return { code, message };
}

function headerValue(response: FullResponse, name: string): string | undefined {
	const value = response.headers?.[name];
	return Array.isArray(value) ? value[0] : value;
}

/** Builds the NodeApiError for a 4xx/5xx answer from Faseeh. */
function faseehApiError(node: INode, response: FullResponse, itemIndex?: number): NodeApiError {
	const status = response.statusCode;
	const { code, message } = parseFaseehError(response.body);
	const hint = STATUS_HINTS[status] ?? (status >= 500 ? SERVER_ERROR_HINT : undefined);
	const errorMessage = message ?? `Faseeh answered HTTP ${status} without an error message`;
	const codeText = code !== undefined ? `, Faseeh error code ${code}` : '';
	const error = new NodeApiError(
		node,
		{ errorCode: code ?? null, errorMessage, httpCode: String(status) } as JsonObject,
		{
			message: errorMessage,
			description: `${hint ?? 'Faseeh could not process the request.'} (HTTP ${status}${codeText})`,
			httpCode: String(status),
			itemIndex,
		},
	);
	error.context.errorCode = code ?? null;
	error.context.httpCode = String(status);
	const retryAfter = parseRetryAfter(headerValue(response, 'retry-after'));
	if (retryAfter !== undefined) error.context.retryAfterSeconds = retryAfter;
	return error;
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
	if (value === undefined || value.trim() === '') return undefined;
	if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
	const date = Date.parse(value);
	return Number.isNaN(date) ? undefined : Math.max(0, (date - now) / 1000);
}

function redirectError(node: INode, response: FullResponse, itemIndex?: number): NodeApiError {
	const location = headerValue(response, 'location') ?? '';
	let target = location;
	try {
		target = new URL(location).host || location;
	} catch {
		// A relative location: show it as sent.
	}
	const message = `Faseeh answered with a redirect (HTTP ${response.statusCode}) to ${target || 'an unknown location'}; it was not followed`;
	const error = new NodeApiError(
		node,
		{ errorMessage: message, httpCode: String(response.statusCode) } as JsonObject,
		{
			message,
			description:
				'Redirects are not followed, so the API key and the upload are never sent to another host. Check the Base URL in the Faseeh API credential.',
			httpCode: String(response.statusCode),
			itemIndex,
		},
	);
	error.context.httpCode = String(response.statusCode);
	return error;
}

function jsonBody(node: INode, response: FullResponse, itemIndex?: number): unknown {
	const { body } = response;
	if (typeof body === 'object' && body !== null && !Buffer.isBuffer(body)) return body;
	const message = `Faseeh answered HTTP ${response.statusCode} with a body that is not JSON`;
	const error = new NodeApiError(
		node,
		{ errorMessage: message, httpCode: String(response.statusCode) } as JsonObject,
		{
			message,
			description: `Content type: ${headerValue(response, 'content-type') ?? 'none'}. Check the Base URL in the Faseeh API credential.`,
			httpCode: String(response.statusCode),
			itemIndex,
		},
	);
	error.context.httpCode = String(response.statusCode);
	throw error;
}

function audioBody(node: INode, response: FullResponse, itemIndex?: number): FaseehAudioResponse {
	const contentType = headerValue(response, 'content-type') ?? '';
	const audio = Buffer.isBuffer(response.body)
		? response.body
		: Buffer.from(response.body as ArrayBuffer);
	if (contentType.toLowerCase().startsWith('audio/') && audio.length > 0) {
		return { audio, contentType };
	}
	const { message: faseehMessage } = parseFaseehError(audio);
	const message =
		faseehMessage ??
		`Faseeh answered HTTP ${response.statusCode} without audio (content type: ${contentType || 'none'}, ${audio.length} bytes)`;
	const error = new NodeApiError(
		node,
		{ errorMessage: message, httpCode: String(response.statusCode) } as JsonObject,
		{
			message,
			description: 'Expected an audio answer from Faseeh.',
			httpCode: String(response.statusCode),
			itemIndex,
		},
	);
	error.context.httpCode = String(response.statusCode);
	throw error;
}

/**
 * Maps a failure before any HTTP answer (refused, reset, timed out, cancelled). A fresh error is
 * built from the code and text only: the original carries the request config, key included.
 */
function networkError(
	node: INode,
	error: unknown,
	timeoutSeconds: number,
	itemIndex?: number,
): NodeApiError {
	const cause = findCause(error);
	const code = cause.code ?? '';
	let message: string;
	let description: string;
	if (code === 'ECONNABORTED' || code === 'ETIMEDOUT' || /timeout/i.test(cause.message ?? '')) {
		message = `Faseeh did not answer within ${timeoutSeconds} seconds (timeout)`;
		description =
			'Raise the Timeout option if long uploads or texts need more time. After a timed-out clone, check the voice list before retrying: the voice may have been created.';
	} else if (code === 'ERR_CANCELED') {
		message = 'The request to Faseeh was cancelled because the execution was stopped';
		description = 'The execution was cancelled while the request was in flight.';
	} else if (code === 'ECONNREFUSED') {
		message = 'Could not connect to Faseeh: the connection was refused';
		description = 'Check the Base URL in the Faseeh API credential and that the host is reachable.';
	} else if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
		message = 'The connection to Faseeh was closed before an answer arrived';
		description = 'The network or the server dropped the connection. Try again.';
	} else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
		message = 'Could not resolve the Faseeh host name';
		description = 'Check the Base URL in the Faseeh API credential.';
	} else {
		message = `The request to Faseeh failed${code ? ` (${code})` : ''}`;
		description = 'Check the Base URL in the Faseeh API credential and your network.';
	}
	// The low-level code stays out of the error body: NodeApiError would swap our message for its
	// generic text for codes such as ECONNABORTED.
	const apiError = new NodeApiError(node, { errorMessage: message } as JsonObject, {
		message,
		description,
		itemIndex,
	});
	apiError.context.errorCode = code || null;
	return apiError;
}

/** Walks an n8n error's cause chain for the low-level error code (axios/Node). */
function findCause(error: unknown): { code?: string; message?: string } {
	let current: unknown = error;
	for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
		const record = current as { code?: unknown; message?: unknown; cause?: unknown };
		if (typeof record.code === 'string' && /^[A-Z_]+$/.test(record.code)) {
			return { code: record.code, message: String(record.message ?? '') };
		}
		current = record.cause;
	}
	return { message: error instanceof Error ? error.message : undefined };
}
