/**
 * Streaming audio encoders for Speech → Generate: Faseeh's mono 16-bit PCM in, WAV, MP3,
 * OGG/Opus or raw PCM out, encoded as the PCM arrives and in slices that give n8n's event loop a
 * turn at least every ~10 ms of work. See docs/design.md, "Audio encoders", for the libraries and why.
 *
 * Memory: OGG/Opus holds only a few frames (the output is returned as it is produced); raw PCM is
 * passed through as it comes; MP3 keeps its frames until the end (its first frame, the Info tag,
 * needs their count) and hands them back in the blocks it held them in (`endInParts()`); WAV keeps
 * its PCM (its header needs the length) and joins it at `end()`: their memory is the output's size
 * (WAV's twice that for a moment).
 */
import { Mp3Writer } from './mp3';
import { OggOpusWriter } from './opus';
import { copyBytes, PcmInput, toFloat, toInt16 } from './pcm';
import { Resampler } from './resample';
import { Slicer } from './slicer';

export type OutputFormat = 'wav' | 'mp3' | 'oggOpus' | 'pcm';

/**
 * Binary MIME type and file extension per format. Raw PCM is `application/octet-stream`: the
 * registered type for 16-bit PCM, `audio/L16`, means big-endian samples (RFC 2586), and these are
 * little-endian; the rate and layout go in the item's JSON instead.
 */
export const OUTPUT_FORMATS: Record<OutputFormat, { mimeType: string; extension: string; label: string }> = {
	wav: { mimeType: 'audio/wav', extension: 'wav', label: 'WAV' },
	mp3: { mimeType: 'audio/mpeg', extension: 'mp3', label: 'MP3' },
	oggOpus: { mimeType: 'audio/ogg', extension: 'ogg', label: 'OGG/Opus' },
	pcm: { mimeType: 'application/octet-stream', extension: 'pcm', label: 'Raw PCM (16-bit LE, mono)' },
};

/**
 * Bit rates in kbps. MP3 takes the constant bit rates valid for both MPEG-1 (32–48 kHz) and
 * MPEG-2/2.5 (8–24 kHz) layer III that the encoder accepts; Opus takes any whole number in range.
 */
export const BIT_RATES = {
	mp3: { min: 32, max: 128, default: 64, allowed: [32, 40, 48, 64, 80, 96, 112, 128] },
	oggOpus: { min: 8, max: 128, default: 32 },
};

export const SAMPLE_RATE_RANGE = { min: 8000, max: 48000 } as const;

export interface EncoderOptions {
	format: OutputFormat;
	/** Rate of the input PCM, 8000..48000 Hz. */
	sampleRate: number;
	/**
	 * The rate the audio must have, when it is not the input's (8000..48000 Hz): the PCM is first
	 * resampled to it, then encoded as input at that rate would be (MP3 and OGG/Opus at their next
	 * rate up). Speech → Generate's streaming mode, whose PCM comes at Faseeh's 24 kHz.
	 */
	targetSampleRate?: number;
	/** MP3 and OGG/Opus only (ignored for WAV and PCM); defaults to BIT_RATES[format].default. */
	bitRateKbps?: number;
	/** OGG/Opus only: the rate to encode at (8, 12, 16, 24 or 48 kHz) and constrained VBR (voice-note presets). */
	opus?: { rate?: number; constrainedVbr?: boolean };
}

export interface AudioEncoder {
	readonly format: OutputFormat;
	readonly mimeType: string;
	readonly extension: string;
	/**
	 * Feeds mono signed 16-bit little-endian PCM (any length; an odd byte is carried to the next
	 * call). Returns the encoded bytes ready so far (may be empty). Yields to the event loop between
	 * slices. Not re-entrant: await each call before the next.
	 */
	write(pcm: Buffer): Promise<Buffer>;
	/** Flushes and returns the final bytes (for WAV and MP3, the whole file). The encoder is then spent and freed. */
	end(): Promise<Buffer>;
	/**
	 * end() without joining the final bytes into one Buffer: an hour of MP3 comes back as the ~28
	 * blocks of 1 MiB it was held in, not copied into one 28 MB Buffer in one turn of the event loop.
	 */
	endInParts(): Promise<Buffer[]>;
	/**
	 * Frees the encoder without finishing the file: for every path that gives up on the item (a
	 * failed piece, a timeout, a cancel, Continue On Fail). Idempotent, and harmless after end(). A
	 * write in progress stops at its next slice with an error; later calls are refused.
	 */
	dispose(): void;
	/** Seconds of audio fed so far (input samples / input rate). */
	durationSeconds(): number;
	/** Sample rate actually encoded (Opus: 8/12/16/24/48 kHz; MP3: LAME's rates; else the input's, or the target's). */
	readonly outputSampleRate: number;
	/**
	 * MP3: the bit rate of the frames written, read from them once there are any (LAME writes at
	 * most 64 kbps at 8-12 kHz, whatever was asked). OGG/Opus: the target asked for. Else undefined.
	 */
	readonly bitRateKbps: number | undefined;
}

/** A human message when `kbps` is not a valid bit rate for `format`, else undefined. */
export function validateBitRate(format: OutputFormat, kbps: number | undefined): string | undefined {
	if (kbps === undefined || format === 'wav' || format === 'pcm') return undefined;
	if (format === 'mp3') {
		const { allowed } = BIT_RATES.mp3;
		if (!allowed.includes(kbps)) return `MP3 bit rate must be one of ${allowed.join(', ')} kbps, not ${String(kbps)}`;
		return undefined;
	}
	if (format === 'oggOpus') {
		const { min, max } = BIT_RATES.oggOpus;
		if (!Number.isInteger(kbps) || kbps < min || kbps > max) return `OGG/Opus bit rate must be a whole number from ${min} to ${max} kbps, not ${String(kbps)}`;
		return undefined;
	}
	return undefined;
}

/** A human message when `rate` is not a valid input sample rate, else undefined. */
export function validateSampleRate(rate: number): string | undefined {
	const { min, max } = SAMPLE_RATE_RANGE;
	if (!Number.isInteger(rate) || rate < min || rate > max) return `Sample rate must be a whole number of Hz from ${min} to ${max}, not ${String(rate)}`;
	return undefined;
}

interface Writer {
	readonly outputSampleRate: number;
	readonly inputSamples: number;
	write(pcm: Buffer): Promise<Buffer>;
	/** The final bytes, in one Buffer or in parts (MP3's held blocks). */
	end(): Promise<Buffer | Buffer[]>;
	/** Frees what the writer holds outside the JavaScript heap (libopus's shared memory). */
	dispose?(): void;
	/** The bit rate written, where the writer knows it better than the request (MP3). */
	readonly bitRateKbps?: number;
}

/** Raw PCM: passed through as it arrives, whole samples only. */
class PcmWriter implements Writer {
	private readonly input = new PcmInput();
	constructor(readonly outputSampleRate: number) {}
	get inputSamples() {
		return this.input.samples;
	}
	async write(pcm: Buffer): Promise<Buffer> {
		return copyBytes(this.input.take(pcm));
	}
	async end(): Promise<Buffer> {
		return Buffer.alloc(0);
	}
}

/** WAV: RIFF/WAVE PCM; the PCM is kept until `end()`, which returns the whole file. */
class WavWriter implements Writer {
	private readonly input = new PcmInput();
	private chunks: Buffer[] = [];
	private bytes = 0;
	constructor(readonly outputSampleRate: number) {}
	get inputSamples() {
		return this.input.samples;
	}
	async write(pcm: Buffer): Promise<Buffer> {
		const samples = this.input.take(pcm);
		if (this.bytes + samples.byteLength > 0xffffffff - 36) throw new Error('WAV output is limited to 4 GiB; choose MP3 or OGG/Opus for audio this long');
		this.chunks.push(copyBytes(samples));
		this.bytes += samples.byteLength;
		return Buffer.alloc(0);
	}
	async end(): Promise<Buffer> {
		const header = Buffer.alloc(44);
		header.write('RIFF', 0, 'latin1');
		header.writeUInt32LE(36 + this.bytes, 4);
		header.write('WAVEfmt ', 8, 'latin1');
		header.writeUInt32LE(16, 16);
		header.writeUInt16LE(1, 20); // PCM
		header.writeUInt16LE(1, 22); // mono
		header.writeUInt32LE(this.outputSampleRate, 24);
		header.writeUInt32LE(this.outputSampleRate * 2, 28);
		header.writeUInt16LE(2, 32);
		header.writeUInt16LE(16, 34);
		header.write('data', 36, 'latin1');
		header.writeUInt32LE(this.bytes, 40);
		const file = Buffer.concat([header, ...this.chunks], 44 + this.bytes);
		this.chunks = [];
		return file;
	}
}

/**
 * PCM at one rate into a writer at another: the band-limited resampler (resample.ts) in pieces of
 * RESAMPLE_PIECE input samples, the event loop given its turns between them like the encoders'.
 * `inputSamples` counts the input, so the duration stays the input's.
 */
class ResamplingWriter implements Writer {
	private readonly input = new PcmInput();
	private readonly resampler: Resampler;

	constructor(
		inputRate: number,
		outputRate: number,
		private readonly inner: Writer,
		private readonly slicer: Slicer,
	) {
		this.resampler = new Resampler(inputRate, outputRate);
	}

	get outputSampleRate(): number {
		return this.inner.outputSampleRate;
	}

	get inputSamples(): number {
		return this.input.samples;
	}

	get bitRateKbps(): number | undefined {
		return this.inner.bitRateKbps;
	}

	async write(pcm: Buffer): Promise<Buffer> {
		const samples = this.input.take(pcm);
		const out: Buffer[] = [];
		for (let start = 0; start < samples.length; start += RESAMPLE_PIECE) {
			const resampled = this.resampler.push(toFloat(samples.subarray(start, start + RESAMPLE_PIECE)));
			out.push(await this.inner.write(copyBytes(toInt16(resampled))));
			await this.slicer.pause();
		}
		return Buffer.concat(out);
	}

	async end(): Promise<Buffer | Buffer[]> {
		const last = await this.inner.write(copyBytes(toInt16(this.resampler.flush())));
		const rest = await this.inner.end();
		return [last, ...(Array.isArray(rest) ? rest : [rest])];
	}

	dispose(): void {
		this.inner.dispose?.();
	}
}

/** Input samples resampled between two chances to yield (about 1 ms of work). */
const RESAMPLE_PIECE = 2048;

class Encoder implements AudioEncoder {
	readonly mimeType: string;
	readonly extension: string;
	private ended = false;
	private disposed = false;
	private busy = false;

	constructor(
		readonly format: OutputFormat,
		private readonly inputRate: number,
		private readonly writer: Writer,
		private readonly requestedBitRate: number | undefined,
	) {
		this.mimeType = OUTPUT_FORMATS[format].mimeType;
		this.extension = OUTPUT_FORMATS[format].extension;
	}

	get outputSampleRate(): number {
		return this.writer.outputSampleRate;
	}

	get bitRateKbps(): number | undefined {
		return this.writer.bitRateKbps ?? this.requestedBitRate;
	}

	durationSeconds(): number {
		return this.writer.inputSamples / this.inputRate;
	}

	async write(pcm: Buffer): Promise<Buffer> {
		return Encoder.own(await this.run('write', () => this.writer.write(pcm)));
	}

	async end(): Promise<Buffer> {
		const parts = await this.endInParts();
		return parts.length === 1 ? parts[0] : Buffer.concat(parts);
	}

	async endInParts(): Promise<Buffer[]> {
		try {
			const last = await this.run('end', () => this.writer.end());
			return (Array.isArray(last) ? last : [last]).filter((part) => part.length > 0).map(Encoder.own);
		} finally {
			this.ended = true;
			this.dispose();
		}
	}

	dispose(): void {
		if (this.disposed) return;
		this.disposed = true;
		this.writer.dispose?.();
	}

	/**
	 * The caller may keep every chunk (n8n's in-memory binary mode does): a small Buffer sliced
	 * from Node's shared 8 KiB pool would keep the whole slab alive, so such chunks are copied
	 * into memory of their own.
	 */
	private static own(bytes: Buffer): Buffer {
		if (bytes.length === 0 || bytes.byteLength === bytes.buffer.byteLength) return bytes;
		const copy = Buffer.allocUnsafeSlow(bytes.length);
		bytes.copy(copy);
		return copy;
	}

	private async run<T>(call: string, work: () => Promise<T>): Promise<T> {
		if (this.ended) throw new Error(`${call}() on an audio encoder that has already ended`);
		if (this.disposed) throw new Error(`${call}() on an audio encoder that was disposed`);
		if (this.busy) throw new Error(`${call}() while the previous call is still running: await each write`);
		this.busy = true;
		try {
			return await work();
		} finally {
			this.busy = false;
		}
	}
}

/** A new encoder; throws an Error with a clear message on an unknown format, rate or bit rate. */
export async function createEncoder(options: EncoderOptions): Promise<AudioEncoder> {
	const { format, sampleRate } = options;
	if (!Object.prototype.hasOwnProperty.call(OUTPUT_FORMATS, format)) {
		throw new Error(`Unknown output format "${String(format)}": use one of ${Object.keys(OUTPUT_FORMATS).join(', ')}`);
	}
	const rateProblem = validateSampleRate(sampleRate);
	if (rateProblem) throw new Error(rateProblem);
	const targetRate = options.targetSampleRate ?? sampleRate;
	const targetProblem = validateSampleRate(targetRate);
	if (targetProblem) throw new Error(targetProblem);
	const bitProblem = validateBitRate(format, options.bitRateKbps);
	if (bitProblem) throw new Error(bitProblem);
	const slicer = new Slicer();
	// Setting up a codec is one block of its own (the first LAME instance of a process loads its
	// WebAssembly, about 20 ms; the first Opus one compiles libopus, about 8 ms): the event loop
	// gets a turn before and after it.
	await slicer.pause(true);
	let writer: Writer;
	let bitRateKbps: number | undefined;
	if (format === 'mp3') {
		bitRateKbps = options.bitRateKbps ?? BIT_RATES.mp3.default;
		writer = await Mp3Writer.create(targetRate, bitRateKbps, slicer);
	} else if (format === 'oggOpus') {
		bitRateKbps = options.bitRateKbps ?? BIT_RATES.oggOpus.default;
		writer = new OggOpusWriter(targetRate, bitRateKbps, slicer, options.opus);
	} else if (format === 'wav') writer = new WavWriter(targetRate);
	else writer = new PcmWriter(targetRate);
	if (targetRate !== sampleRate) writer = new ResamplingWriter(sampleRate, targetRate, writer, slicer);
	await slicer.pause(true);
	return new Encoder(format, sampleRate, writer, bitRateKbps);
}
