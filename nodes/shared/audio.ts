import { readFrameHeader } from './decode/mpeg';

/** Faseeh's raw audio (preview and streaming speech) is headerless PCM16 LE, mono, 24 kHz. */
export const FASEEH_PCM_FORMAT = { sampleRate: 24000, channels: 1, bitsPerSample: 16 } as const;

export interface PcmFormat {
	sampleRate: number;
	channels: number;
	bitsPerSample: number;
}

/** Wraps headerless PCM in a 44-byte RIFF/WAVE header so players and the clone endpoint accept it. */
export function wrapPcmAsWav(pcm: Buffer, format: PcmFormat = FASEEH_PCM_FORMAT): Buffer {
	const blockAlign = (format.channels * format.bitsPerSample) / 8;
	// A chunk that ends mid-sample would shift every later sample: keep whole frames only.
	const dataSize = pcm.length - (pcm.length % blockAlign);
	const header = Buffer.alloc(44);
	header.write('RIFF', 0, 'ascii');
	header.writeUInt32LE(36 + dataSize, 4);
	header.write('WAVE', 8, 'ascii');
	header.write('fmt ', 12, 'ascii');
	header.writeUInt32LE(16, 16);
	header.writeUInt16LE(1, 20); // PCM
	header.writeUInt16LE(format.channels, 22);
	header.writeUInt32LE(format.sampleRate, 24);
	header.writeUInt32LE(format.sampleRate * blockAlign, 28);
	header.writeUInt16LE(blockAlign, 32);
	header.writeUInt16LE(format.bitsPerSample, 34);
	header.write('data', 36, 'ascii');
	header.writeUInt32LE(dataSize, 40);
	return Buffer.concat([header, pcm.subarray(0, dataSize)]);
}

export interface SniffResult {
	/** True for audio containers, false for formats known not to be audio. */
	audio: boolean;
	format: string;
	mimeType: string;
	/**
	 * True when only a frame sync matched (MP3/AAC without ID3): headerless PCM can start with the
	 * same bytes (a first sample of -1 is FF FF), so `confirmMpegFrames` decides where it matters.
	 */
	weak?: boolean;
}

/** Number of leading bytes `sniffFormat` needs. */
export const SNIFF_BYTES = 16;

/** Brands of the ISO base media format (`ftyp`) that are still images, not audio or video. */
const IMAGE_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1', 'avif', 'avis', 'jpeg', 'jpgs']);

/**
 * Identifies a file from its first bytes. Returns undefined when the bytes match no known
 * signature (headerless PCM, for example, has none).
 */
export function sniffFormat(head: Buffer): SniffResult | undefined {
	const ascii = (start: number, end: number) => head.subarray(start, end).toString('latin1');
	if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return audio('wav', 'audio/wav');
	if (ascii(0, 4) === 'OggS') return audio('ogg', 'audio/ogg');
	if (ascii(0, 4) === 'fLaC') return audio('flac', 'audio/flac');
	if (ascii(0, 3) === 'ID3') return audio('mp3', 'audio/mpeg');
	if (ascii(0, 5) === '#!AMR') return audio('amr', 'audio/amr');
	if (ascii(0, 4) === 'FORM' && (ascii(8, 12) === 'AIFF' || ascii(8, 12) === 'AIFC')) return audio('aiff', 'audio/aiff');
	if (ascii(4, 8) === 'ftyp') {
		const brand = ascii(8, 12).toLowerCase();
		if (IMAGE_BRANDS.has(brand)) return other(brand.startsWith('avi') ? 'avif' : 'heic', brand.startsWith('avi') ? 'image/avif' : 'image/heic');
		return audio('m4a', 'audio/mp4');
	}
	if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return audio('webm', 'audio/webm');
	if (head.length >= 2 && head[0] === 0xff) {
		if ((head[1] & 0xf6) === 0xf0) return { ...audio('aac', 'audio/aac'), weak: true }; // ADTS
		if (head.length < 4 || mpegFrameLength(head) !== undefined) return { ...audio('mp3', 'audio/mpeg'), weak: true }; // MPEG frame sync
	}
	if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return other('png', 'image/png');
	if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
		return other('jpeg', 'image/jpeg');
	}
	if (ascii(0, 4) === 'GIF8') return other('gif', 'image/gif');
	if (ascii(0, 5) === '%PDF-') return other('pdf', 'application/pdf');
	if (ascii(0, 4) === 'PK\x03\x04') return other('zip', 'application/zip');
	if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return other('webp', 'image/webp');
	if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'AVI ') return other('avi', 'video/x-msvideo');
	if (looksLikeText(head)) return other('text', 'text/plain');
	return undefined;
}

/**
 * True when the bytes read as text: valid UTF-8 (a sequence cut by the end of `head` allowed)
 * with no control characters but tab and line ends. An error page, a JSON answer or a transcript
 * saved as "audio" is caught here; audio has control bytes (silence is zeros) or invalid UTF-8
 * within its first few bytes.
 */
function looksLikeText(head: Buffer): boolean {
	if (head.length < 8) return false;
	let end = head.length;
	// Drop a multi-byte sequence cut off by the end of the head.
	for (let back = 1; back <= 3 && end - back >= 0; back++) {
		const byte = head[end - back];
		if ((byte & 0xc0) === 0x80) continue;
		if (byte >= 0xc0) {
			const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
			if (back < needed) end -= back;
		}
		break;
	}
	let text: string;
	try {
		text = new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
	} catch {
		return false;
	}
	for (const character of text) {
		const code = character.codePointAt(0) as number;
		if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) return false;
	}
	return true;
}

/**
 * The length in bytes of the MPEG audio frame whose 4-byte header starts `bytes`, or undefined
 * when it is no valid header (reserved version, layer, bit rate or sample rate; free format).
 */
export function mpegFrameLength(bytes: Buffer, offset = 0): number | undefined {
	if (bytes.length < offset + 4) return undefined;
	const header = readFrameHeader(bytes, offset);
	return header && header.length > 0 ? header.length : undefined;
}

/**
 * True when `bytes` start with MPEG audio frames that follow one another: each header valid and
 * the next one exactly where the previous frame ends (three in a row, or to the end of `bytes`).
 * Headerless PCM that happens to start like a frame sync does not continue like this.
 */
export function confirmMpegFrames(bytes: Buffer): boolean {
	let offset = 0;
	for (let frames = 0; frames < 3; frames++) {
		const length = mpegFrameLength(bytes, offset);
		if (length === undefined || length < 4) return false;
		offset += length;
		if (offset >= bytes.length) return frames >= 1 || bytes.length <= length;
	}
	return true;
}

function audio(format: string, mimeType: string): SniffResult {
	return { audio: true, format, mimeType };
}

function other(format: string, mimeType: string): SniffResult {
	return { audio: false, format, mimeType };
}

/** MIME types that carry headerless PCM, which no signature can recognise. */
export function isRawPcmMimeType(mimeType: string): boolean {
	const base = mimeType.split(';')[0].trim().toLowerCase();
	return base === 'audio/raw' || base === 'audio/l16' || base === 'audio/pcm';
}

export interface RawPcmFormat extends PcmFormat {
	/** audio/L16 is big-endian (RFC 2586); audio/raw and audio/pcm here mean little-endian, as WAV is. */
	bigEndian: boolean;
}

/** The layout of headerless 16-bit PCM from its MIME type's `rate` and `channels` parameters. */
export function rawPcmFormat(mimeType: string, defaults: PcmFormat = FASEEH_PCM_FORMAT): RawPcmFormat {
	const base = mimeType.split(';')[0].trim().toLowerCase();
	return {
		sampleRate: Number(/rate=(\d+)/i.exec(mimeType)?.[1] ?? defaults.sampleRate),
		channels: Number(/channels=(\d+)/i.exec(mimeType)?.[1] ?? defaults.channels),
		bitsPerSample: 16,
		bigEndian: base === 'audio/l16',
	};
}

/**
 * Headerless 16-bit PCM of this MIME type as a WAV (which is little-endian): big-endian
 * audio/L16 samples are byte-swapped into a copy, the input buffer is left as it was.
 */
export function rawPcmToWav(pcm: Buffer, mimeType: string, defaults: PcmFormat = FASEEH_PCM_FORMAT): Buffer {
	const { bigEndian, ...format } = rawPcmFormat(mimeType, defaults);
	if (!bigEndian) return wrapPcmAsWav(pcm, format);
	// swap16 needs an even length; wrapPcmAsWav keeps whole frames only anyway.
	const littleEndian = Buffer.from(pcm.subarray(0, pcm.length - (pcm.length % 2)));
	littleEndian.swap16();
	return wrapPcmAsWav(littleEndian, format);
}

/** What a RIFF/WAVE file's chunks say (any chunk order, any extra chunks before `data`). */
export interface WavInfo {
	/** 1 = PCM, 3 = float, 0xFFFE = extensible (see `pcm`). */
	formatTag: number;
	/** Integer PCM (plain, or extensible with the PCM sub-format). */
	pcm: boolean;
	channels: number;
	sampleRate: number;
	bitsPerSample: number;
	byteRate: number;
	dataOffset: number;
	/** The data chunk's length, cut to what the buffer holds (streamed WAVs often say 0 or 0xFFFFFFFF). */
	dataLength: number;
}

/** Walks a WAV's chunks; undefined when it is not a WAV or has no `fmt ` and `data` chunk. */
export function parseWav(wav: Buffer): WavInfo | undefined {
	if (wav.length < 12 || wav.toString('latin1', 0, 4) !== 'RIFF' || wav.toString('latin1', 8, 12) !== 'WAVE') {
		return undefined;
	}
	let fmt: Omit<WavInfo, 'dataOffset' | 'dataLength'> | undefined;
	let offset = 12;
	while (offset + 8 <= wav.length) {
		const id = wav.toString('latin1', offset, offset + 4);
		const size = wav.readUInt32LE(offset + 4);
		const body = offset + 8;
		if (id === 'fmt ' && body + 16 <= wav.length) {
			const formatTag = wav.readUInt16LE(body);
			// WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real format tag.
			const subFormat = formatTag === 0xfffe && size >= 40 && body + 26 <= wav.length ? wav.readUInt16LE(body + 24) : formatTag;
			fmt = {
				formatTag,
				pcm: subFormat === 1,
				channels: wav.readUInt16LE(body + 2),
				sampleRate: wav.readUInt32LE(body + 4),
				byteRate: wav.readUInt32LE(body + 8),
				bitsPerSample: wav.readUInt16LE(body + 14),
			};
		} else if (id === 'data') {
			if (!fmt) return undefined;
			const available = wav.length - body;
			const dataLength = size === 0 || size > available ? available : size;
			return { ...fmt, dataOffset: body, dataLength };
		}
		offset = body + size + (size % 2); // chunks are padded to an even length
	}
	return undefined;
}

/** Duration from a WAV's own chunks (any header length); 0 when it is not a WAV. */
export function wavDurationSeconds(wav: Buffer): number {
	const info = parseWav(wav);
	if (!info || info.byteRate <= 0) return 0;
	return Math.round((info.dataLength / info.byteRate) * 1000) / 1000;
}

/**
 * An audio answer, decided by its content: 16-bit PCM (from a PCM WAV, or headerless) that the
 * node can wrap or encode, or another container (MP3, Ogg, FLAC, a float WAV...) kept as it is.
 */
export type AudioAnswer =
	| { kind: 'pcm'; pcm: Buffer; sampleRate: number; channels: number }
	| { kind: 'encoded'; data: Buffer; format: string; mimeType: string; extension: string; durationSeconds?: number };

const EXTENSIONS: Record<string, string> = {
	wav: 'wav',
	ogg: 'ogg',
	flac: 'flac',
	mp3: 'mp3',
	m4a: 'm4a',
	webm: 'webm',
	aac: 'aac',
	amr: 'amr',
	aiff: 'aiff',
};

/** Labels that say nothing reliable about headerless bytes: they are read as Faseeh's raw PCM. */
const HEADERLESS_LABELS = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'application/octet-stream', ''];

/**
 * Reads an audio answer by its bytes first, its Content-Type second:
 * - a RIFF/WAVE with 16-bit integer PCM gives its samples and its own rate (chunks walked, so a
 *   longer header or an odd chunk order is fine); any other WAV is kept as it is;
 * - MP3, Ogg, FLAC, M4A, WebM and AAC (recognised by their signatures) are kept with their own type;
 * - bytes with no signature are headerless PCM when labelled raw PCM (audio/raw, audio/L16 (big
 *   endian), audio/pcm), WAV or octet-stream: the rate is the one the label names, else
 *   `assumedSampleRate` (what the request asked for), else 24 kHz; mono unless the label says;
 * - any other audio label on unrecognised bytes is trusted as that type.
 * Throws a plain Error (the transport turns it into its answer error) for bytes that are known not
 * to be audio.
 */
export function readAudioAnswer(audio: Buffer, contentType: string, assumedSampleRate?: number): AudioAnswer {
	const base = contentType.split(';')[0].trim().toLowerCase();
	const headerlessLabel = isRawPcmMimeType(contentType) || HEADERLESS_LABELS.includes(base);
	let sniffed = sniffFormat(audio.subarray(0, SNIFF_BYTES));
	// PCM whose first samples look like an MPEG frame sync (-1 is FF FF) stays PCM unless real
	// frames follow one another.
	if (sniffed?.weak && headerlessLabel && !(sniffed.format === 'mp3' && confirmMpegFrames(audio))) sniffed = undefined;
	if (sniffed && !sniffed.audio) throw new Error(`the answer is ${sniffed.mimeType}, not audio`);
	if (sniffed?.format === 'wav') {
		const info = parseWav(audio);
		if (info?.pcm && info.bitsPerSample === 16 && info.channels >= 1) {
			const frame = 2 * info.channels;
			const length = info.dataLength - (info.dataLength % frame);
			return {
				kind: 'pcm',
				pcm: audio.subarray(info.dataOffset, info.dataOffset + length),
				sampleRate: info.sampleRate,
				channels: info.channels,
			};
		}
		return { kind: 'encoded', data: audio, format: 'wav', mimeType: 'audio/wav', extension: 'wav', durationSeconds: wavDurationSeconds(audio) };
	}
	if (sniffed) {
		return { kind: 'encoded', data: audio, format: sniffed.format, mimeType: sniffed.mimeType, extension: EXTENSIONS[sniffed.format] ?? 'bin' };
	}
	if (headerlessLabel) {
		const named = rawPcmFormat(contentType, { ...FASEEH_PCM_FORMAT, sampleRate: assumedSampleRate ?? FASEEH_PCM_FORMAT.sampleRate });
		const frame = 2 * Math.max(1, named.channels);
		let pcm = audio.subarray(0, audio.length - (audio.length % frame));
		if (named.bigEndian) {
			pcm = Buffer.from(pcm);
			pcm.swap16();
		}
		return { kind: 'pcm', pcm, sampleRate: named.sampleRate, channels: Math.max(1, named.channels) };
	}
	const subtype = base.split('/')[1] ?? 'bin';
	const extension = { mpeg: 'mp3', mp3: 'mp3', ogg: 'ogg', opus: 'opus', flac: 'flac', mp4: 'm4a', aac: 'aac', webm: 'webm' }[subtype] ?? 'bin';
	return { kind: 'encoded', data: audio, format: extension, mimeType: base, extension };
}

/** An audio answer as a file: PCM wrapped as WAV, anything else kept as it came. */
export interface AudioFile {
	data: Buffer;
	mimeType: string;
	extension: string;
	durationSeconds: number;
	/** The PCM's rate, when the answer was PCM. */
	sampleRate?: number;
}

export function answerAsFile(answer: AudioAnswer): AudioFile {
	if (answer.kind === 'pcm') {
		const wav = wrapPcmAsWav(answer.pcm, { sampleRate: answer.sampleRate, channels: answer.channels, bitsPerSample: 16 });
		return { data: wav, mimeType: 'audio/wav', extension: 'wav', durationSeconds: wavDurationSeconds(wav), sampleRate: answer.sampleRate };
	}
	return { data: answer.data, mimeType: answer.mimeType, extension: answer.extension, durationSeconds: answer.durationSeconds ?? 0 };
}

/** Mixes interleaved 16-bit PCM down to mono (a copy); mono is returned as it is. */
export function downmixToMono(pcm: Buffer, channels: number): Buffer {
	if (channels <= 1) return pcm;
	const frames = Math.floor(pcm.length / (2 * channels));
	const mono = Buffer.alloc(frames * 2);
	for (let frame = 0; frame < frames; frame++) {
		let sum = 0;
		for (let channel = 0; channel < channels; channel++) sum += pcm.readInt16LE((frame * channels + channel) * 2);
		mono.writeInt16LE(Math.round(sum / channels), frame * 2);
	}
	return mono;
}
