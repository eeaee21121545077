/**
 * Reading a request body and parsing it for the record: every request is recorded with its
 * parts, fields or JSON, whatever the route or the outcome.
 */
import type * as http from 'node:http';
import { sha256 } from './catalog';
import { MultipartError, parseHeaderValue, parseMultipart, type MultipartPart } from './multipart';
import type { RecordedPart, RecordedRequest } from './types';

export const DEFAULT_MAX_BODY = 512 * 1024 * 1024;

export interface ParsedPart extends MultipartPart {
	sha256: string;
}

/** A request as the endpoints see it. */
export interface Ctx {
	req: http.IncomingMessage;
	rec: RecordedRequest;
	parts?: ParsedPart[];
	json?: unknown;
	parseError?: string;
}

export interface Body {
	data: Buffer;
	tooLarge: boolean;
	/** False when the connection closed before the body ended (client abort or reset fault). */
	complete: boolean;
}

/**
 * Reads the whole body. With a Content-Length it is copied into one preallocated buffer
 * (no chunk list + concat, which would double peak memory on a 200 MiB upload). Bodies over
 * the limit are drained, counted and dropped, so the 413 is answered after a full read.
 * `resetAfter`: destroy the socket once this many bytes arrived (the reset fault).
 */
export function readBody(
	req: http.IncomingMessage,
	rec: RecordedRequest,
	limit: number,
	resetAfter: number | undefined,
): Promise<Body> {
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

/**
 * Parses the body for the record (and the endpoints). `keepPartData` false: recorded parts keep
 * size and sha256 but an empty `data`.
 */
export function recordBody(req: http.IncomingMessage, rec: RecordedRequest, body: Buffer, keepPartData: boolean): Ctx {
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
			ctx.parts = parseMultipart(body, contentType).map((p) => ({ ...p, sha256: sha256(p.data) }));
			rec.parts = ctx.parts.map((p) => {
				const part: RecordedPart = {
					name: p.name,
					size: p.data.length,
					sha256: p.sha256,
					data: keepPartData ? p.data : Buffer.alloc(0),
				};
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
