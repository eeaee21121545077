/**
 * A strict multipart/form-data parser (RFC 7578 over RFC 2046 framing) for fully-buffered bodies.
 *
 * The sandbox uses it to check that the n8n nodes produce well-formed uploads, so it rejects
 * things lenient servers accept: LF-only framing, a missing final `--boundary--`, parts without
 * a Content-Disposition, folded headers, duplicate headers or parameters, `filename*`, and
 * Content-Transfer-Encoding other than 7bit/8bit/binary.
 */

export interface MultipartPart {
	name: string;
	/** Present (possibly '') when the Content-Disposition carried a filename parameter. */
	filename?: string;
	/** The part's Content-Type header as sent, if any (RFC 7578 default is text/plain). */
	contentType?: string;
	/** The part's bytes, exactly as sent. A view into the body buffer (no copy). */
	data: Buffer;
	/** Part headers, names lowercased. */
	headers: Record<string, string>;
}

/** Thrown for any malformed input; `code` lets callers tell it apart from programming errors. */
export class MultipartError extends Error {
	readonly code = 'MULTIPART_MALFORMED';

	constructor(message: string) {
		super(message);
		this.name = 'MultipartError';
	}
}

export interface HeaderValue {
	/** The value before the first ';', trimmed and lowercased (e.g. 'multipart/form-data'). */
	value: string;
	/** Parameters, names lowercased, values unquoted. */
	params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// RFC 2046 bchars; a boundary may contain spaces but must not end with one.
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * Parses `type/subtype; a=b; c="quoted \"x\""` (RFC 7231 section 3.1.1.1 style) strictly:
 * parameter values are tokens or quoted-strings, names are unique.
 */
export function parseHeaderValue(header: string): HeaderValue {
	const semi = header.indexOf(';');
	const value = (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
	const params: Record<string, string> = {};
	if (semi < 0) return { value, params };

	let i = semi;
	const skipWs = () => {
		while (i < header.length && (header[i] === ' ' || header[i] === '\t')) i++;
	};
	while (i < header.length) {
		if (header[i] !== ';') throw new MultipartError(`Expected ';' at offset ${i} in "${header}"`);
		i++;
		skipWs();
		const eq = header.indexOf('=', i);
		if (eq < 0) throw new MultipartError(`Parameter without '=' in "${header}"`);
		const name = header.slice(i, eq).toLowerCase();
		if (!TOKEN.test(name)) throw new MultipartError(`Invalid parameter name "${name}"`);
		i = eq + 1;
		let paramValue = '';
		if (header[i] === '"') {
			// quoted-string with quoted-pair escapes (RFC 7230 section 3.2.6).
			i++;
			let closed = false;
			while (i < header.length) {
				const ch = header[i];
				if (ch === '\\' && i + 1 < header.length) {
					paramValue += header[i + 1];
					i += 2;
				} else if (ch === '"') {
					closed = true;
					i++;
					break;
				} else {
					paramValue += ch;
					i++;
				}
			}
			if (!closed) throw new MultipartError(`Unterminated quoted string for parameter "${name}"`);
		} else {
			const start = i;
			while (i < header.length && header[i] !== ';' && header[i] !== ' ' && header[i] !== '\t') i++;
			paramValue = header.slice(start, i);
			if (!TOKEN.test(paramValue)) {
				throw new MultipartError(`Parameter "${name}" must be a token or a quoted string`);
			}
		}
		if (Object.prototype.hasOwnProperty.call(params, name)) {
			throw new MultipartError(`Duplicate parameter "${name}"`);
		}
		params[name] = paramValue;
		skipWs();
	}
	return { value, params };
}

/** Returns the boundary of a multipart/form-data Content-Type header, or throws. */
export function boundaryOf(contentTypeHeader: string): string {
	const { value, params } = parseHeaderValue(contentTypeHeader);
	if (value !== 'multipart/form-data') {
		throw new MultipartError(`Content-Type must be multipart/form-data, got "${value}"`);
	}
	const boundary = params.boundary;
	if (boundary === undefined) throw new MultipartError('Content-Type has no boundary parameter');
	if (!BOUNDARY.test(boundary)) {
		throw new MultipartError('boundary must be 1-70 characters from the RFC 2046 set');
	}
	return boundary;
}

export function parseMultipart(body: Buffer, contentTypeHeader: string): MultipartPart[] {
	const boundary = boundaryOf(contentTypeHeader);
	const dashBoundary = Buffer.from(`--${boundary}`, 'latin1');
	const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');

	// The first delimiter starts the body or follows a CRLF; anything before it is preamble.
	let pos: number;
	if (body.subarray(0, dashBoundary.length).equals(dashBoundary)) {
		pos = dashBoundary.length;
	} else {
		const first = body.indexOf(delimiter);
		if (first < 0) throw new MultipartError('Opening boundary not found');
		pos = first + delimiter.length;
	}

	const parts: MultipartPart[] = [];
	for (;;) {
		// `pos` is just after a delimiter: either the close delimiter, or padding + CRLF.
		if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // '--': epilogue ignored
		while (body[pos] === 0x20 || body[pos] === 0x09) pos++; // transport padding
		if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) {
			throw new MultipartError(
				pos >= body.length
					? 'Body ends without the closing boundary'
					: 'Boundary line must end with CRLF (or the boundary occurs inside content)',
			);
		}
		pos += 2;

		if (body[pos] === 0x0d && body[pos + 1] === 0x0a) {
			throw new MultipartError('Part has no headers (Content-Disposition is required)');
		}
		const headerEnd = body.indexOf(CRLFCRLF, pos);
		const nextFromHeaders = body.indexOf(delimiter, pos);
		if (headerEnd < 0 || (nextFromHeaders >= 0 && nextFromHeaders < headerEnd + 4)) {
			throw new MultipartError('Part headers are not terminated by an empty line');
		}
		const dataStart = headerEnd + 4;
		const next = body.indexOf(delimiter, dataStart);
		if (next < 0) throw new MultipartError('Body ends without the closing boundary');

		const headers = parsePartHeaders(body.subarray(pos, headerEnd));
		parts.push(buildPart(headers, body.subarray(dataStart, next)));
		pos = next + delimiter.length;
	}
}

function parsePartHeaders(block: Buffer): Record<string, string> {
	const headers: Record<string, string> = {};
	// Split on CRLF only, then reject stray CR/LF: bare line ends are not valid framing.
	let start = 0;
	const lines: string[] = [];
	for (;;) {
		const end = block.indexOf(CRLF, start);
		lines.push(block.subarray(start, end < 0 ? block.length : end).toString('utf8'));
		if (end < 0) break;
		start = end + 2;
	}
	for (const line of lines) {
		if (/[\r\n]/.test(line)) throw new MultipartError('Bare CR or LF in part headers');
		if (line.startsWith(' ') || line.startsWith('\t')) {
			throw new MultipartError('Folded (obs-fold) part headers are not allowed');
		}
		const colon = line.indexOf(':');
		if (colon <= 0) throw new MultipartError(`Malformed part header line "${line}"`);
		const name = line.slice(0, colon).toLowerCase();
		if (!TOKEN.test(name)) throw new MultipartError(`Invalid part header name "${name}"`);
		if (Object.prototype.hasOwnProperty.call(headers, name)) {
			throw new MultipartError(`Duplicate part header "${name}"`);
		}
		headers[name] = line.slice(colon + 1).trim();
	}
	return headers;
}

function buildPart(headers: Record<string, string>, data: Buffer): MultipartPart {
	const disposition = headers['content-disposition'];
	if (disposition === undefined) throw new MultipartError('Part without Content-Disposition');
	const { value, params } = parseHeaderValue(disposition);
	if (value !== 'form-data') {
		throw new MultipartError(`Content-Disposition must be form-data, got "${value}"`);
	}
	if (params.name === undefined || params.name === '') {
		throw new MultipartError('Content-Disposition has no name parameter');
	}
	// RFC 7578 section 4.2: senders MUST NOT use the RFC 5987 form in multipart/form-data.
	if (params['filename*'] !== undefined) {
		throw new MultipartError('filename* is not allowed in multipart/form-data (RFC 7578 4.2)');
	}
	const cte = headers['content-transfer-encoding'];
	if (cte !== undefined && !['7bit', '8bit', 'binary'].includes(cte.toLowerCase())) {
		throw new MultipartError(`Unsupported Content-Transfer-Encoding "${cte}" (RFC 7578 4.7)`);
	}
	const part: MultipartPart = { name: params.name, data, headers };
	if (params.filename !== undefined) part.filename = params.filename;
	if (headers['content-type'] !== undefined) part.contentType = headers['content-type'];
	return part;
}
