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
}

/** Number of leading bytes `sniffFormat` needs. */
export const SNIFF_BYTES = 16;

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
	if (ascii(4, 8) === 'ftyp') return audio('m4a', 'audio/mp4');
	if (head.length >= 4 && head.readUInt32BE(0) === 0x1a45dfa3) return audio('webm', 'audio/webm');
	if (head.length >= 2 && head[0] === 0xff) {
		if ((head[1] & 0xf6) === 0xf0) return audio('aac', 'audio/aac'); // ADTS
		if ((head[1] & 0xe0) === 0xe0) return audio('mp3', 'audio/mpeg'); // MPEG frame sync
	}
	if (ascii(0, 8) === '\x89PNG\r\n\x1a\n') return other('png', 'image/png');
	if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) {
		return other('jpeg', 'image/jpeg');
	}
	if (ascii(0, 4) === 'GIF8') return other('gif', 'image/gif');
	if (ascii(0, 5) === '%PDF-') return other('pdf', 'application/pdf');
	if (ascii(0, 4) === 'PK\x03\x04') return other('zip', 'application/zip');
	if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return other('webp', 'image/webp');
	return undefined;
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

/** An audio answer as a WAV file (ready to play, or to send as the clone's voice_file) and its length. */
export interface WavAudio {
	wav: Buffer;
	durationSeconds: number;
}

/** Raw PCM (the documented answer) is wrapped; an answer that already is a WAV is kept. */
export function toWav(audio: Buffer, contentType: string): WavAudio {
	const isWav = audio.subarray(0, 4).toString('latin1') === 'RIFF';
	if (isWav || !isRawPcmMimeType(contentType)) {
		return { wav: audio, durationSeconds: wavDurationSeconds(audio) };
	}
	const wav = rawPcmToWav(audio, contentType);
	return { wav, durationSeconds: wavDurationSeconds(wav) };
}

/** Duration from a canonical WAV header; 0 when the header is not one. */
export function wavDurationSeconds(wav: Buffer): number {
	if (wav.length < 44 || wav.toString('latin1', 0, 4) !== 'RIFF') return 0;
	const byteRate = wav.readUInt32LE(28);
	const dataSize = Math.min(wav.readUInt32LE(40), wav.length - 44);
	return byteRate > 0 ? Math.round((dataSize / byteRate) * 1000) / 1000 : 0;
}
