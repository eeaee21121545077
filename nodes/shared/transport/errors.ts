import type { INode, JsonObject } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

/**
 * Every error the nodes raise about a Faseeh request is built here, by `faseehError`: the message
 * and code Faseeh sent (n8n's generic NodeApiError would hide them), a description with what to do,
 * the HTTP status and the item. Nothing from the request (headers, key, body) is ever copied in.
 */
export interface FaseehErrorSpec {
	message: string;
	description: string;
	/** HTTP status of Faseeh's answer, when there was one. */
	httpCode?: number;
	/** Faseeh's own error code (e.g. 42901), from the answer's body. */
	faseehCode?: string | number;
	/** A low-level code (ECONNRESET, ERR_CANCELED …) when there was no answer. */
	networkCode?: string;
	itemIndex?: number;
	retryAfterSeconds?: number;
}

export function faseehError(node: INode, spec: FaseehErrorSpec): NodeApiError {
	const httpCode = spec.httpCode === undefined ? undefined : String(spec.httpCode);
	// Only Faseeh's code goes into the error body: NodeApiError swaps the message for its generic
	// text when the body holds a low-level code such as ECONNABORTED.
	const body: JsonObject = { errorMessage: spec.message };
	if (spec.faseehCode !== undefined) body.errorCode = spec.faseehCode;
	if (httpCode !== undefined) body.httpCode = httpCode;
	const error = new NodeApiError(node, body, {
		message: spec.message,
		description: spec.description,
		httpCode,
		itemIndex: spec.itemIndex,
	});
	error.context.errorCode = spec.faseehCode ?? spec.networkCode ?? null;
	if (httpCode !== undefined) error.context.httpCode = httpCode;
	if (spec.retryAfterSeconds !== undefined) error.context.retryAfterSeconds = spec.retryAfterSeconds;
	return error;
}

/** Said when the API refuses an audio format (415, or 400 "Unsupported audio format"). */
const FORMAT_HINT =
	'The API does not take this audio format. Send AAC, AMR, FLAC, M4A, MP3, OGG/Opus, WAV, WEBM or WMA, with a file name whose extension matches the content (the server picks its decoder from the extension).';

const STATUS_HINTS: Record<number, string> = {
	400: 'Faseeh rejected the request as invalid. Check the parameter the message names.',
	401: 'Check the API key in the Faseeh API credential. Keys are region-specific: a UAE key works only with the UAE base URL.',
	402: 'The Faseeh wallet balance is too low for this request. Top it up in the Faseeh dashboard.',
	403: 'This model is not enabled for your Faseeh account. Choose another model or ask Faseeh to enable it.',
	404: 'Faseeh could not find the resource. Check the model ID, the voice ID and the base URL in the credential.',
	413: 'The upload is too large for Faseeh. Use a shorter or more compressed recording.',
	415: FORMAT_HINT,
	429: 'Your Faseeh plan limits concurrent requests (Basic 2, Starter 5, Growth 10). Set the plan in the Faseeh API credential, lower the node’s Concurrency, or raise Options → Max Wait on Concurrency Limit.',
};
const SERVER_ERROR_HINT = 'Faseeh had a server error. Try again later.';
/** Said after anything that leaves open whether a clone request created its voice. */
export const VOICE_MAY_EXIST = 'The voice may have been created: check Faseeh → Voice → Get Many before retrying the clone.';

/** Faseeh sends `{errorCode, errorMessage}`; some deployments send `{code, message}`. Accept both. */
export function parseFaseehError(body: unknown): { code?: string | number; message?: string } {
	let value = body;
	if (Buffer.isBuffer(value)) value = value.toString('utf8');
	if (value instanceof ArrayBuffer) value = Buffer.from(value).toString('utf8');
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

/** A 4xx/5xx answer: Faseeh's own message and code, with a hint for the status. */
export function answerError(
	node: INode,
	answer: { statusCode: number; body: unknown; retryAfterSeconds?: number },
	context: { itemIndex?: number; createsVoice?: boolean; rateLimitWaitedSeconds?: number },
): NodeApiError {
	const status = answer.statusCode;
	const { code, message } = parseFaseehError(answer.body);
	let hint = STATUS_HINTS[status] ?? (status >= 500 ? SERVER_ERROR_HINT : 'Faseeh could not process the request.');
	if (status === 400 && /unsupported (audio|media|file)? ?(format|type)/i.test(message ?? '')) hint = FORMAT_HINT;
	if (status >= 500 && context.createsVoice) hint = `${hint} ${VOICE_MAY_EXIST}`;
	if (status === 429 && context.rateLimitWaitedSeconds !== undefined) {
		hint = `Still refused after waiting ${Math.round(context.rateLimitWaitedSeconds)} seconds for a free slot. ${hint}`;
	}
	const codeText = code !== undefined ? `, Faseeh error code ${code}` : '';
	return faseehError(node, {
		message: message ?? `Faseeh answered HTTP ${status} without an error message`,
		description: `${hint} (HTTP ${status}${codeText})`,
		httpCode: status,
		faseehCode: code,
		itemIndex: context.itemIndex,
		retryAfterSeconds: answer.retryAfterSeconds,
	});
}

export function redirectError(node: INode, statusCode: number, location: string | undefined, itemIndex?: number): NodeApiError {
	let target = location ?? '';
	try {
		target = new URL(target).host || target;
	} catch {
		// A relative location: show it as sent.
	}
	return faseehError(node, {
		message: `Faseeh answered with a redirect (HTTP ${statusCode}) to ${target || 'an unknown location'}; it was not followed`,
		description:
			'Redirects are not followed, so the API key and the upload are never sent to another host. Check the Base URL in the Faseeh API credential.',
		httpCode: statusCode,
		itemIndex,
	});
}

/** A request that waited Max Wait (or, for a person's request, a few seconds) for a free slot of the account. */
export function queueTimeoutError(
	node: INode,
	wait: { waitedSeconds: number; ahead: number; inFlight: number; limit: number; interactive: boolean; itemIndex?: number },
): NodeOperationError {
	const busy = `${wait.inFlight} in flight at this process's limit of ${wait.limit}`;
	if (wait.interactive) {
		return new NodeOperationError(
			node,
			`Every request slot of this Faseeh account is busy with running executions (${busy}); try again in a moment`,
			{ description: 'Lists and dropdowns wait a few seconds for a free slot, so that opening the editor never pushes a running batch over the plan.' },
		);
	}
	return new NodeOperationError(
		node,
		`Waited ${wait.waitedSeconds} s for a free request slot of this Faseeh account (${wait.ahead} requests ahead, ${busy}); nothing was sent`,
		{
			itemIndex: wait.itemIndex,
			description:
				'Other executions of this n8n using the same key hold the account’s slots. Raise Options → Max Wait on Concurrency Limit, run fewer executions at once, or set the plan on the credential if yours allows more.',
		},
	);
}

/** A 2xx answer that is not what the operation expects (not JSON, not audio, no voice_id). */
export function unexpectedAnswerError(
	node: INode,
	message: string,
	description: string,
	context: { statusCode?: number; itemIndex?: number },
): NodeApiError {
	return faseehError(node, { message, description, httpCode: context.statusCode, itemIndex: context.itemIndex });
}

/**
 * A failure without a complete answer: refused, reset, timed out, cut off, cancelled. Built from
 * the low-level code and text only: the original error carries the request config, key included.
 */
/** Options → Timeout ran out: seconds without progress in the upload, or without an answer after it. */
export function timeoutError(
	node: INode,
	phase: 'upload' | 'answer',
	context: { timeoutSeconds: number; target: string; itemIndex?: number; createsVoice?: boolean },
): NodeApiError {
	const seconds = context.timeoutSeconds;
	const error =
		phase === 'upload'
			? faseehError(node, {
					message: `The upload to Faseeh made no progress for ${seconds} seconds (timeout)`,
					description: `${context.createsVoice ? 'Nothing was created: the upload did not finish. ' : ''}The connection stalled while sending the file. Check the network, or raise Options → Timeout for a link that stalls for longer.`,
					networkCode: 'ETIMEDOUT',
					itemIndex: context.itemIndex,
				})
			: faseehError(node, {
					message: `Faseeh did not answer within ${seconds} seconds (timeout)`,
					description: `Counted from the end of the upload. Raise the Timeout option if long texts or recordings need more time.${context.createsVoice ? ` ${VOICE_MAY_EXIST}` : ''}`,
					networkCode: 'ETIMEDOUT',
					itemIndex: context.itemIndex,
				});
	error.context.noAnswer = true;
	return error;
}

export function networkError(
	node: INode,
	cause: { code?: string; message?: string },
	context: {
		timeoutSeconds: number;
		target: string;
		itemIndex?: number;
		createsVoice?: boolean;
		elapsedMs?: number;
		/** False when the failure came before the whole body was sent: nothing can have been created. */
		uploadFinished?: boolean;
	},
): NodeApiError {
	const code = cause.code ?? '';
	const text = cause.message ?? '';
	// Axios reports a timeout that fires while the body streams in like a cut-off answer.
	const reachedTimeout = context.elapsedMs !== undefined && context.elapsedMs >= context.timeoutSeconds * 1000 - 50;
	const mayExist = !context.createsVoice
		? ''
		: context.uploadFinished === false
			? ' Nothing was created: the upload did not finish.'
			: ` ${VOICE_MAY_EXIST}`;
	let message: string;
	let description: string;
	const tls = TLS_PROBLEMS.find((entry) => entry.codes.includes(code) && (code !== 'EPROTO' || /ssl|tls|wrong version/i.test(text)));
	if (tls) {
		message = `The Faseeh host ${context.target} ${tls.problem} (${code})`;
		description = `Nothing was sent to it. ${tls.fix}`;
	} else if (code === 'ETIMEDOUT' && /connect ETIMEDOUT/i.test(text)) {
		// The operating system gave up connecting (no answer to the connection attempt): not the node's Timeout.
		message = `Could not connect to Faseeh at ${context.target}: the connection attempt timed out`;
		description = 'The host did not answer at all: check the Base URL, and that no firewall or proxy blocks this machine from reaching it.';
	} else if (isTimeout(code, text) || (reachedTimeout && isCutOff(code, text))) {
		message = `Faseeh did not answer within ${context.timeoutSeconds} seconds (timeout)`;
		description = `Raise the Timeout option if long uploads or texts need more time.${mayExist}`;
	} else if (code === 'ERR_CANCELED') {
		message = 'The request to Faseeh was cancelled because the execution was stopped';
		description = `The execution was cancelled while the request was in flight.${mayExist}`;
	} else if (isCutOff(code, text)) {
		message = 'Faseeh’s answer was cut off: the connection closed before the whole answer arrived';
		description = `The network or the server dropped the connection mid-answer. Try again.${mayExist}`;
	} else if (code === 'ECONNREFUSED') {
		message = `Could not connect to Faseeh at ${context.target}: the connection was refused`;
		description = 'Check the Base URL in the Faseeh API credential and that the host is reachable.';
	} else if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
		message = 'The connection to Faseeh was closed before an answer arrived';
		description = `The network or the server dropped the connection. Try again.${mayExist}`;
	} else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
		message = `Could not resolve the Faseeh host name (${context.target})`;
		description = 'Check the Base URL in the Faseeh API credential.';
	} else {
		message = `The request to Faseeh at ${context.target} failed${code ? ` (${code})` : ''}`;
		description = `Check the Base URL in the Faseeh API credential and your network.${mayExist}`;
	}
	const error = faseehError(node, { message, description, networkCode: code || undefined, itemIndex: context.itemIndex });
	error.context.noAnswer = true;
	return error;
}

/** True for errors built here from a Faseeh answer with this HTTP status. */
export function isFaseehStatus(error: unknown, status: number): error is NodeApiError {
	return error instanceof NodeApiError && error.httpCode === String(status);
}

/** True for an error built by networkError: no (complete) answer came from Faseeh. */
export function isNoAnswer(error: unknown): boolean {
	return error instanceof NodeApiError && error.context.noAnswer === true;
}

function isTimeout(code: string, text: string): boolean {
	return code === 'ECONNABORTED' || code === 'ETIMEDOUT' || /timeout|timed out/i.test(text);
}

/** Axios ends a response whose body stops early with ERR_BAD_RESPONSE "stream has been aborted". */
function isCutOff(code: string, text: string): boolean {
	return (code === 'ERR_BAD_RESPONSE' && /abort|terminated|premature|closed/i.test(text)) || /^aborted$|stream has been aborted/i.test(text);
}

/**
 * The low-level code and text of a failure, looked for along n8n's and axios's wrappers. They differ
 * between versions: 2.x and 1.85 keep the AxiosError as `cause`; 1.123 drops it (a class field resets
 * `cause`) and keeps only `httpCode` (the axios code, e.g. ECONNABORTED) and `messages` (axios's
 * texts, e.g. "timeout of 3000ms exceeded").
 */
export function findCause(error: unknown): { code?: string; message?: string } {
	const seen = new Set<unknown>();
	const queue: unknown[] = [error];
	const texts: string[] = [];
	let code: string | undefined;
	let fallbackCode: string | undefined;
	while (queue.length > 0 && seen.size < 12) {
		const current = queue.shift();
		if (!current || typeof current !== 'object' || seen.has(current)) continue;
		seen.add(current);
		const record = current as Record<string, unknown>;
		if (typeof record.message === 'string') texts.push(record.message);
		if (Array.isArray(record.messages)) texts.push(...record.messages.filter((text): text is string => typeof text === 'string'));
		if (code === undefined && typeof record.code === 'string' && LOW_LEVEL_CODE.test(record.code)) code = record.code;
		if (fallbackCode === undefined && typeof record.httpCode === 'string' && LOW_LEVEL_CODE.test(record.httpCode)) {
			fallbackCode = record.httpCode;
		}
		const context = record.context as Record<string, unknown> | undefined;
		for (const next of [record.cause, context?.cause, record.error, record.errorResponse, record.reason]) {
			if (next && typeof next === 'object') queue.push(next);
		}
	}
	return { code: code ?? fallbackCode, message: texts.join(' | ') || undefined };
}

/** Node's socket and HTTP codes (E…, ERR_…) and OpenSSL's certificate verdicts (see TLS_PROBLEMS). */
const LOW_LEVEL_CODE = /^(E[A-Z0-9_]+|ERR_[A-Z0-9_]+|[A-Z]+(_[A-Z0-9]+)*_(CERT|SIGNATURE|LOCALLY|CHAIN|ISSUER|VALID|EXPIRED|UNTRUSTED|FAILURE|MISMATCH))$/;

/** TLS failures by code: what happened, and the fix. */
const TLS_PROBLEMS: Array<{ codes: string[]; problem: string; fix: string }> = [
	{
		codes: ['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN'],
		problem: 'presented a self-signed TLS certificate',
		fix: 'Faseeh’s own hosts have public certificates: check the Base URL. For a private proxy, give n8n its CA (NODE_EXTRA_CA_CERTS=/path/ca.pem) rather than turning verification off.',
	},
	{
		codes: ['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'],
		problem: 'presented a TLS certificate that is expired or not yet valid',
		fix: 'Renew the certificate of the host in the Base URL, and check that this machine’s clock is right.',
	},
	{
		codes: ['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH'],
		problem: 'presented a TLS certificate for another host name',
		fix: 'Use the host name the certificate is for in the Base URL (an IP address or an alias does not match it).',
	},
	{
		codes: ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE'],
		problem: 'presented a TLS certificate this machine cannot verify',
		fix: 'The server must send its intermediate certificates; for a private CA, give n8n that CA with NODE_EXTRA_CA_CERTS.',
	},
	{
		codes: ['EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG'],
		problem: 'did not complete a TLS handshake',
		fix: 'The host may not speak https on that port (an http-only server, or the wrong port): check the Base URL.',
	},
];

/** GET /voices answered 404: the host has no voice list (documented for the Munsit host only). */
export function voiceListMissingError(node: INode, error: NodeApiError, itemIndex?: number): NodeApiError {
	return faseehError(node, {
		message: 'This Faseeh host does not offer the voice list (GET /voices answered 404)',
		description: `The voice list is documented for the Munsit host and may be missing on others. Type voice IDs directly in Speech → Generate, or switch the Base URL in the credential. Faseeh said: ${error.message}`,
		httpCode: 404,
		faseehCode: (error.context.errorCode as string | number | null | undefined) ?? undefined,
		itemIndex,
	});
}

/** The hosts known to serve Munsit speech-to-text (shared/munsit-stt.md section 1). */
export const STT_HOSTS = ['https://api.munsit.com/api/v1'];

/** The UAE data-residency host: its keys work only there (shared/faseeh-api.md 1.2, 9). */
export const UAE_HOST = 'ae.api.faseeh.ai';

/** An STT path answered 404: the credential's host does not serve speech-to-text. */
export function sttHostMissingError(node: INode, error: NodeApiError, baseURL: string, path: string, itemIndex?: number): NodeApiError {
	const advice = hostName(baseURL) === UAE_HOST
		? `Speech-to-text (Munsit) is known to be served by ${STT_HOSTS.join(', ')} only, not by the UAE data-residency host. UAE keys work only on ${UAE_HOST}, so choosing "Munsit" in this credential would need a key from the global dashboard, and the recordings would then be processed outside the UAE deployment: do that (with a second credential) only if this data may leave it.`
		: `Speech-to-text (Munsit) is known to be served by ${STT_HOSTS.join(', ')}; the Faseeh hosts (api.faseeh.ai, ae.api.faseeh.ai) are not known to serve it. Choose "Munsit" as the Base URL in the Faseeh API credential (the same key works), or a custom URL that serves /audio/transcribe.`;
	return faseehError(node, {
		message: `This host does not serve speech-to-text: ${baseURL} answered 404 for POST ${path}`,
		description: `${advice} The host said: ${error.message}`,
		httpCode: 404,
		faseehCode: (error.context.errorCode as string | number | null | undefined) ?? undefined,
		itemIndex,
	});
}

/** A binary could not be read from n8n's store (not Faseeh's fault, not the Base URL's). */
/**
 * A recording that cannot be used as it is (damaged, cut short, too long, no audio), found before
 * any request: the parameter, the binary field and the item are named; a decoder's own stack trace
 * never is.
 */
export function audioInputError(
	node: INode,
	parameterLabel: string,
	field: string,
	formatLabel: string,
	problem: string,
	itemIndex: number,
	description?: string,
): NodeOperationError {
	return new NodeOperationError(node, `Parameter "${parameterLabel}": the ${formatLabel} recording in binary field "${field}" ${problem} [item ${itemIndex}]`, {
		itemIndex,
		description,
	});
}

export function binaryReadError(node: INode, parameterLabel: string, field: string, cause: unknown, itemIndex: number): NodeOperationError {
	return new NodeOperationError(
		node,
		`Parameter "${parameterLabel}": could not read the binary field "${field}" from n8n's binary data store [item ${itemIndex}]`,
		{ itemIndex, description: `${describeStoreFailure(cause)} Nothing was sent to Faseeh.` },
	);
}

/**
 * Why n8n's binary store could not be read, in words for the workflow's author. The store's own
 * messages name server paths (`ENOENT: … open '/home/node/.n8n/storage/…'`): those are never
 * shown; the cause is named from the error's code.
 */
export function describeStoreFailure(cause: unknown): string {
	const code = typeof cause === 'object' && cause !== null ? String((cause as { code?: unknown }).code ?? '') : '';
	const name = cause instanceof Error ? cause.name : '';
	const message = cause instanceof Error ? cause.message : String(cause);
	if (code === 'ENOENT' || /FileNotFound|not found/i.test(name) || /ENOENT|not found|EntityNotFound|Could not find/i.test(message)) {
		return 'The stored file is gone: n8n may have pruned this execution\'s binary data, or this process does not share the folder (filesystem mode) or database where it was stored.';
	}
	if (code === 'EACCES' || code === 'EPERM') return 'n8n may not read its binary data folder (file permissions).';
	if (code === 'EMFILE' || code === 'ENFILE') return 'The system has too many open files; lower the Concurrency option or raise the limit.';
	if (code === 'EISDIR' || code === 'ENOTDIR') return 'The binary data folder is not laid out as n8n expects.';
	return `Reading the file failed: ${redactPaths(message)}${code ? ` (${code})` : ''}.`;
}

/** Replaces file-system paths in a message with `<path>`. */
export function redactPaths(message: string): string {
	return message.replace(/(?<![\w:/\\])(?:[A-Za-z]:)?(?:[\\/][^\s'"`\\/,;:)]+){2,}[\\/]?/g, '<path>');
}

function hostName(url: string): string {
	try {
		return new URL(url).hostname.toLowerCase();
	} catch {
		return '';
	}
}
