import { createHash } from 'crypto';
import { Readable } from 'stream';
import FormData from 'form-data';
import type { IBinaryData, IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { confirmMpegFrames, isRawPcmMimeType, rawPcmToWav, SNIFF_BYTES, sniffFormat } from './audio';
import { binaryReadError } from './transport/errors';

export const DEFAULT_MAX_FILE_SIZE_MB = 100;

/** Where an audio input comes from: the node parameter naming an input binary field. */
export interface AudioInputSpec {
	/** Display name of the parameter, used in error messages. */
	parameterLabel: string;
	/** The binary field name the parameter holds. */
	field: string;
	maxBytes: number;
	/** The binary itself, when the parameter held a binary object rather than a field name. */
	object?: IBinaryData;
}

/**
 * A binary-field parameter: normally a field name ("data"), but an expression such as
 * `{{ $binary.data }}` (or n8n 2.x's combined binary mode) gives the binary object itself. The
 * object is used as it is; anything else that is not text is refused, naming what it is.
 */
export function binaryFieldParameter(
	this: IExecuteFunctions,
	parameterName: string,
	parameterLabel: string,
	itemIndex: number,
): Pick<AudioInputSpec, 'field' | 'object'> {
	const value = this.getNodeParameter(parameterName, itemIndex) as unknown;
	if (typeof value === 'string' || typeof value === 'number') return { field: String(value) };
	if (value && typeof value === 'object' && !Array.isArray(value)) {
		const record = value as Record<string, unknown>;
		if (typeof record.mimeType === 'string' && (typeof record.data === 'string' || typeof record.id === 'string')) {
			return { field: String(record.fileName ?? 'binary object'), object: value as IBinaryData };
		}
	}
	const got = Array.isArray(value) ? 'a list' : value && typeof value === 'object' ? `an object with ${Object.keys(value).slice(0, 5).join(', ') || 'no keys'}` : String(value);
	throw new NodeOperationError(
		this.getNode(),
		`Parameter "${parameterLabel}" must be the name of a binary field (such as data) or a binary file, got ${got} [item ${itemIndex}]`,
		{ itemIndex, description: 'Type the field name, or use an expression that gives a binary file, such as {{ $binary.data }}.' },
	);
}

/**
 * An input binary checked to be non-empty, within size and audio. Id-backed binaries (n8n's
 * filesystem, database and S3 modes) are not read here: they are streamed when the request is sent.
 */
export interface AudioInput {
	spec: AudioInputSpec;
	binary: IBinaryData;
	fileName: string;
	/** The audio MIME type sent with the part. */
	mimeType: string;
	size: number;
	/** The container the first bytes show (wav, mp3, ogg …), when they match a known signature. */
	format?: string;
	/** Present for in-memory binaries (and raw PCM, which is wrapped as WAV). */
	buffer?: Buffer;
	/** A file the node made itself, in parts sent one after another (a converted recording: see decode/convert.ts). */
	parts?: Buffer[];
}

/** Finds, checks and describes one audio input of one item, before any request is sent. */
export async function readAudioInput(
	this: IExecuteFunctions,
	itemIndex: number,
	spec: AudioInputSpec,
): Promise<AudioInput> {
	const binary = findBinary.call(this, itemIndex, spec);
	const node = this.getNode();
	const fail = (message: string, description?: string) =>
		new NodeOperationError(node, `${message} [item ${itemIndex}]`, { itemIndex, description });

	const label = `"${spec.parameterLabel}" (binary field "${spec.field}")`;
	// Every read of n8n's binary store goes through here: a failure names the parameter, never
	// the server's paths.
	const fromStore = async <T>(read: () => Promise<T>): Promise<T> => {
		try {
			return await read();
		} catch (error) {
			throw binaryReadError(node, spec.parameterLabel, spec.field, error, itemIndex);
		}
	};

	let buffer: Buffer | undefined;
	let size: number;
	if (binary.id && isDatabaseBacked(binary.id)) {
		// n8n's database mode has no streaming read: every getBinaryStream loads the whole row
		// (DatabaseManager.getAsStream is Readable.from(the buffer)). One read per item, reused for
		// the check, the upload and any retry, instead of one per use.
		buffer = await fromStore(async () => await readAll.call(this, binary.id as string));
		size = buffer.length;
	} else if (binary.id) {
		// The stored metadata's fileSize is a byte count on every n8n version (the item's own
		// fileSize is a display string like "63.4 kB", and only n8n 2.x adds a numeric `bytes`).
		size = Number((await fromStore(async () => await this.helpers.getBinaryMetadata(binary.id as string))).fileSize);
	} else {
		buffer = inlineBytes(binary);
		size = buffer.length;
	}
	if (size === 0) {
		throw fail(`The file in ${label} is empty`, 'Pass a recording with audio in it.');
	}
	if (size > spec.maxBytes) {
		throw fail(
			`The file in ${label} is ${size} bytes (${formatMb(size)} MB), over the limit of ${spec.maxBytes} bytes (${formatMb(spec.maxBytes)} MB)`,
			'Raise the Max File Size option, or use a shorter or more compressed recording.',
		);
	}

	const declared = (binary.mimeType ?? '').toLowerCase();
	if (!buffer && isRawPcmMimeType(declared)) {
		// Headerless PCM is wrapped in memory below anyway: read it once.
		buffer = await fromStore(async () => await readAll.call(this, binary.id as string));
	}
	const head = buffer
		? buffer.subarray(0, INPUT_HEAD_BYTES)
		: await fromStore(async () => await readHead.call(this, binary.id as string));
	let sniffed = sniffFormat(head.subarray(0, SNIFF_BYTES));
	// A bare MPEG frame sync is only a hint (headerless PCM can start with FF FF): frames that
	// follow one another confirm it.
	if (sniffed?.weak && !(sniffed.format === 'mp3' ? confirmMpegFrames(head) : true)) sniffed = undefined;
	if (isRawPcmMimeType(declared) && (!sniffed || sniffed.weak)) {
		// Headerless PCM (a preview fetched with an HTTP Request node, say) gets a WAV header:
		// an upload needs a container the server can recognise.
		const wav = rawPcmToWav(buffer as Buffer, declared);
		return {
			spec,
			binary,
			fileName: withExtension(binary.fileName ?? spec.field, 'wav'),
			mimeType: 'audio/wav',
			size: wav.length,
			format: 'wav',
			buffer: wav,
		};
	}

	const declaredAudio = declared.startsWith('audio/') || declared.startsWith('video/webm');
	if (sniffed && !sniffed.audio) {
		throw fail(
			`The file in ${label} is not audio: its content is ${sniffed.format.toUpperCase()}`,
			sniffed.format === 'text'
				? 'Its first bytes are text (an error page, a JSON answer or a transcript saved as a file?). Pass an audio recording (WAV, MP3, OGG, FLAC, M4A, WEBM).'
				: 'Pass an audio recording (WAV, MP3, OGG, FLAC, M4A, WEBM).',
		);
	}
	if (!sniffed && !declaredAudio) {
		throw fail(
			`The file in ${label} is not audio (MIME type ${declared || 'unknown'})`,
			'Pass an audio recording (WAV, MP3, OGG, FLAC, M4A, WEBM).',
		);
	}
	// A container labelled raw PCM (a WAV saved as audio/L16, say) is sent as what it is.
	const labelTrusted = declaredAudio && !isRawPcmMimeType(declared);
	const mimeType = labelTrusted ? declared.split(';')[0].trim() : (sniffed?.mimeType ?? declared);
	const fileName = binary.fileName ?? `${spec.field}.${sniffed?.format ?? 'audio'}`;
	return {
		spec,
		binary,
		fileName: !labelTrusted && sniffed && /\.(pcm|raw|l16)$/i.test(fileName) ? withExtension(fileName, sniffed.format) : fileName,
		mimeType,
		size,
		format: sniffed?.format,
		buffer,
	};
}

/** Binaries n8n keeps in its database: reading one always loads it whole. */
function isDatabaseBacked(binaryId: string): boolean {
	return binaryId.startsWith('database:');
}

/** The leading bytes read to recognise an input: enough for a few MPEG frames. */
const INPUT_HEAD_BYTES = 4096;

/** Wraps audio the node produced itself (a preview) as an input for an upload. */
export function audioInputFromBuffer(buffer: Buffer, fileName: string, mimeType: string, spec: AudioInputSpec): AudioInput {
	return { spec, binary: { data: '', mimeType, fileName }, fileName, mimeType, size: buffer.length, buffer };
}

/** Looks the field up on the item; the message lists the fields the item does have. */
function findBinary(this: IExecuteFunctions, itemIndex: number, spec: AudioInputSpec): IBinaryData {
	if (spec.object) return spec.object;
	const item = this.getInputData()[itemIndex];
	const field = spec.field.trim();
	const direct = item?.binary?.[field];
	if (direct) return direct;
	try {
		// Handles the "combined" binary mode, where the field is a path into the item's JSON.
		return this.helpers.assertBinaryData(itemIndex, field);
	} catch {
		const available = Object.keys(item?.binary ?? {});
		const holdsJson = item?.json !== undefined && field in item.json;
		const reason = field
			? holdsJson
				? `"${field}" holds JSON data, not a binary file`
				: `the input item has no binary field "${field}"`
			: 'no binary field name is set';
		const found = available.length
			? `binary fields on this item: ${available.join(', ')}`
			: 'this item has no binary fields';
		throw new NodeOperationError(
			this.getNode(),
			`Parameter "${spec.parameterLabel}": ${reason}; ${found} [item ${itemIndex}]`,
			{
				itemIndex,
				description: `Set "${spec.parameterLabel}" to the name of the input binary field that holds the audio file.`,
			},
		);
	}
}

/**
 * The bytes of an in-memory binary: n8n keeps them base64-encoded in `data`. Read here rather
 * than with `helpers.getBinaryDataBuffer`, whose second argument is the binary object from n8n
 * 1.115 on but the binary field's name before (and a field name cannot reach a binary found
 * through a path in the "combined" mode).
 */
function inlineBytes(binary: IBinaryData): Buffer {
	return Buffer.from(binary.data ?? '', 'base64');
}

/** The whole content of an id-backed binary (raw PCM, which must be wrapped; any file in database mode). */
async function readAll(this: IExecuteFunctions, binaryId: string): Promise<Buffer> {
	const chunks: Buffer[] = [];
	for await (const chunk of await this.helpers.getBinaryStream(binaryId)) chunks.push(chunk as Buffer);
	// n8n's database store hands the whole row over as one chunk: kept as it is, not copied.
	return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

async function readHead(this: IExecuteFunctions, binaryId: string): Promise<Buffer> {
	const stream = await this.helpers.getBinaryStream(binaryId, INPUT_HEAD_BYTES);
	const chunks: Buffer[] = [];
	let length = 0;
	try {
		for await (const chunk of stream) {
			chunks.push(chunk as Buffer);
			length += (chunk as Buffer).length;
			if (length >= INPUT_HEAD_BYTES) break;
		}
		return Buffer.concat(chunks).subarray(0, INPUT_HEAD_BYTES);
	} finally {
		stream.destroy();
	}
}

/** The file streams each multipart body reads from, so they can be closed when its request ends. */
const partStreams = new WeakMap<object, Array<{ destroy(): unknown }>>();

/** Adds a file part: id-backed binaries are streamed with a known length, others sent from memory. */
export async function appendAudioPart(
	this: IExecuteFunctions,
	form: FormData,
	partName: string,
	input: AudioInput,
	itemIndex: number,
): Promise<void> {
	const options = { filename: input.fileName, contentType: input.mimeType, knownLength: input.size };
	if (input.buffer) {
		form.append(partName, input.buffer, options);
		return;
	}
	if (input.parts) {
		// The parts are not joined (that would hold the file twice): each attempt streams them anew.
		const parts = Readable.from(input.parts, { objectMode: false });
		partStreams.set(form, [...(partStreams.get(form) ?? []), parts]);
		form.append(partName, parts, options);
		return;
	}
	let stream: Awaited<ReturnType<IExecuteFunctions['helpers']['getBinaryStream']>>;
	try {
		stream = await this.helpers.getBinaryStream(input.binary.id as string);
	} catch (error) {
		throw binaryReadError(this.getNode(), input.spec.parameterLabel, input.spec.field, error, itemIndex);
	}
	partStreams.set(form, [...(partStreams.get(form) ?? []), stream]);
	form.append(partName, stream, options);
}

/**
 * Builds a multipart body with `fill`. If filling fails half-way (the second file cannot be
 * read), the streams already opened for it are closed before the error goes on.
 */
export async function multipartBody(fill: (form: FormData) => Promise<void>): Promise<FormData> {
	const form = new FormData();
	let filled = false;
	try {
		await fill(form);
		filled = true;
		return form;
	} finally {
		if (!filled) closePartStreams(form);
	}
}

/**
 * Closes the file streams of a multipart body once its request is over. After a complete upload
 * they have ended already; after a dropped one (a reset mid-upload) they are left paused with
 * their file open, and nothing else would ever close them.
 */
export function closePartStreams(body: unknown): void {
	if (typeof body !== 'object' || body === null) return;
	for (const stream of partStreams.get(body) ?? []) stream.destroy();
	partStreams.delete(body);
}

/** True when both inputs hold the same bytes. Only equal-sized files are hashed. */
export async function haveSameContent(
	this: IExecuteFunctions,
	a: AudioInput,
	b: AudioInput,
	itemIndex: number,
): Promise<boolean> {
	if (a.binary.id && a.binary.id === b.binary.id) return true;
	if (a.size !== b.size) return false;
	const hashOf = async (input: AudioInput, itemIndex: number) => {
		try {
			return await sha256.call(this, input);
		} catch (error) {
			throw binaryReadError(this.getNode(), input.spec.parameterLabel, input.spec.field, error, itemIndex);
		}
	};
	const [hashA, hashB] = await Promise.all([hashOf(a, itemIndex), hashOf(b, itemIndex)]);
	return hashA === hashB;
}

async function sha256(this: IExecuteFunctions, input: AudioInput): Promise<string> {
	const hash = createHash('sha256');
	if (input.buffer) return hash.update(input.buffer).digest('hex');
	if (input.parts) {
		for (const part of input.parts) hash.update(part);
		return hash.digest('hex');
	}
	const stream = await this.helpers.getBinaryStream(input.binary.id as string);
	for await (const chunk of stream) hash.update(chunk as Buffer);
	return hash.digest('hex');
}

function withExtension(fileName: string, extension: string): string {
	const base = fileName.replace(/\.[A-Za-z0-9]{1,5}$/, '');
	return `${base}.${extension}`;
}

function formatMb(bytes: number): string {
	return (bytes / (1024 * 1024)).toFixed(bytes < 1024 * 1024 ? 3 : 1);
}
