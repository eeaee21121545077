import { isRawPcmMimeType, rawPcmFormat, wrapPcmAsWav } from '../audio';

/** 16-bit mono PCM (little-endian) and its sample rate, from one speech answer. */
export interface MonoPcm {
	pcm: Buffer;
	sampleRate: number;
}

/**
 * The samples of a speech answer: a WAV file (Faseeh's complete mode) read chunk by chunk, or
 * headerless PCM (streaming mode) laid out by its MIME type. Returns a reason string when the
 * audio is not 16-bit mono PCM, which is all the pieces of a long text can be joined from.
 */
export function pcmFromAudio(audio: Buffer, contentType: string): MonoPcm | string {
	if (audio.length >= 12 && audio.toString('latin1', 0, 4) === 'RIFF' && audio.toString('latin1', 8, 12) === 'WAVE') {
		return pcmFromWav(audio);
	}
	if (isRawPcmMimeType(contentType)) {
		const format = rawPcmFormat(contentType);
		if (format.channels !== 1) return `it has ${format.channels} channels, not 1`;
		let pcm = audio.subarray(0, audio.length - (audio.length % 2));
		if (format.bigEndian) {
			pcm = Buffer.from(pcm);
			pcm.swap16();
		}
		return { pcm, sampleRate: format.sampleRate };
	}
	return `it is neither a WAV file nor raw PCM (content type ${contentType || 'none'})`;
}

/**
 * Walks the RIFF chunks (fmt, then data; others such as LIST are skipped, odd sizes padded) rather
 * than assuming a 44-byte header. A data size larger than what arrived (0xFFFFFFFF from a writer
 * that streamed the file) is read as "up to the end".
 */
export function pcmFromWav(wav: Buffer): MonoPcm | string {
	let offset = 12;
	let format: { audioFormat: number; channels: number; sampleRate: number; bits: number } | undefined;
	while (offset + 8 <= wav.length) {
		const id = wav.toString('latin1', offset, offset + 4);
		const size = wav.readUInt32LE(offset + 4);
		const body = offset + 8;
		if (id === 'fmt ') {
			if (size < 16 || body + 16 > wav.length) return 'its WAV format chunk is cut short';
			format = {
				audioFormat: wav.readUInt16LE(body),
				channels: wav.readUInt16LE(body + 2),
				sampleRate: wav.readUInt32LE(body + 4),
				bits: wav.readUInt16LE(body + 14),
			};
			// WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
			if (format.audioFormat === 0xfffe && size >= 40 && body + 26 <= wav.length) {
				format.audioFormat = wav.readUInt16LE(body + 24);
			}
		} else if (id === 'data') {
			if (!format) return 'its WAV data comes before its format';
			if (format.audioFormat !== 1 || format.bits !== 16) {
				return `it is not 16-bit PCM (WAV format ${format.audioFormat}, ${format.bits} bits)`;
			}
			if (format.channels !== 1) return `it has ${format.channels} channels, not 1`;
			const end = Math.min(wav.length, body + size);
			const pcm = wav.subarray(body, end - ((end - body) % 2));
			return { pcm, sampleRate: format.sampleRate };
		}
		offset = body + size + (size % 2);
	}
	return 'its WAV file has no data chunk';
}

/**
 * The one step that turns the joined PCM into the output file. Today a WAV; the format encoders
 * (issue 15, Output Format) replace this sink, whose shape is theirs: write PCM as it comes, end.
 */
export interface AudioSink {
	write(pcm: Buffer): Promise<Buffer>;
	end(): Promise<Buffer>;
	durationSeconds(): number;
	mimeType: string;
	extension: string;
}

/** A WAV "encoder": the header needs the data size, so it keeps the PCM and writes it all at the end. */
export function createWavSink(sampleRate: number): AudioSink {
	const chunks: Buffer[] = [];
	let bytes = 0;
	return {
		mimeType: 'audio/wav',
		extension: 'wav',
		write: async (pcm) => {
			chunks.push(pcm);
			bytes += pcm.length;
			return Buffer.alloc(0);
		},
		end: async () => {
			const pcm = Buffer.concat(chunks, bytes);
			chunks.length = 0;
			return wrapPcmAsWav(pcm, { sampleRate, channels: 1, bitsPerSample: 16 });
		},
		durationSeconds: () => Math.round((bytes / 2 / sampleRate) * 1000) / 1000,
	};
}
