import { createEncoder as createWasmEncoder, createMp3Encoder } from 'wasm-media-encoders';

import { PcmInput, toFloat } from './pcm';
import { Resampler } from './resample';
import type { Slicer } from './slicer';
import { crc16, Mp3FrameCounter, mp3InfoFrame } from './mp3Tag';

/** The rates LAME encodes (MPEG-1, MPEG-2 and MPEG-2.5 layer III). */
export const MP3_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;
/** Input samples per call into LAME between two chances to yield: one MPEG-1 frame, well under 1 ms. */
const PIECE_SAMPLES = 1152;

export function mp3RateFor(inputRate: number): number {
	return MP3_RATES.find((rate) => rate >= inputRate) ?? 48000;
}

type Mp3Encoder = Awaited<ReturnType<typeof createMp3Encoder>>;
type Mp3Bitrate = 32 | 40 | 48 | 64 | 80 | 96 | 112 | 128;

/**
 * LAME compiled once per process. `createMp3Encoder()` fetches its embedded `data:` URL through
 * Node's fetch on every call, and decoding ~550 KB of base64 in that JavaScript URL parser takes
 * 45-75 ms of the event loop here (the speech bench's cold MP3 runs blocked up to 69 ms). The same
 * bytes decoded with Buffer and compiled asynchronously take ~5 ms; later encoders reuse the
 * compiled module. If the library's shape ever changes, its own loader is used.
 */
let lameModule: Promise<LameModule | undefined> | undefined;

/** A compiled WebAssembly.Module, as wasm-media-encoders accepts it. */
type LameModule = Parameters<typeof createWasmEncoder>[1];
/** The one part of the WebAssembly global used here (the project's lib has no DOM types). */
declare const WebAssembly: { compile(bytes: Uint8Array): Promise<LameModule> };

const EMBEDDED_WASM = /"data:application\/wasm;base64,([A-Za-z0-9+/=]+)"/;

export function loadLame(): Promise<LameModule | undefined> {
	lameModule ??= (async () => {
		const embedded = EMBEDDED_WASM.exec(createMp3Encoder.toString());
		if (!embedded) return undefined;
		return await WebAssembly.compile(Buffer.from(embedded[1], 'base64'));
	})().catch(() => undefined);
	return lameModule;
}

async function newLame(): Promise<Mp3Encoder> {
	const module = await loadLame();
	return module ? await createWasmEncoder('audio/mpeg', module) : await createMp3Encoder();
}

/**
 * Mono constant-bit-rate MP3 from LAME (wasm-media-encoders), with an Info tag (mp3Tag.ts) as its
 * first frame so players trim LAME's delay and padding and know the exact duration.
 *
 * The tag needs the frame count, known only at the end, and must come first: the frames are held
 * here until `end()` (about 0.5 MB per minute at 64 kbps; 28 MB for an hour), which returns the
 * tag and then the blocks they were held in (no copy of the whole file). Patching the first frame afterwards is not possible in every binary data mode
 * (S3 and database stores take a stream once), and MP3 is small next to the PCM it comes from.
 * The frames are counted and their CRC computed as they come, in the encoder's slices.
 */
export class Mp3Writer {
	readonly outputSampleRate: number;
	private readonly input = new PcmInput();
	private readonly resampler: Resampler | undefined;
	private readonly held = new HeldBytes();
	private readonly counter = new Mp3FrameCounter();
	private musicCrc = 0;
	/** Samples given to LAME, at the MP3's rate. */
	private encodedSamples = 0;

	private constructor(
		private readonly encoder: Mp3Encoder,
		inputRate: number,
		private readonly slicer: Slicer,
	) {
		this.outputSampleRate = mp3RateFor(inputRate);
		if (this.outputSampleRate !== inputRate) this.resampler = new Resampler(inputRate, this.outputSampleRate);
	}

	static async create(inputRate: number, bitRateKbps: number, slicer: Slicer): Promise<Mp3Writer> {
		const encoder = await newLame();
		// The output rate is set, not left to LAME: at low bit rates LAME would otherwise pick a
		// lower rate of its own.
		encoder.configure({ channels: 1, sampleRate: mp3RateFor(inputRate), bitrate: bitRateKbps as Mp3Bitrate, outputSampleRate: mp3RateFor(inputRate) as 24000 });
		return new Mp3Writer(encoder, inputRate, slicer);
	}

	get inputSamples(): number {
		return this.input.samples;
	}

	/**
	 * The bit rate of the frames written. LAME writes at most 64 kbps at 8, 11.025 and 12 kHz
	 * (MPEG-2.5), whatever was asked: this says what it wrote (undefined before the first frame).
	 */
	get bitRateKbps(): number | undefined {
		return this.counter.bitRateKbps;
	}

	/** Encodes; the frames are held for end(), so this returns nothing. */
	async write(pcm: Buffer): Promise<Buffer> {
		const samples = this.input.take(pcm);
		for (let start = 0; start < samples.length; start += PIECE_SAMPLES) {
			let piece = toFloat(samples.subarray(start, start + PIECE_SAMPLES));
			if (this.resampler) piece = this.resampler.push(piece);
			this.encode(piece);
			await this.slicer.pause();
		}
		return EMPTY;
	}

	/** The whole file in parts: the Info frame, then the blocks of audio frames. */
	async end(): Promise<Buffer[]> {
		if (this.resampler) this.encode(this.resampler.flush());
		this.keep(this.encoder.finalize());
		const tag = this.counter.firstHeader
			? mp3InfoFrame({
					firstHeader: this.counter.firstHeader,
					frames: this.counter.frames,
					audioBytes: this.held.length,
					musicCrc: this.musicCrc,
					samples: this.encodedSamples,
				})
			: undefined;
		return this.held.take(tag);
	}

	private encode(samples: Float32Array): void {
		if (samples.length === 0) return;
		this.encodedSamples += samples.length;
		this.keep(this.encoder.encode([samples]));
	}

	/** LAME's output is a view into its WebAssembly memory, valid until its next call: copied here. */
	private keep(bytes: Uint8Array): void {
		if (bytes.length === 0) return;
		this.counter.push(bytes);
		this.musicCrc = crc16(bytes, this.musicCrc);
		this.held.append(bytes);
	}
}

const EMPTY = Buffer.alloc(0);

/**
 * Bytes held in blocks of their own (16 KiB, doubling up to 1 MiB): small chunks kept as they come
 * would each cost an object, or pin an 8 KiB slab of Node's buffer pool.
 */
class HeldBytes {
	private blocks: Buffer[] = [];
	private used = 0;
	length = 0;

	append(bytes: Uint8Array): void {
		let from = 0;
		while (from < bytes.length) {
			let block = this.blocks[this.blocks.length - 1];
			if (!block || this.used === block.length) {
				block = Buffer.allocUnsafeSlow(Math.min(1 << 20, 16384 << Math.min(this.blocks.length, 6)));
				this.blocks.push(block);
				this.used = 0;
			}
			const step = Math.min(bytes.length - from, block.length - this.used);
			block.set(bytes.subarray(from, from + step), this.used);
			this.used += step;
			from += step;
		}
		this.length += bytes.length;
	}

	/** `head`, then the blocks (the last cut to what it holds); they are no longer held here. */
	take(head: Buffer | undefined): Buffer[] {
		const blocks = this.blocks;
		if (blocks.length > 0) blocks[blocks.length - 1] = blocks[blocks.length - 1].subarray(0, this.used);
		this.blocks = [];
		this.length = 0;
		this.used = 0;
		return head ? [head, ...blocks] : blocks;
	}
}
