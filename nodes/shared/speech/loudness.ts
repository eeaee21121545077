/**
 * Loudness per ITU-R BS.1770-4 (mono): K-weighting, 400 ms blocks every 100 ms, the absolute gate
 * at −70 LUFS and the relative gate 10 LU below, and the true peak by 4× oversampling (Annex 2).
 * Written here, not taken from a library: npm has no maintained BS.1770 meter for Node
 * (docs/design.md, "Loudness meter"). Tested against ffmpeg's ebur128 filter (test/unit/loudness.test.ts).
 *
 * Samples are floats in −1…1 (full scale = 1). Work runs in slices that give the event loop a turn
 * (the encoders' process-wide run queue, ../encode/slicer.ts).
 */
import type { Slicer } from '../encode/slicer';

/** Samples between two checks of the slicer's budget (well under a millisecond of work). */
const CHUNK = 8192;
const TINY = 1e-20;

/** Loudness of a mean square (BS.1770-4 eq. 2, one channel of weight 1). */
export function powerToLufs(meanSquare: number): number {
	return -0.691 + 10 * Math.log10(meanSquare);
}

export function lufsToPower(lufs: number): number {
	return 10 ** ((lufs + 0.691) / 10);
}

export const ABSOLUTE_GATE_LUFS = -70;
export const RELATIVE_GATE_LU = -10;

/**
 * Gated loudness of 400 ms blocks given by their mean squares (BS.1770-4 eqs. 4-6): blocks above
 * −70 LUFS, then those above their mean's loudness − 10 LU. Undefined when no block passes.
 */
export function gatedLoudness(blocks: ArrayLike<number>): number | undefined {
	const absolute = lufsToPower(ABSOLUTE_GATE_LUFS);
	let sum = 0;
	let count = 0;
	for (let i = 0; i < blocks.length; i++) {
		if (blocks[i] > absolute) {
			sum += blocks[i];
			count++;
		}
	}
	if (count === 0) return undefined;
	const relative = Math.max(absolute, (sum / count) * 10 ** (RELATIVE_GATE_LU / 10));
	sum = 0;
	count = 0;
	for (let i = 0; i < blocks.length; i++) {
		if (blocks[i] > relative) {
			sum += blocks[i];
			count++;
		}
	}
	return count === 0 ? undefined : powerToLufs(sum / count);
}

interface Biquad {
	b0: number;
	b1: number;
	b2: number;
	a1: number;
	a2: number;
}

/**
 * The two K-weighting stages at any rate: the high shelf (+4 dB above ~1.7 kHz) and the RLB high
 * pass, from their analog prototypes by the bilinear transform (the parameters libebur128 derived
 * from BS.1770's 48 kHz coefficients, which they reproduce exactly at 48 kHz).
 */
export function kWeighting(rate: number): [Biquad, Biquad] {
	let f0 = 1681.974450955533;
	const gainDb = 3.999843853973347;
	let q = 0.7071752369554196;
	let k = Math.tan((Math.PI * f0) / rate);
	const vh = 10 ** (gainDb / 20);
	const vb = vh ** 0.4996667741545416;
	let a0 = 1 + k / q + k * k;
	const shelf: Biquad = {
		b0: (vh + (vb * k) / q + k * k) / a0,
		b1: (2 * (k * k - vh)) / a0,
		b2: (vh - (vb * k) / q + k * k) / a0,
		a1: (2 * (k * k - 1)) / a0,
		a2: (1 - k / q + k * k) / a0,
	};
	f0 = 38.13547087602444;
	q = 0.5003270373238773;
	k = Math.tan((Math.PI * f0) / rate);
	a0 = 1 + k / q + k * k;
	const highPass: Biquad = { b0: 1, b1: -2, b2: 1, a1: (2 * (k * k - 1)) / a0, a2: (1 - k / q + k * k) / a0 };
	return [shelf, highPass];
}

/**
 * A streaming BS.1770 meter: K-weighted samples are summed per 100 ms, and every 100 ms the last
 * 400 ms make a block (75 % overlap). Its filters and sums carry across `push` calls.
 */
export class LoudnessMeter {
	/** Mean square of each complete 400 ms block, in order. */
	readonly blocks: number[] = [];
	private readonly stages: [Biquad, Biquad];
	/** With `stretch`: the K-weighted energy (sum of squares) of every `stretch` samples pushed. */
	readonly stretchEnergy: number[] = [];
	readonly subBlockSamples: number;
	private readonly state = new Float64Array(8);
	private readonly stretch: number;
	private inStretch = 0;
	private stretchSum = 0;
	private readonly lastSubBlocks = [0, 0, 0];
	private subBlocks = 0;
	private sum = 0;
	private inSubBlock = 0;
	/** Every K-weighted sample's square and how many, for a push shorter than one block. */
	private totalSquares = 0;
	private totalSamples = 0;

	constructor(
		readonly rate: number,
		options: { stretch?: number } = {},
	) {
		this.stages = kWeighting(rate);
		this.subBlockSamples = Math.max(1, Math.round(rate / 10));
		this.stretch = options.stretch ?? 0;
	}

	async push(samples: Float32Array, slicer?: Slicer): Promise<void> {
		for (let start = 0; start < samples.length; start += CHUNK) {
			this.filter(samples, start, Math.min(samples.length, start + CHUNK));
			if (slicer) await slicer.pause();
		}
		this.totalSamples += samples.length;
	}

	/** Closes the last, partial stretch (see `stretchEnergy`). */
	endStretches(): void {
		if (this.inStretch > 0) this.stretchEnergy.push(this.stretchSum);
		this.inStretch = 0;
		this.stretchSum = 0;
	}

	/** K-weights samples [start, end) and sums their squares into 100 ms sub-blocks. */
	private filter(samples: Float32Array, start: number, end: number): void {
		const [s, h] = this.stages;
		const sb0 = s.b0;
		const sb1 = s.b1;
		const sb2 = s.b2;
		const sa1 = s.a1;
		const sa2 = s.a2;
		const ha1 = h.a1;
		const ha2 = h.a2;
		const st = this.state;
		let x1 = st[0];
		let x2 = st[1];
		let y1 = st[2];
		let y2 = st[3];
		let u1 = st[4];
		let u2 = st[5];
		let z1 = st[6];
		let z2 = st[7];
		let sum = this.sum;
		let inSubBlock = this.inSubBlock;
		const subBlockSamples = this.subBlockSamples;
		let squares = 0;
		const stretch = this.stretch;
		let inStretch = this.inStretch;
		let stretchSum = this.stretchSum;
		// A tiny signal at half the sample rate keeps the filters' state out of subnormal numbers
		// in silence (which made filtering 3× slower); its power, ~1e-40, is far below any gate.
		let tiny = TINY;
		for (let i = start; i < end; i++) {
			const x = samples[i] + tiny;
			tiny = -tiny;
			const y = sb0 * x + sb1 * x1 + sb2 * x2 - sa1 * y1 - sa2 * y2;
			x2 = x1;
			x1 = x;
			y2 = y1;
			y1 = y;
			// The high pass's numerator is 1, -2, 1.
			const z = y - 2 * u1 + u2 - ha1 * z1 - ha2 * z2;
			u2 = u1;
			u1 = y;
			z2 = z1;
			z1 = z;
			const square = z * z;
			sum += square;
			if (stretch > 0) {
				stretchSum += square;
				if (++inStretch === stretch) {
					this.stretchEnergy.push(stretchSum);
					stretchSum = 0;
					inStretch = 0;
				}
			}
			if (++inSubBlock === subBlockSamples) {
				squares += sum;
				this.closeSubBlock(sum);
				sum = 0;
				inSubBlock = 0;
			}
		}
		st[0] = x1;
		st[1] = x2;
		st[2] = y1;
		st[3] = y2;
		st[4] = u1;
		st[5] = u2;
		st[6] = z1;
		st[7] = z2;
		this.sum = sum;
		this.inSubBlock = inSubBlock;
		this.inStretch = inStretch;
		this.stretchSum = stretchSum;
		this.totalSquares += squares;
	}

	/** Gated loudness of the blocks so far (undefined: none above the gates). */
	integrated(): number | undefined {
		return gatedLoudness(this.blocks);
	}

	/** The blocks, or, for audio shorter than one block, its whole mean square as one block. */
	blocksOrWhole(): number[] {
		if (this.blocks.length > 0 || this.totalSamples === 0) return this.blocks;
		return [(this.totalSquares + this.sum) / this.totalSamples];
	}

	private closeSubBlock(energy: number): void {
		const [a, b, c] = this.lastSubBlocks;
		this.subBlocks++;
		if (this.subBlocks >= 4) this.blocks.push((a + b + c + energy) / (4 * this.subBlockSamples));
		this.lastSubBlocks[0] = b;
		this.lastSubBlocks[1] = c;
		this.lastSubBlocks[2] = energy;
	}
}

/**
 * True peak by 4× oversampling (BS.1770-4 Annex 2): a 49-tap Hann-windowed sinc interpolates three
 * points between every two samples (12 taps each); the true peak is the largest magnitude of the
 * samples and those points. Audio is taken to be silent outside the buffer.
 */
export const OVERSAMPLING = 4;
const TAPS = 49;
const HALF = (TAPS - 1) / 2;
/** PHASES[k - 1][q] weighs sample n + 6 - q for the point n + k/4. */
const PHASES: Float64Array[] = [1, 2, 3].map((k) => {
	const taps = new Float64Array(Math.floor((TAPS - 1 - k) / OVERSAMPLING) + 1);
	for (let q = 0; q < taps.length; q++) {
		const m = k + OVERSAMPLING * q;
		const x = (m - HALF) / OVERSAMPLING;
		const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
		taps[q] = sinc * 0.5 * (1 - Math.cos((2 * Math.PI * m) / (TAPS - 1)));
	}
	return taps;
});
/** Samples before and after n that the points between n and n + 1 use. */
export const REACH_BEFORE = PHASES[0].length - 1 - HALF / OVERSAMPLING;
export const REACH_AFTER = HALF / OVERSAMPLING;
/**
 * The most an interpolated point can exceed the largest sample around it, for any signal (the sum
 * of a phase's tap magnitudes, 5.4 dB): reached only by content near the Nyquist frequency.
 */
export const INTERPOLATION_BOUND = Math.max(1, ...PHASES.map((taps) => taps.reduce((sum, tap) => sum + Math.abs(tap), 0)));
/** Samples per stretch: the unit of screening (see SCREEN_FACTOR). */
export const STRETCH = 64;

/**
 * Where the stretches are screened: a stretch is interpolated only if its largest sample times
 * this reaches the level in question. Between samples a signal rises at most 3 dB above the
 * samples around it up to a quarter of the sample rate (a tone at rate/4 sampled 45° off its
 * peaks: 1/cos(π/4)); only content above rate/4 (6 kHz at 24 kHz, where speech has little energy)
 * can rise more, up to INTERPOLATION_BOUND. Interpolating every stretch cost 3× the time.
 */
export const SCREEN_FACTOR = 10 ** (3.05 / 20);
const [P1, P2, P3] = PHASES;

/** The largest magnitude among sample n and the interpolated points between n and n + 1. */
export function peakAt(x: Float32Array, n: number): number {
	const top = n + REACH_AFTER;
	let peak = x[n] < 0 ? -x[n] : x[n];
	if (n - REACH_BEFORE < 0 || top >= x.length) {
		for (const taps of PHASES) {
			let value = 0;
			for (let q = 0; q < taps.length; q++) {
				const i = top - q;
				if (i >= 0 && i < x.length) value += taps[q] * x[i];
			}
			if (Math.abs(value) > peak) peak = Math.abs(value);
		}
		return peak;
	}
	let a = 0;
	let b = 0;
	let c = 0;
	for (let q = 0; q < 12; q++) {
		const sample = x[top - q];
		a += P1[q] * sample;
		b += P2[q] * sample;
		c += P3[q] * sample;
	}
	if (a < 0) a = -a;
	if (b < 0) b = -b;
	if (c < 0) c = -c;
	if (a > peak) peak = a;
	if (b > peak) peak = b;
	if (c > peak) peak = c;
	return peak;
}

/**
 * The largest sample magnitude of each STRETCH-long stretch, widened by the interpolation's reach
 * on both sides (see SCREEN_FACTOR).
 */
async function stretchMaxima(x: Float32Array, slicer?: Slicer): Promise<Float32Array> {
	const count = Math.ceil(x.length / STRETCH);
	const own = new Float32Array(count);
	for (let s = 0; s < count; s++) {
		let max = 0;
		const end = Math.min(x.length, (s + 1) * STRETCH);
		for (let i = s * STRETCH; i < end; i++) {
			const magnitude = x[i] < 0 ? -x[i] : x[i];
			if (magnitude > max) max = magnitude;
		}
		own[s] = max;
		if (slicer && (s & 127) === 127) await slicer.pause();
	}
	// The reach (a few samples) is below one stretch, so the neighbours cover it.
	const widened = new Float32Array(count);
	for (let s = 0; s < count; s++) widened[s] = Math.max(own[s], s > 0 ? own[s - 1] : 0, s + 1 < count ? own[s + 1] : 0);
	return widened;
}

/**
 * The true peak (linear) of `x`, interpolating only where the screen says it may matter; with
 * `floor`, stretches that cannot exceed it are not interpolated (the result is then at least
 * `floor`'s neighbourhood, exact wherever it is above it).
 */
export async function truePeak(x: Float32Array, slicer?: Slicer, floor = 0): Promise<number> {
	const maxima = await stretchMaxima(x, slicer);
	let peak = floor;
	for (const value of maxima) if (value > peak) peak = value;
	let work = 0;
	for (let s = 0; s < maxima.length; s++) {
		if (maxima[s] * SCREEN_FACTOR <= peak) continue;
		const end = Math.min(x.length, (s + 1) * STRETCH);
		for (let n = s * STRETCH; n < end; n++) {
			const value = peakAt(x, n);
			if (value > peak) peak = value;
		}
		work += STRETCH;
		if (slicer && work >= CHUNK / 4) {
			work = 0;
			await slicer.pause();
		}
	}
	return peak;
}

/**
 * For each sample, the gain (≤ 1) that keeps its true peak at or below `ceiling`: 1 wherever the
 * bound shows no point near it can reach the ceiling. Undefined when no sample needs less than 1.
 */
export async function requiredGains(x: Float32Array, ceiling: number, slicer?: Slicer): Promise<Float32Array | undefined> {
	const maxima = await stretchMaxima(x, slicer);
	let gains: Float32Array | undefined;
	let work = 0;
	for (let s = 0; s < maxima.length; s++) {
		if (maxima[s] * SCREEN_FACTOR <= ceiling) continue;
		const end = Math.min(x.length, (s + 1) * STRETCH);
		for (let n = s * STRETCH; n < end; n++) {
			const value = peakAt(x, n);
			if (value > ceiling) {
				gains ??= new Float32Array(x.length).fill(1);
				gains[n] = ceiling / value;
			}
		}
		work += STRETCH;
		if (slicer && work >= CHUNK / 4) {
			work = 0;
			await slicer.pause();
		}
	}
	return gains;
}

export function dbToLinear(db: number): number {
	return 10 ** (db / 20);
}

export function linearToDb(value: number): number {
	return 20 * Math.log10(value);
}
