/** Writing answers: JSON and raw bodies with a Content-Length, and audio sent whole or in chunks. */
import type * as http from 'node:http';
import { JSON_CONTENT_TYPE } from './types';

/** What an endpoint answers. */
export type Reply =
	| { kind: 'json'; status: number; body: unknown }
	| { kind: 'audio'; contentType: string; data: Buffer; chunked: boolean };

// Odd sizes first so chunk boundaries fall mid-sample, as the real streaming endpoints do.
const CHUNK_SIZES = [1001, 4096, 2731, 8192];

export function sendRaw(
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

export function sendJson(
	res: http.ServerResponse,
	status: number,
	body: unknown,
	headers: Record<string, string> = {},
): void {
	sendRaw(res, status, JSON_CONTENT_TYPE, JSON.stringify(body), headers);
}

export async function sendAudio(res: http.ServerResponse, reply: Extract<Reply, { kind: 'audio' }>): Promise<void> {
	if (!reply.chunked) {
		return sendRaw(res, 200, reply.contentType, reply.data, { 'Cache-Control': 'no-cache' });
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
