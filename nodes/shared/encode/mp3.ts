import { createEncoder as createWasmEncoder, createMp3Encoder } from 'wasm-media-encoders';

import { PcmInput, toFloat } from './pcm';
import { Resampler } from './resample';
import type { Slicer } from './slicer';

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

/** Mono constant-bit-rate MP3 from LAME (wasm-media-encoders). */
export class Mp3Writer {
	readonly outputSampleRate: number;
	private readonly input = new PcmInput();
	private readonly resampler: Resampler | undefined;

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

	async write(pcm: Buffer): Promise<Buffer> {
		const samples = this.input.take(pcm);
		const out: Buffer[] = [];
		for (let start = 0; start < samples.length; start += PIECE_SAMPLES) {
			let piece = toFloat(samples.subarray(start, start + PIECE_SAMPLES));
			if (this.resampler) piece = this.resampler.push(piece);
			const encoded = this.encode(piece);
			if (encoded.length > 0) out.push(encoded);
			await this.slicer.pause();
		}
		return Buffer.concat(out);
	}

	async end(): Promise<Buffer> {
		const out: Buffer[] = [];
		if (this.resampler) out.push(this.encode(this.resampler.flush()));
		// The encoder's buffers are views into its wasm memory: copy before the next call.
		out.push(Buffer.from(this.encoder.finalize()));
		return Buffer.concat(out);
	}

	private encode(samples: Float32Array): Buffer {
		if (samples.length === 0) return Buffer.alloc(0);
		return Buffer.from(this.encoder.encode([samples]));
	}
}
