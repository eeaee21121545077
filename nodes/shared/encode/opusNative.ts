/**
 * The package's own binding to libopus, over the WebAssembly module that opusscript 0.1.1 ships
 * (libopus 1.4 compiled by Emscripten, with a small C++ class `OpusScriptHandler`). opusscript's
 * JavaScript wrapper is not used, because it writes outside the memory it allocates:
 *
 *   this.inPCMPointer = _malloc(len);                                    // a byte address
 *   this.inPCM = HEAPU16.subarray(this.inPCMPointer, this.inPCMPointer + len);  // read as a 16-bit index
 *   this.inPCM.set(buffer); handler._encode(this.inPCM.byteOffset, …)   // so at twice the address
 *
 * Every encoder of a process shares the module's one heap, so each frame landed in memory that
 * belonged to another encoder (or to libopus's own state): with several encoders alive, libopus
 * failed with "Bad argument", "memory access out of bounds", "Aborted()" or an assertion in
 * celt/kiss_fft.c. The wrapper also keeps views of the heap from construction, which go stale once
 * the heap grows ("RangeError: offset is out of bounds" after ~80 encoders that were never freed).
 *
 * This binding writes each frame at the address it allocated, reads the heap's current views on
 * every call, and frees everything in `dispose()`, which is idempotent and meant for every path
 * (end, abort, error, cancel). Tested with many encoders alive and interleaved, on every failure
 * path (test/unit/opusEncoders.test.ts).
 *
 * The C++ side (opusscript's src/opusscript_encoder.cpp), which this relies on:
 *
 *   int _encode(int input_buffer, int bytes, int output_buffer, int frame_size) {
 *     opus_int16* input = (opus_int16*) input_buffer;
 *     for (int i = 0; i < bytes; i++) input[i] = input[2 * i + 1] << 8 | input[2 * i];
 *     return opus_encode(encoder, input, frame_size, output, MAX_PACKET_SIZE);  // 1276 * 3
 *   }
 *
 * It expects one byte of the little-endian PCM in each 16-bit element and packs them in place. The
 * second argument only bounds that loop, so this binding passes the number of samples there: the
 * loop then reads exactly the frame's 2 × samples elements and writes the first `samples`, all
 * inside the frame's own allocation (4 bytes per sample). opusscript passes the byte count, which
 * also reads and writes a frame's length beyond it.
 */

import createOpusModule from 'opusscript/build/opusscript_native_wasm.js';

/** The parts of the Emscripten module this binding uses. */
interface NativeModule {
	HEAPU8: Uint8Array;
	HEAPU16: Uint16Array;
	_malloc(bytes: number): number;
	_free(pointer: number): void;
	OpusScriptHandler: {
		new (sampleRate: number, channels: number, application: number): NativeHandler;
		destroy_handler(handler: NativeHandler): void;
	};
}

interface NativeHandler {
	_encode(inputPointer: number, count: number, outputPointer: number, frameSize: number): number;
	_encoder_ctl(request: number, value: number): number;
}

/** Largest packet the C++ side lets libopus write (MAX_PACKET_SIZE in opusscript_encoder.cpp). */
const MAX_PACKET_BYTES = 1276 * 3;
const OPUS_APPLICATION_AUDIO = 2049;
const OPUS_SET_BITRATE = 4002;

const OPUS_ERRORS: Record<string, string> = {
	'-1': 'bad argument',
	'-2': 'buffer too small',
	'-3': 'internal error',
	'-4': 'invalid packet',
	'-5': 'unimplemented',
	'-6': 'invalid state',
	'-7': 'memory allocation failed',
};

let native: NativeModule | undefined;
let live = 0;

/**
 * libopus for this process: compiled and instantiated on first use (about 15 ms, once, in Node
 * synchronously), then shared by every encoder.
 */
function loadNative(): NativeModule {
	native ??= createOpusModule() as NativeModule;
	return native;
}

/** Encoders created and not yet disposed, in this process (for tests and diagnostics). */
export function liveOpusEncoders(): number {
	return live;
}

/** One mono libopus encoder in the shared module. Not re-entrant (it is synchronous anyway). */
export class OpusFrameEncoder {
	private readonly module: NativeModule;
	private handler: NativeHandler | undefined;
	private readonly inputPointer: number;
	private readonly outputPointer: number;

	/**
	 * @param frameSize samples per frame (20 ms: rate / 50); every encode() takes exactly this many
	 * @param controls encoder controls to apply (OPUS_SET_* request and value); the bit rate first
	 */
	constructor(
		sampleRate: number,
		readonly frameSize: number,
		bitsPerSecond: number,
		controls: Array<[request: number, value: number]> = [],
	) {
		this.module = loadNative();
		this.handler = new this.module.OpusScriptHandler(sampleRate, 1, OPUS_APPLICATION_AUDIO);
		live++;
		// Two bytes per element, one element per byte of the frame (see above): 4 bytes a sample.
		this.inputPointer = this.module._malloc(frameSize * 4);
		this.outputPointer = this.module._malloc(MAX_PACKET_BYTES);
		let problem = this.inputPointer === 0 || this.outputPointer === 0 ? 'libopus could not allocate memory for another encoder' : undefined;
		for (const [request, value] of [[OPUS_SET_BITRATE, bitsPerSecond], ...controls]) {
			if (problem) break;
			const result = this.handler._encoder_ctl(request, value);
			if (result < 0) problem = `libopus refused setting ${request} to ${value}: ${describe(result)}`;
		}
		if (problem) {
			this.dispose();
			throw new Error(problem);
		}
	}

	get disposed(): boolean {
		return this.handler === undefined;
	}

	/** One frame of exactly `frameSize` samples; returns the Opus packet (memory of its own). */
	encode(frame: Int16Array): Buffer {
		const handler = this.live();
		if (frame.length !== this.frameSize) throw new Error(`an Opus frame has ${this.frameSize} samples, not ${frame.length}`);
		// The heap's views are replaced when it grows: take the current one for every frame.
		const heap = this.module.HEAPU16;
		const base = this.inputPointer >>> 1;
		for (let i = 0; i < frame.length; i++) {
			const sample = frame[i] & 0xffff;
			heap[base + 2 * i] = sample & 0xff;
			heap[base + 2 * i + 1] = sample >>> 8;
		}
		const length = handler._encode(this.inputPointer, this.frameSize, this.outputPointer, this.frameSize);
		if (length < 0) throw new Error(`libopus could not encode a frame: ${describe(length)}`);
		return Buffer.from(this.module.HEAPU8.subarray(this.outputPointer, this.outputPointer + length));
	}

	/** Frees the encoder and its buffers. Safe to call more than once, and after a failure. */
	dispose(): void {
		const handler = this.handler;
		if (handler === undefined) return;
		this.handler = undefined;
		live--;
		this.module.OpusScriptHandler.destroy_handler(handler);
		if (this.inputPointer !== 0) this.module._free(this.inputPointer);
		if (this.outputPointer !== 0) this.module._free(this.outputPointer);
	}

	private live(): NativeHandler {
		if (this.handler === undefined) throw new Error('this Opus encoder was disposed');
		return this.handler;
	}
}

function describe(code: number): string {
	return OPUS_ERRORS[String(code)] ?? `error ${code}`;
}
