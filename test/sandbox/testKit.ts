/**
 * Helpers for the sandbox's own tests: hand-built multipart bodies (what fetch cannot produce:
 * missing filename, repeated fields), raw sockets for chunk framing, WAV header parsing.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { makePcm16, wrapWav } from './audio';

export const TEXT = 'مرحبا بك في فصيح كيف حالك اليوم';
export const MODEL = 'faseeh-v1-preview';

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
export const wav = (seconds = 0.2, freq = 330) => wrapWav(makePcm16(seconds, 24000, freq));
export const blob = (data: Buffer, type: string) => new Blob([new Uint8Array(data)], { type });

export interface RawPart {
	name: string;
	filename?: string;
	contentType?: string;
	data: string | Buffer;
}

export const BOUNDARY = 'sandbox-test-boundary-7f3a';

/** Builds a multipart body by hand, exactly as described (no escaping, no defaults). */
export function buildMultipart(parts: RawPart[], boundary = BOUNDARY): { body: Buffer; contentType: string } {
	const chunks: Buffer[] = [];
	for (const part of parts) {
		let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
		if (part.filename !== undefined) head += `; filename="${part.filename}"`;
		head += '\r\n';
		if (part.contentType !== undefined) head += `Content-Type: ${part.contentType}\r\n`;
		chunks.push(Buffer.from(`${head}\r\n`, 'utf8'), Buffer.from(part.data), Buffer.from('\r\n'));
	}
	chunks.push(Buffer.from(`--${boundary}--\r\n`));
	return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export function cloneParts(): RawPart[] {
	return [
		{ name: 'text', data: TEXT },
		{ name: 'stability', data: '0.5' },
		{ name: 'name', data: 'My Voice' },
		{ name: 'model', data: MODEL },
		{ name: 'voice_file', filename: 'preview.wav', contentType: 'audio/wav', data: wav(0.2, 300) },
		{ name: 'reference_audio_file', filename: 'original.wav', contentType: 'audio/wav', data: wav(0.3, 200) },
	];
}

export function previewParts(text = TEXT): RawPart[] {
	return [
		{ name: 'text', data: text },
		{ name: 'similarity', data: '0.8' },
		{ name: 'model_id', data: MODEL },
		{ name: 'file', filename: 'me.wav', contentType: 'audio/wav', data: wav(0.5, 180) },
	];
}

/** `parts` with `extra` text fields inserted before the first file part (text first, as the sandbox wants). */
export function withFields(parts: RawPart[], ...extra: RawPart[]): RawPart[] {
	const firstFile = parts.findIndex((p) => p.filename !== undefined);
	const at = firstFile < 0 ? parts.length : firstFile;
	return [...parts.slice(0, at), ...extra, ...parts.slice(at)];
}

export const without = (parts: RawPart[], name: string) => parts.filter((p) => p.name !== name);
export const patch = (parts: RawPart[], name: string, change: Partial<RawPart>) =>
	parts.map((p) => (p.name === name ? { ...p, ...change } : p));
/** Drops the filename of one part (spread cannot remove a key). */
export const asTextPart = (parts: RawPart[], name: string) =>
	parts.map((p) => (p.name === name ? { name: p.name, contentType: p.contentType, data: p.data } : p));

export function ttsBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
	return { voice_id: 'ar-najdi-male-2', text: TEXT, stability: 0.5, streaming: false, ...overrides };
}

/** Polls until `predicate` holds; the deadline is generous (a busy machine is slow, not wrong). */
export async function waitFor(predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!predicate()) {
		if (Date.now() > deadline) throw new Error('waitFor: condition not met in time');
		await new Promise((r) => setTimeout(r, 10));
	}
}

/** Sends raw bytes on a fresh socket and returns everything the server sent until it closed. */
export function rawExchange(baseUrl: string, request: Buffer): Promise<Buffer> {
	const { port, hostname } = new URL(baseUrl);
	return new Promise((resolve, reject) => {
		const socket = net.connect(Number(port), hostname);
		const chunks: Buffer[] = [];
		socket.on('data', (c: Buffer) => chunks.push(c));
		socket.on('end', () => resolve(Buffer.concat(chunks)));
		socket.on('error', reject);
		socket.write(request);
	});
}

/** Splits an HTTP/1.1 chunked response into header text and the chunk sizes + payload. */
export function decodeChunked(response: Buffer): { head: string; sizes: number[]; payload: Buffer } {
	const headEnd = response.indexOf('\r\n\r\n');
	const head = response.subarray(0, headEnd).toString('latin1');
	let pos = headEnd + 4;
	const sizes: number[] = [];
	const pieces: Buffer[] = [];
	for (;;) {
		const lineEnd = response.indexOf('\r\n', pos);
		const size = parseInt(response.subarray(pos, lineEnd).toString('latin1'), 16);
		pos = lineEnd + 2;
		if (size === 0) break;
		sizes.push(size);
		pieces.push(response.subarray(pos, pos + size));
		pos += size + 2;
	}
	return { head, sizes, payload: Buffer.concat(pieces) };
}

export function parseWav(buf: Buffer) {
	return {
		riff: buf.toString('latin1', 0, 4),
		riffSize: buf.readUInt32LE(4),
		wave: buf.toString('latin1', 8, 12),
		fmt: buf.toString('latin1', 12, 16),
		fmtSize: buf.readUInt32LE(16),
		format: buf.readUInt16LE(20),
		channels: buf.readUInt16LE(22),
		sampleRate: buf.readUInt32LE(24),
		byteRate: buf.readUInt32LE(28),
		blockAlign: buf.readUInt16LE(32),
		bits: buf.readUInt16LE(34),
		data: buf.toString('latin1', 36, 40),
		dataSize: buf.readUInt32LE(40),
	};
}
