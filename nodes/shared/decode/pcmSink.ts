import { Resampler } from '../encode/resample';
import { AudioProblem, describeSeconds } from './problems';

/** What the node uploads after converting: 24 kHz mono 16-bit PCM in a WAV, as Faseeh speaks. */
export const CONVERTED_RATE = 24000;
const BLOCK_BYTES = 1 << 20;

/**
 * Decoded audio in, a 24 kHz mono 16-bit WAV out, held in 1 MiB blocks (never joined: the upload
 * streams them), so the memory is the WAV's size plus one block. Channels are averaged; another rate
 * goes through the package's windowed-sinc resampler. Refuses to grow past `maxSeconds`.
 */
export class WavSink {
	private readonly blocks: Buffer[] = [];
	private block: Buffer = Buffer.allocUnsafeSlow(BLOCK_BYTES);
	private view: Int16Array = new Int16Array(this.block.buffer, this.block.byteOffset, BLOCK_BYTES >> 1);
	/** Bytes used in `block`. */
	private fill = 0;
	private samples = 0;
	private resampler?: Resampler;
	private inputRate?: number;
	private readonly maxSamples: number;

	constructor(
		private readonly maxSeconds: number,
		/** The limit in words, for the message. */
		private readonly limit: string,
	) {
		this.maxSamples = Math.floor(maxSeconds * CONVERTED_RATE);
	}

	/** Seconds written so far. */
	get seconds(): number {
		return this.samples / CONVERTED_RATE;
	}

	/** One piece of decoded audio: one Float32Array per channel, all the same length, at `rate`. */
	write(channels: Float32Array[], rate: number): void {
		if (channels.length === 0 || channels[0].length === 0) return;
		let mono = channels.length === 1 ? channels[0] : mix(channels);
		if (this.inputRate === undefined) {
			this.inputRate = rate;
			if (rate !== CONVERTED_RATE) this.resampler = new Resampler(rate, CONVERTED_RATE);
		} else if (rate !== this.inputRate) {
			throw new AudioProblem('unsupported', `its sample rate changes from ${this.inputRate} Hz to ${rate} Hz part-way through`);
		}
		if (this.resampler) mono = this.resampler.push(mono);
		this.append(mono);
	}

	/** Drops the last `count` samples written (an encoder's padding, known only at the end). */
	dropLast(count: number): void {
		let bytes = Math.min(count, this.samples) * 2;
		this.samples -= bytes / 2;
		while (bytes > 0) {
			if (this.fill >= bytes) {
				this.fill -= bytes;
				return;
			}
			bytes -= this.fill;
			const previous = this.blocks.pop();
			if (!previous) {
				this.fill = 0;
				return;
			}
			this.setBlock(previous);
			this.fill = previous.length;
		}
	}

	/** Keeps only the first `count` samples. */
	keepFirst(count: number): void {
		if (count < this.samples) this.dropLast(this.samples - count);
	}

	get sampleCount(): number {
		return this.samples;
	}

	/** The WAV: a 44-byte header, then the PCM blocks (the caller sends them in order). */
	finish(): { parts: Buffer[]; size: number; durationSeconds: number } {
		if (this.resampler) this.append(this.resampler.flush());
		this.resampler = undefined;
		const data = [...this.blocks, this.block.subarray(0, this.fill)].filter((part) => part.length > 0);
		const dataBytes = this.samples * 2;
		const header = Buffer.alloc(44);
		header.write('RIFF', 0, 'latin1');
		header.writeUInt32LE(36 + dataBytes, 4);
		header.write('WAVEfmt ', 8, 'latin1');
		header.writeUInt32LE(16, 16);
		header.writeUInt16LE(1, 20);
		header.writeUInt16LE(1, 22);
		header.writeUInt32LE(CONVERTED_RATE, 24);
		header.writeUInt32LE(CONVERTED_RATE * 2, 28);
		header.writeUInt16LE(2, 32);
		header.writeUInt16LE(16, 34);
		header.write('data', 36, 'latin1');
		header.writeUInt32LE(dataBytes, 40);
		return { parts: [header, ...data], size: 44 + dataBytes, durationSeconds: Math.round((this.samples / CONVERTED_RATE) * 1000) / 1000 };
	}

	private setBlock(block: Buffer): void {
		this.block = block;
		this.view = new Int16Array(block.buffer, block.byteOffset, block.length >> 1);
	}

	private append(samples: Float32Array): void {
		if (this.samples + samples.length > this.maxSamples) {
			throw new AudioProblem('tooLong', `is longer than ${describeSeconds(this.maxSeconds)}: ${this.limit}`);
		}
		let offset = 0;
		while (offset < samples.length) {
			if (this.fill === this.block.length) {
				this.blocks.push(this.block);
				this.setBlock(Buffer.allocUnsafeSlow(BLOCK_BYTES));
				this.fill = 0;
			}
			const take = Math.min(samples.length - offset, (this.block.length - this.fill) >> 1);
			const view = this.view;
			const start = this.fill >> 1;
			for (let i = 0; i < take; i++) {
				const value = Math.round(samples[offset + i] * 32768);
				view[start + i] = value > 32767 ? 32767 : value < -32768 ? -32768 : value;
			}
			this.fill += take * 2;
			offset += take;
		}
		this.samples += samples.length;
	}
}

function mix(channels: Float32Array[]): Float32Array {
	const length = channels[0].length;
	const out = new Float32Array(length);
	for (const channel of channels) for (let i = 0; i < length; i++) out[i] += channel[i];
	const scale = 1 / channels.length;
	for (let i = 0; i < length; i++) out[i] *= scale;
	return out;
}
