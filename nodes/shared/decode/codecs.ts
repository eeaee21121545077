/**
 * The WebAssembly decoders, from the wasm-audio-decoders family (docs/design.md, "Audio
 * decoders"):
 * `opus-decoder` (libopus) for OGG/Opus and WebM/Opus, `mpg123-decoder` (mpg123) for MP3. Both
 * ship their WebAssembly inside the npm tarball; nothing is downloaded or built at install.
 *
 * They are ES modules, and n8n loads this package as CommonJS: `import()` loads an ES module
 * from CommonJS on every Node.js n8n runs on, and the build keeps it as `import()` (tsconfig's
 * `module: node16`; with `commonjs` tsc would turn it into `require()`, which loads an ES module
 * only from Node.js 20.19 and 22.12 on). Each module is loaded once per process, on first use.
 *
 * Each decoder is an instance of its own (own WebAssembly memory, which never grows: the
 * libraries are built without memory growth, so their views of it never go stale) and is freed
 * with `dispose()` on every path.
 */
import { AudioProblem, corrupt } from './problems';

/** The parts of the libraries used here (their own types.d.ts, which a CommonJS file cannot import as types). */
interface Decoded {
	channelData: Float32Array[];
	samplesDecoded: number;
	sampleRate: number;
	errors: Array<{ message: string }>;
}
interface WasmDecoder {
	ready: Promise<void>;
	free(): void;
}
interface OpusDecoderInstance extends WasmDecoder {
	decodeFrame(packet: Uint8Array): Decoded;
}
interface MpegDecoderInstance extends WasmDecoder {
	decode(bytes: Uint8Array): Decoded;
}
interface OpusModule {
	OpusDecoder: new (options: { channels: number; sampleRate: number; preSkip: number }) => OpusDecoderInstance;
}
interface MpegModule {
	MPEGDecoder: new () => MpegDecoderInstance;
}

let opusModule: Promise<OpusModule> | undefined;
let mpegModule: Promise<MpegModule> | undefined;

function loadOpus(): Promise<OpusModule> {
	opusModule ??= (import('opus-decoder') as Promise<unknown> as Promise<OpusModule>).catch((error: unknown) => {
		opusModule = undefined;
		throw error;
	});
	return opusModule;
}

function loadMpeg(): Promise<MpegModule> {
	mpegModule ??= (import('mpg123-decoder') as Promise<unknown> as Promise<MpegModule>).catch((error: unknown) => {
		mpegModule = undefined;
		throw error;
	});
	return mpegModule;
}

type OpusRate = 8000 | 12000 | 16000 | 24000 | 48000;

/** libopus decoding one mono or stereo stream (channel mapping family 0) at `rate`. */
export class OpusPacketDecoder {
	private decoder?: OpusDecoderInstance;
	private packets = 0;

	private constructor(readonly channels: number, readonly rate: OpusRate) {}

	static async create(channels: number, rate: OpusRate): Promise<OpusPacketDecoder> {
		const { OpusDecoder } = await loadOpus();
		const wrapper = new OpusPacketDecoder(channels, rate);
		const decoder = new OpusDecoder({ channels, sampleRate: rate, preSkip: 0 });
		await decoder.ready;
		wrapper.decoder = decoder;
		return wrapper;
	}

	/** One Opus packet → one Float32Array per channel. */
	decode(packet: Uint8Array): Float32Array[] {
		if (!this.decoder) throw new Error('this Opus decoder was disposed');
		this.packets++;
		if (packet.length === 0) return [];
		const result = this.decoder.decodeFrame(packet);
		if (result.errors.length > 0) {
			throw corrupt(`Opus packet ${this.packets} cannot be decoded (${describeLibraryError(result.errors[0].message)})`);
		}
		return result.channelData.slice(0, this.channels);
	}

	dispose(): void {
		const decoder = this.decoder;
		this.decoder = undefined;
		decoder?.free();
	}
}

/** mpg123 in feed mode: whole MPEG audio frames in, samples out (it holds the bit reservoir). */
export class MpegFrameDecoder {
	private decoder?: MpegDecoderInstance;
	private frames = 0;

	static async create(): Promise<MpegFrameDecoder> {
		const { MPEGDecoder } = await loadMpeg();
		const wrapper = new MpegFrameDecoder();
		const decoder = new MPEGDecoder();
		await decoder.ready;
		wrapper.decoder = decoder;
		return wrapper;
	}

	/** One frame (or several) → samples per channel (mpg123 always gives two), and their rate. */
	decode(frames: Uint8Array): { channels: Float32Array[]; rate: number } {
		if (!this.decoder) throw new Error('this MP3 decoder was disposed');
		this.frames++;
		const result = this.decoder.decode(frames);
		if (result.errors.length > 0) {
			throw corrupt(`MP3 frame ${this.frames} cannot be decoded (${describeLibraryError(result.errors[0].message)})`);
		}
		return { channels: result.samplesDecoded > 0 ? result.channelData : [], rate: result.sampleRate };
	}

	dispose(): void {
		const decoder = this.decoder;
		this.decoder = undefined;
		decoder?.free();
	}
}

/** "libopus -4 OPUS_INVALID_PACKET: The compressed data passed is corrupted" → the part after the code. */
function describeLibraryError(message: string): string {
	return message.replace(/^libopus -?\d+ /, 'libopus: ').trim() || 'no reason given';
}

/** True when the decoder libraries could not be loaded at all (reported as such, not as a bad file). */
export function isLoadFailure(error: unknown): boolean {
	return !(error instanceof AudioProblem);
}
