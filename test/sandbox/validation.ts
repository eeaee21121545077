/** Request checks shared by the endpoints: content types, the exact multipart field lists, values. */
import type { Ctx, ParsedPart } from './body';
import { SANDBOX_MODELS } from './catalog';
import { bad, notFound } from './errors';
import { sniffAudio } from './audio';
import { parseHeaderValue } from './multipart';

export function decodeSegment(segment: string): string {
	try {
		return decodeURIComponent(segment);
	} catch {
		throw notFound();
	}
}

export function mediaType(header: string | undefined): string | undefined {
	if (header === undefined) return undefined;
	try {
		return parseHeaderValue(header).value;
	} catch {
		return undefined;
	}
}

export type FieldKind = 'file' | 'text' | 'optional-text';

export interface Form {
	texts: Map<string, string>;
	files: Map<string, ParsedPart>;
}

/**
 * Checks the multipart structure against an exact field list: no unknown, repeated or missing
 * parts, text parts without filename and valid UTF-8, file parts present (contents checked later).
 * `textFirst`: text fields must all come before the first file part, since some multipart
 * parsers only see the fields sent before the files.
 */
export function readForm(ctx: Ctx, spec: Record<string, FieldKind>, textFirst = true): Form {
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
		if (textFirst && files.size > 0) {
			const file = [...files.keys()][0];
			throw bad(`${part.name} must be sent before the file parts (it came after ${file}; sandbox strict mode)`);
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

export function checkAudioFile(name: string, part: ParsedPart | undefined): ParsedPart {
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

export function checkPreviewText(text: string): void {
	const trimmed = text.trim();
	if (trimmed === '') throw bad('text is required');
	const words = trimmed.split(/\s+/u).length;
	const codePoints = Array.from(trimmed).length;
	if (words < 3 || codePoints < 10) throw bad('text must contain at least 3 words and 10 characters');
}

export function checkModel(modelId: string): void {
	if (!SANDBOX_MODELS.some((m) => m.model_id === modelId)) throw bad(`Model not found: ${modelId}`);
}

/** A plain decimal string such as "0.5" or "1" (no exponent, no spaces, no hex). */
export function parseDecimal(value: string): number | undefined {
	return /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : undefined;
}

export function isHttpUrl(value: string): boolean {
	try {
		const url = new URL(value);
		return url.protocol === 'http:' || url.protocol === 'https:';
	} catch {
		return false;
	}
}
