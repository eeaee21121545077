import { OggStream, OGG_FLAGS, opusHead, opusTags } from './ogg';
import { OpusFrameEncoder } from './opusNative';
import { PcmInput, toFloat, toInt16 } from './pcm';
import { Resampler } from './resample';
import type { Slicer } from './slicer';

/** Rates libopus encodes natively. Other input rates are resampled to the next one up. */
export const OPUS_RATES = [8000, 12000, 16000, 24000, 48000] as const;

/**
 * libopus's look-ahead for the AUDIO/VOIP applications is 2.5 ms + 4 ms at every rate: 312
 * samples at 48 kHz, the pre-skip opusenc and ffmpeg write too. The decoder drops these first
 * samples, so the audio starts where the input did.
 */
export const OPUS_PRE_SKIP = 312;

/** Opus granule positions always count 48 kHz samples (RFC 7845 §4). */
const GRANULE_RATE = 48000;
const FRAME_MS = 20;
const FRAME_48K = (GRANULE_RATE * FRAME_MS) / 1000;
/** Input samples handled between two chances to yield: about one frame (a fraction of a ms). */
const PIECE_SAMPLES = 512;
const OPUS_SET_SIGNAL = 4024;
const OPUS_SET_VBR_CONSTRAINT = 4020;
const OPUS_SIGNAL_VOICE = 3001;
const EMPTY = Buffer.alloc(0);
export const OPUS_VENDOR = 'libopus 1.4 (opusscript), n8n-nodes-faseeh';

export function opusRateFor(inputRate: number): number {
	return OPUS_RATES.find((rate) => rate >= inputRate) ?? 48000;
}

/** Mono Opus in Ogg (RFC 7845), 20 ms frames, VBR at the asked bit rate, tuned for speech. */
export class OggOpusWriter {
	readonly outputSampleRate: number;
	private readonly input = new PcmInput();
	private readonly resampler: Resampler | undefined;
	private readonly encoder: OpusFrameEncoder;
	private readonly ogg: OggStream;
	private readonly frameSize: number;
	private readonly frame: Int16Array;
	private frameFill = 0;
	private frames = 0;
	private headers: Buffer | undefined;

	constructor(
		private readonly inputRate: number,
		bitRateKbps: number,
		private readonly slicer: Slicer,
		/**
		 * `rate`: the Opus rate to encode at (default: the next one up from the input's);
		 * `constrainedVbr`: libopus's constrained VBR (OPUS_SET_VBR_CONSTRAINT), whose average stays
		 * at the bit rate over any stretch, so a file's size is bounded by bit rate × length. (Hard
		 * CBR, OPUS_SET_VBR 0, bounds it exactly but encoded speech 2-3 times slower here.)
		 */
		options: { rate?: number; constrainedVbr?: boolean } = {},
	) {
		this.outputSampleRate = options.rate ?? opusRateFor(inputRate);
		if (this.outputSampleRate !== inputRate) this.resampler = new Resampler(inputRate, this.outputSampleRate);
		this.frameSize = (this.outputSampleRate * FRAME_MS) / 1000;
		this.frame = new Int16Array(this.frameSize);
		const controls: Array<[number, number]> = [[OPUS_SET_SIGNAL, OPUS_SIGNAL_VOICE]];
		if (options.constrainedVbr) controls.push([OPUS_SET_VBR_CONSTRAINT, 1]);
		this.encoder = new OpusFrameEncoder(this.outputSampleRate, this.frameSize, bitRateKbps * 1000, controls);
		// A random serial number, as RFC 3533 asks, so chained or multiplexed files stay distinct.
		this.ogg = new OggStream(Math.floor(Math.random() * 0x100000000) >>> 0);
		this.headers = Buffer.concat([
			this.ogg.page([opusHead(OPUS_PRE_SKIP, options.rate ?? inputRate)], BigInt(0), OGG_FLAGS.BOS),
			this.ogg.page([opusTags(OPUS_VENDOR, ['ENCODER=n8n-nodes-faseeh'])], BigInt(0), 0),
		]);
	}

	get inputSamples(): number {
		return this.input.samples;
	}

	async write(pcm: Buffer): Promise<Buffer> {
		const samples = this.input.take(pcm);
		const out: Buffer[] = [this.takeHeaders()];
		for (let start = 0; start < samples.length; start += PIECE_SAMPLES) {
			let piece = samples.subarray(start, start + PIECE_SAMPLES);
			if (this.resampler) piece = toInt16(this.resampler.push(toFloat(piece)));
			const encoded = this.encodeSamples(piece);
			if (encoded.length > 0) out.push(encoded);
			await this.slicer.pause();
		}
		return Buffer.concat(out);
	}

	async end(): Promise<Buffer> {
		const out: Buffer[] = [this.takeHeaders()];
		if (this.resampler) out.push(this.encodeSamples(toInt16(this.resampler.flush())));
		// Enough frames to cover pre-skip + the input; the last page's granule position trims the
		// padding (RFC 7845 §4.5), so the decoded length is the input's to the 48 kHz sample.
		const inputAt48k = Math.round((this.input.samples * GRANULE_RATE) / this.inputRate);
		const finalGranule = OPUS_PRE_SKIP + inputAt48k;
		const framesNeeded = Math.ceil(finalGranule / FRAME_48K);
		while (this.frames < framesNeeded) {
			this.frame.fill(0, this.frameFill);
			this.frameFill = this.frameSize;
			out.push(this.encodeFrame());
			await this.slicer.pause();
		}
		out.push(this.ogg.end(BigInt(finalGranule)));
		this.dispose();
		return Buffer.concat(out);
	}

	/** Frees libopus's memory for this encoder: on end, and on every path that gives up on the item. */
	dispose(): void {
		this.encoder.dispose();
	}

	private takeHeaders(): Buffer {
		const headers = this.headers ?? Buffer.alloc(0);
		this.headers = undefined;
		return headers;
	}

	private encodeSamples(samples: Int16Array): Buffer {
		if (samples.length === 0) return EMPTY;
		const out: Buffer[] = [];
		let offset = 0;
		while (offset < samples.length) {
			const take = Math.min(this.frameSize - this.frameFill, samples.length - offset);
			this.frame.set(samples.subarray(offset, offset + take), this.frameFill);
			this.frameFill += take;
			offset += take;
			if (this.frameFill === this.frameSize) out.push(this.encodeFrame());
		}
		return out.length === 1 ? out[0] : Buffer.concat(out);
	}

	private encodeFrame(): Buffer {
		const packet = this.encoder.encode(this.frame);
		this.frameFill = 0;
		this.frames++;
		return this.ogg.add(packet, BigInt(this.frames * FRAME_48K));
	}
}
