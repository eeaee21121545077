import type FormData from 'form-data';
import type { IDataObject, IExecuteFunctions, IHttpRequestOptions, ILoadOptionsFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { readAudioAnswer } from '../audio';
import type { AudioAnswer } from '../audio';
import { closePartStreams } from '../binary';
import { GateClosedError, requestGateFor } from '../concurrency';
import type { RequestSlot } from '../concurrency';
import { credentialBaseUrl, credentialPlanLimit, DEFAULT_BASE_URL, insecureUrlReason } from './baseUrl';
import {
	answerError,
	findCause,
	networkError,
	parseFaseehError,
	queueTimeoutError,
	redirectError,
	timeoutError,
	unexpectedAnswerError,
} from './errors';
import { backstopTimeoutMs, ProgressTimeout } from './timeout';
import type { TimeoutPhase } from './timeout';
import { INTERACTIVE_TICKET, parseConcurrencyMaximum, takeTicket } from './limiter';
import { limiterFor } from './sharedLimiter';
import {
	DEFAULT_RATE_LIMIT_WAIT_SECONDS,
	MAX_RETRIES,
	parseRetryAfter,
	retryDelayMs,
	waitUnlessAborted,
} from './retry';

export { isFaseehStatus, parseFaseehError } from './errors';
export { DEFAULT_RATE_LIMIT_WAIT_SECONDS, MAX_RETRIES, parseRetryAfter } from './retry';

export const CREDENTIAL_TYPE = 'faseehApi';

/** API paths relative to the credential's base URL. The preview path is inferred, not documented. */
export const API_PATHS = {
	models: '/models',
	voices: '/voices',
	voicePreview: '/voices/preview',
	voiceClone: '/voices/clone',
	textToSpeech: (modelId: string) => `/text-to-speech/${encodeURIComponent(modelId)}`,
	/** Munsit speech-to-text (shared/munsit-stt.md): served on the Munsit host. */
	transcribe: '/audio/transcribe',
	diarize: '/audio/diarization/transcribe',
} as const;

export const DEFAULT_TIMEOUT_SECONDS = 120;
/** Dropdowns and the voice picker: a person is waiting, so no retries and a short timeout. */
export const INTERACTIVE_TIMEOUT_SECONDS = 10;
/** A person's request waits this long at most for a free slot of the account (it goes first). */
export const INTERACTIVE_QUEUE_WAIT_MS = 5_000;
/** Node's timers take at most 2^31 - 1 ms (about 24.8 days); a longer Max Wait is that long. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
	/** The request creates a voice: errors that leave its outcome open say so. */
	createsVoice?: boolean;
	/**
	 * A dropdown or list search: sent at once (not queued behind running executions), never retried,
	 * INTERACTIVE_TIMEOUT_SECONDS unless given.
	 */
	interactive?: boolean;
	/** Audio answers: the rate of headerless PCM whose Content-Type names none (what was asked for). */
	assumedSampleRate?: number;
	/**
	 * The slot of Options → Concurrency that the item already holds, for one of several requests of
	 * one item (the pieces of a long text): the item counts once, so the request takes no further
	 * slot of the execution, only one of the account, in the item's place in the account's queue
	 * (its ticket). It is still refused once the batch stopped.
	 */
	itemSlot?: RequestSlot;
}

export interface FaseehAudioResponse {
	audio: Buffer;
	contentType: string;
	/** The answer read by its content (see readAudioAnswer). */
	answer: AudioAnswer;
}

interface FullResponse {
	body: unknown;
	headers: Record<string, string | string[] | undefined>;
	statusCode: number;
}

/** Sends a request whose successful answer is JSON (a list, a voice). */
export async function faseehJson(this: FaseehContext, request: Omit<FaseehRequest, 'expect'>): Promise<unknown> {
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
 * The one door to the network. Sends a request to Faseeh with the credential's key:
 * - it waits for a slot of the execution (Options → Concurrency, input order; see RequestGate) and
 *   of the account, shared by every execution of this process (see AccountLimiter), and in queue
 *   mode by every n8n process through Redis (see sharedLimiter.ts);
 * - a 429 (refused, not processed) is waited out with jittered backoff until Options → Max Wait on
 *   Concurrency Limit, keeping its place in the account's queue; 5xx answers and dropped
 *   connections only when the request allows it, never after a clone was sent;
 * - every failure becomes an error from ./errors with Faseeh's own message and code.
 * Status errors are never thrown by the HTTP layer (so n8n does not resend a consumed upload on
 * 401) and redirects are not followed (following them buffers the body and could carry the key to
 * another host).
 */
async function faseehRequest(this: FaseehContext, request: FaseehRequest): Promise<unknown> {
	const node = this.getNode();
	const { itemIndex } = request;
	const account = await readAccount.call(this, itemIndex);
	const interactive = request.interactive === true;
	const timeoutSeconds = request.timeoutSeconds ?? (interactive ? INTERACTIVE_TIMEOUT_SECONDS : DEFAULT_TIMEOUT_SECONDS);
	// Every request, a person's included, takes a slot of the account: a dropdown opened during a
	// batch must not push the account over its plan (and its 429s must not lower the batch's limit).
	// In queue mode the account's slots are shared by every n8n process through Redis (sharedLimiter.ts).
	const limiter = limiterFor(account.baseURL, account.apiKey, account.planLimit, Date.now(), account.credentialId, this.logger);
	const gate = interactive ? undefined : requestGateFor(this);
	const cancelSignal = 'getExecutionCancelSignal' in this ? this.getExecutionCancelSignal?.() : undefined;
	const waitLimitMs = interactive ? INTERACTIVE_QUEUE_WAIT_MS : rateLimitWaitSeconds(this, itemIndex) * 1000;
	const target = describeTarget(account.baseURL);
	const errorContext = { itemIndex, createsVoice: request.createsVoice, timeoutSeconds, target };
	const log = (message: string, meta: Record<string, unknown>) => this.logger?.debug(`Faseeh: ${message}`, { node: node.name, itemIndex, ...meta });
	let ticket: number | undefined = interactive ? INTERACTIVE_TICKET : undefined;
	let firstRefusedAt: number | undefined;
	/** Time spent waiting for the account so far (its queue and 429 back-offs): bounded by Max Wait. */
	let waitedMs = 0;
	let rateLimitAttempts = 0;
	let serverRetries = 0;

	for (;;) {
		const slot = gate && request.itemSlot === undefined ? await gate.acquire(itemIndex) : undefined;
		ticket ??= request.itemSlot?.ticket ?? slot?.ticket ?? takeTicket();
		const queuedAt = Date.now();
		const mustWait = limiter.inFlight >= limiter.currentLimit || limiter.waiting > 0;
		if (mustWait) log('waiting for a free request slot of the account', { ahead: limiter.ahead(ticket), inFlight: limiter.inFlight, limit: limiter.currentLimit });
		// The limiter only refuses when a signal aborted: cancelled, batch stopped, or Max Wait reached.
		const deadline = AbortSignal.timeout(Math.min(MAX_TIMER_MS, Math.max(0, waitLimitMs - waitedMs)));
		const permit = await limiter.acquire(ticket, [cancelSignal, gate?.closedSignal, deadline]).catch(() => null);
		waitedMs += Date.now() - queuedAt;
		if (permit === null) {
			slot?.release();
			if (cancelSignal?.aborted) throw cancelledWhileWaiting(this, itemIndex);
			if (gate?.isClosed) throw new GateClosedError();
			throw queueTimeoutError(node, {
				waitedSeconds: Math.round(waitedMs / 100) / 10,
				ahead: limiter.ahead(ticket),
				inFlight: limiter.inFlight,
				limit: limiter.currentLimit,
				interactive,
				itemIndex,
			});
		}

		let response: FullResponse | undefined;
		let failure: unknown;
		let body: IDataObject | FormData | undefined;
		let timedOut: TimeoutPhase | undefined;
		let uploadFinished = true;
		const sentAt = Date.now();
		try {
			body = typeof request.body === 'function' ? await request.body() : request.body;
			const progress = new ProgressTimeout(timeoutSeconds * 1000, body);
			const stop = new AbortController();
			const signal = cancelSignal ? AbortSignal.any([cancelSignal, stop.signal]) : stop.signal;
			const sending = sendOnce.call(this, request, account.baseURL, timeoutSeconds, body, signal);
			const outcome = await Promise.race([
				sending.then((answer) => ({ answer }), (error: unknown) => ({ error })),
				progress.expired.then((phase) => ({ phase })),
			]);
			progress.stop();
			uploadFinished = progress.uploadFinished;
			if ('phase' in outcome) {
				timedOut = outcome.phase;
				// Ends the request (an upload stops, the wait for the answer is dropped): its slot is free once it has.
				stop.abort();
				await sending.catch(() => undefined);
			} else if ('answer' in outcome) {
				response = outcome.answer;
			} else {
				failure = outcome.error;
			}
		} catch (error) {
			failure = error;
		} finally {
			closePartStreams(body);
		}
		if (timedOut) {
			permit.release();
			slot?.keepUntilItemFinished();
			throw timeoutError(node, timedOut, errorContext);
		}

		if (response?.statusCode === 429) {
			const { message, code } = parseFaseehError(response.body);
			const limitBefore = limiter.currentLimit;
			// A person's request proves nothing about the batch's share: it never lowers the limit.
			if (interactive) permit.release();
			else permit.rateLimited(parseConcurrencyMaximum(message, code));
			if (limiter.currentLimit !== limitBefore) log('account limit lowered after a 429', { from: limitBefore, to: limiter.currentLimit });
			slot?.release();
			const now = Date.now();
			firstRefusedAt ??= now;
			const retryAfter = parseRetryAfter(headerValue(response, 'retry-after'));
			const remainingMs = waitLimitMs - waitedMs;
			if (interactive || remainingMs <= 0) {
				throw answerError(node, { ...response, retryAfterSeconds: retryAfter }, {
					...errorContext,
					rateLimitWaitedSeconds: interactive ? undefined : (now - firstRefusedAt) / 1000,
				});
			}
			rateLimitAttempts++;
			const delayMs = Math.min(remainingMs, retryDelayMs(rateLimitAttempts, retryAfter));
			log('429: waiting before sending again', { attempt: rateLimitAttempts, delayMs, retryAfterSeconds: retryAfter, limit: limiter.currentLimit });
			const waitStarted = Date.now();
			try {
				await waitOrCancel(this, delayMs, cancelSignal, gate, itemIndex);
			} finally {
				waitedMs += Date.now() - waitStarted;
			}
			continue;
		}
		const limitBefore = limiter.currentLimit;
		if (response) permit.succeeded();
		else permit.release();
		if (limiter.currentLimit !== limitBefore) log('account limit raised after successes', { from: limitBefore, to: limiter.currentLimit });

		// A missing credential or an unreadable binary is reported as is.
		if (!response && failure instanceof NodeOperationError) {
			slot?.release();
			throw failure;
		}
		const networkFailure = response
			? undefined
			: networkError(node, findCause(failure), { ...errorContext, elapsedMs: Date.now() - sentAt, uploadFinished });
		const retryable =
			!interactive &&
			request.retryServerErrors === true &&
			serverRetries < MAX_RETRIES &&
			((response !== undefined && response.statusCode >= 500) ||
				['ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(String(networkFailure?.context.errorCode)));
		if (retryable) {
			slot?.release();
			serverRetries++;
			await waitOrCancel(this, retryDelayMs(serverRetries), cancelSignal, gate, itemIndex);
			continue;
		}
		slot?.keepUntilItemFinished();

		if (networkFailure) throw networkFailure;
		const answer = response as FullResponse;
		if (answer.statusCode >= 300 && answer.statusCode < 400) {
			throw redirectError(node, answer.statusCode, headerValue(answer, 'location'), itemIndex);
		}
		if (answer.statusCode >= 400 || answer.statusCode < 200) {
			throw answerError(node, { ...answer, retryAfterSeconds: parseRetryAfter(headerValue(answer, 'retry-after')) }, errorContext);
		}
		return request.expect === 'audio'
			? audioBody(this, answer, itemIndex, request.assumedSampleRate)
			: jsonBody(this, answer, itemIndex);
	}
}

async function sendOnce(
	this: FaseehContext,
	request: FaseehRequest,
	baseURL: string,
	timeoutSeconds: number,
	body: IDataObject | FormData | undefined,
	signal: AbortSignal,
): Promise<FullResponse> {
	const options: IHttpRequestOptions = {
		method: request.method,
		baseURL,
		url: request.path,
		json: request.expect === 'json',
		encoding: request.expect === 'audio' ? 'arraybuffer' : undefined,
		// The node's Timeout is ProgressTimeout's; n8n's own (whose meaning differs per version) is a backstop.
		timeout: backstopTimeoutMs(timeoutSeconds),
		disableFollowRedirect: true,
		ignoreHttpStatusErrors: true,
		returnFullResponse: true,
		abortSignal: signal,
	};
	if (body !== undefined) options.body = body as IHttpRequestOptions['body'];
	return (await this.helpers.httpRequestWithAuthentication.call(
		withoutOwnCancelSignal(this),
		CREDENTIAL_TYPE,
		options,
	)) as FullResponse;
}

/**
 * n8n's httpRequestWithAuthentication (1.x and 2.x) replaces a request's `abortSignal` with the
 * execution's cancel signal whenever its `this` has getExecutionCancelSignal. The node passes a
 * signal that already combines that cancel signal with its own Timeout, so it calls the helper
 * through a view of the context that hides that one method (everything else is the context's own).
 */
function withoutOwnCancelSignal(context: FaseehContext): FaseehContext {
	return new Proxy(context, {
		has: (target, property) => property !== 'getExecutionCancelSignal' && Reflect.has(target, property),
		get: (target, property) => {
			if (property === 'getExecutionCancelSignal') return undefined;
			const value = Reflect.get(target, property, target) as unknown;
			return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
		},
	});
}

/**
 * A back-off wait (after a 429 or a retried failure; the request's slots are already given back).
 * It ends early when the execution is cancelled, and when the batch stops because another item
 * failed: that item's error is then the node's, without waiting out this one's Retry-After.
 */
async function waitOrCancel(
	context: FaseehContext,
	ms: number,
	cancelSignal: AbortSignal | undefined,
	gate: { closedSignal: AbortSignal; isClosed: boolean } | undefined,
	itemIndex?: number,
) {
	if (await waitUnlessAborted(ms, [cancelSignal, gate?.closedSignal])) return;
	if (gate?.isClosed && !cancelSignal?.aborted) throw new GateClosedError();
	throw cancelledWhileWaiting(context, itemIndex);
}

function cancelledWhileWaiting(context: FaseehContext, itemIndex?: number): NodeOperationError {
	return new NodeOperationError(context.getNode(), 'The execution was cancelled while waiting to send a request to Faseeh', {
		itemIndex,
		description: 'Nothing more was sent for this item.',
	});
}

/** Options → Max Wait on Concurrency Limit (seconds), where the node has it. */
function rateLimitWaitSeconds(context: FaseehContext, itemIndex: number | undefined): number {
	if (!('getInputData' in context)) return DEFAULT_RATE_LIMIT_WAIT_SECONDS;
	const options = context.getNodeParameter('options', itemIndex ?? 0, {}) as IDataObject;
	const value = Number(options.rateLimitWait ?? DEFAULT_RATE_LIMIT_WAIT_SECONDS);
	return Number.isFinite(value) && value >= 0 ? value : DEFAULT_RATE_LIMIT_WAIT_SECONDS;
}

interface Account {
	baseURL: string;
	apiKey: string;
	planLimit: number | undefined;
	credentialId: string | undefined;
}

/** The credential's base URL (https, or http to loopback only), key and plan. */
async function readAccount(this: FaseehContext, itemIndex?: number): Promise<Account> {
	const credentials = await this.getCredentials(CREDENTIAL_TYPE, itemIndex ?? 0);
	const baseURL = credentialBaseUrl(credentials);
	const reason = insecureUrlReason(baseURL);
	if (reason) {
		const insecure = reason.startsWith('must use https');
		throw new NodeOperationError(this.getNode(), `The Base URL in the Faseeh API credential ${reason}`, {
			itemIndex,
			description: insecure
				? 'The API key would travel unencrypted over plain http. Plain http is accepted only for loopback hosts (localhost, 127.0.0.1, ::1) used in local testing.'
				: `Choose a host in the credential, or use a full URL such as ${DEFAULT_BASE_URL}.`,
		});
	}
	return {
		baseURL,
		apiKey: String(credentials.apiKey ?? ''),
		planLimit: credentialPlanLimit(credentials),
		credentialId: credentialIdOf(this),
	};
}

/** How many requests the account takes at once now (its plan, or what the limiter has learned). */
export async function accountPieceWindow(this: IExecuteFunctions, itemIndex: number): Promise<number> {
	const account = await readAccount.call(this, itemIndex);
	return limiterFor(account.baseURL, account.apiKey, account.planLimit, Date.now(), account.credentialId, this.logger).currentLimit;
}

/** Which saved credential this is (two credentials may hold one key with different plans). */
function credentialIdOf(context: FaseehContext): string | undefined {
	const credential = context.getNode().credentials?.[CREDENTIAL_TYPE];
	return credential?.id ?? credential?.name ?? undefined;
}

/** Reads the base URL from the credential and refuses plain http except on loopback hosts. */
export async function getBaseUrl(this: FaseehContext, itemIndex?: number): Promise<string> {
	return (await readAccount.call(this, itemIndex)).baseURL;
}

/** host:port of the base URL, for messages about where a connection was tried. */
function describeTarget(baseURL: string): string {
	const url = new URL(baseURL);
	return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
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

function headerValue(response: FullResponse, name: string): string | undefined {
	const value = response.headers?.[name];
	return Array.isArray(value) ? value[0] : value;
}

function jsonBody(context: FaseehContext, response: FullResponse, itemIndex?: number): unknown {
	const { body } = response;
	if (typeof body === 'object' && body !== null && !Buffer.isBuffer(body)) return body;
	throw unexpectedAnswerError(
		context.getNode(),
		`Faseeh answered HTTP ${response.statusCode} with a body that is not JSON`,
		`Content type: ${headerValue(response, 'content-type') ?? 'none'}. Check the Base URL in the Faseeh API credential.`,
		{ statusCode: response.statusCode, itemIndex },
	);
}

function audioBody(
	context: FaseehContext,
	response: FullResponse,
	itemIndex?: number,
	assumedSampleRate?: number,
): FaseehAudioResponse {
	const contentType = headerValue(response, 'content-type') ?? '';
	const audio = Buffer.isBuffer(response.body) ? response.body : Buffer.from(response.body as ArrayBuffer);
	// Raw PCM is sometimes labelled application/octet-stream: read by its bytes, unless it is an error body.
	const label = contentType.split(';')[0].trim().toLowerCase();
	const octets = label === 'application/octet-stream' && parseFaseehError(audio).message === undefined;
	if ((label.startsWith('audio/') || octets) && audio.length > 0) {
		try {
			return { audio, contentType, answer: readAudioAnswer(audio, contentType, assumedSampleRate) };
		} catch (error) {
			throw unexpectedAnswerError(
				context.getNode(),
				`Faseeh answered ${contentType}, but ${(error as Error).message}`,
				'Expected an audio answer from Faseeh.',
				{ statusCode: response.statusCode, itemIndex },
			);
		}
	}
	const { message } = parseFaseehError(audio);
	throw unexpectedAnswerError(
		context.getNode(),
		message ??
			`Faseeh answered HTTP ${response.statusCode} without audio (content type: ${contentType || 'none'}, ${audio.length} bytes)`,
		'Expected an audio answer from Faseeh.',
		{ statusCode: response.statusCode, itemIndex },
	);
}
