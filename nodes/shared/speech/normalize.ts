/**
 * Loudness normalisation of spoken audio (docs/reference.md, "Loudness"): every piece of speech is held
 * anyway until it is joined (pieces.ts), so it is measured while held (BS.1770-4, ./loudness.ts),
 * given the gain that brings its unit (a text, or a dialogue's turn) to the target, and its peaks
 * are limited to the true-peak ceiling, before it goes on to the encoder. No second copy of the
 * output is made: memory is the piece's, a few MB.
 *
 * - The gain of a piece comes from the loudness of its unit so far, this piece included (Speech →
 *   Generate: the whole text; Dialogue: the turn), so the pieces of one text get nearly one gain
 *   and every voice of a dialogue ends at the target. Gains are bounded to ±40 dB.
 * - A look-ahead limiter (5 ms attack, a ramp, 80 ms release) keeps the true peak (4× oversampled)
 *   at the ceiling; where it took loudness away, the piece's gain is raised by what it lost and
 *   limited again (a few rounds at most).
 * - The ceiling sits below −1 dBTP by a margin for what lossy encoders add to peaks (MP3, Opus).
 */
import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import type { AudioAnswer } from '../audio';
import { downmixToMono } from '../audio';
import type { OutputFormat } from '../encode';
import { Slicer } from '../encode/slicer';
import type { ParameterValidator } from '../validate';
import { dbToLinear, gatedLoudness, linearToDb, LoudnessMeter, peakAt, REACH_AFTER, REACH_BEFORE, SCREEN_FACTOR, STRETCH } from './loudness';
import type { SpeechOutput } from './output';

export type LoudnessMode = 'off' | 'podcast' | 'broadcast' | 'custom';

export const LOUDNESS_TARGETS = { podcast: -16, broadcast: -23 } as const;
export const CUSTOM_TARGET_RANGE = { min: -40, max: -5 } as const;
/** The true-peak ceiling every setting but Off keeps (EBU R128 s1, Apple, Spotify: −1 dBTP). */
export const TRUE_PEAK_CEILING_DBTP = -1;
/**
 * How far below the ceiling the limiter aims, per format: a lossy encoder's decoded output peaks
 * above its input, the more so at low bit rates. Measured with ffmpeg's true-peak meter (192 kHz)
 * on the decoded files of speech whose consonant-like peaks were limited at the aim
 * (test/unit/loudness.test.ts): MP3 at 32-128 kbps no higher than its input; Opus +0.3 dB at
 * 64 kbps, up to +0.9 dB at 24-32; below 24 kbps Opus codes speech with SILK, a speech model:
 * +0.2 dB on speech-like audio, but on the sandbox's tones with 2.5 kHz bursts it produced peaks
 * 20 dB above the input (docs/reference.md, "Loudness"). WAV and raw PCM keep a little room for meters that
 * oversample more finely than 4× (ffmpeg: 8× at 24 kHz).
 */
export function ceilingMarginDb(format: OutputFormat, bitRateKbps?: number): number {
	if (format === 'mp3') return 0.7;
	if (format === 'oggOpus') {
		const kbps = bitRateKbps ?? 32;
		return kbps >= 48 ? 1 : kbps >= 24 ? 2 : 3;
	}
	return 0.3;
}
const MAX_GAIN_DB = 40;
const MIN_GAIN_DB = -40;
const LOOKAHEAD_SECONDS = 0.005;
const COMPENSATION_ROUNDS = 6;
const RELEASE_SECONDS = 0.08;

export interface LoudnessSettings {
	mode: Exclude<LoudnessMode, 'off'>;
	targetLufs: number;
}

/** The Loudness parameter and its Custom target, for Speech → Generate, Dialogue and Voice → Preview. */
export const loudnessProperties: INodeProperties[] = [
	{
		displayName: 'Loudness',
		name: 'loudness',
		type: 'options',
		options: [
			{ name: 'Off', value: 'off', description: 'The audio as Faseeh speaks it' },
			{
				name: 'Podcast (−16 LUFS)',
				value: 'podcast',
				description: 'Apple Podcasts, Spotify, YouTube and most platforms; true peak at most −1 dBTP',
			},
			{
				name: 'Broadcast (−23 LUFS, EBU R128)',
				value: 'broadcast',
				description: 'Radio and TV in Europe (EBU R128); true peak at most −1 dBTP',
			},
			{ name: 'Custom', value: 'custom', description: 'Your own target from −40 to −5 LUFS; true peak at most −1 dBTP' },
		],
		default: 'off',
		description:
			'Bring the speech to a standard loudness (ITU-R BS.1770-4), with its true peak kept at or below −1 dBTP. In a dialogue every voice ends at the same loudness.',
	},
	{
		displayName: 'Target Loudness (LUFS)',
		name: 'loudnessTarget',
		type: 'number',
		typeOptions: { minValue: CUSTOM_TARGET_RANGE.min, maxValue: CUSTOM_TARGET_RANGE.max, numberPrecision: 1 },
		default: -16,
		description: 'Integrated loudness to reach, from −40 to −5 LUFS (−14 is louder than −16)',
		displayOptions: { show: { loudness: ['custom'] } },
	},
];

/** The item's Loudness setting, checked before any request; undefined for Off. */
export function readLoudness(this: IExecuteFunctions, check: ParameterValidator, itemIndex: number): LoudnessSettings | undefined {
	const mode = this.getNodeParameter('loudness', itemIndex, 'off') as string;
	if (mode === 'off') return undefined;
	if (mode === 'podcast' || mode === 'broadcast') return { mode, targetLufs: LOUDNESS_TARGETS[mode] };
	if (mode !== 'custom') throw check.fail('Loudness', `must be Off, Podcast, Broadcast or Custom, got ${JSON.stringify(mode)}`);
	const targetLufs = check.numberInRange(
		'Target Loudness (LUFS)',
		this.getNodeParameter('loudnessTarget', itemIndex, -16),
		CUSTOM_TARGET_RANGE.min,
		CUSTOM_TARGET_RANGE.max,
	);
	return { mode, targetLufs };
}

export interface LoudnessSummary extends IDataObject {
	mode: string;
	targetLufs: number;
	truePeakCeilingDbtp: number;
	/** Integrated loudness of the written audio (its pieces' blocks), before encoding. */
	integratedLufs: number | null;
	/** Largest true peak of the written audio, before encoding. */
	truePeakDbtp: number | null;
}

/** One item's normalisation: see the file comment. Not re-entrant: await each apply(). */
export class LoudnessNormalizer {
	private readonly slicer = new Slicer();
	private readonly ceiling: number;
	/** Unmodified blocks (mean squares) of each unit so far. */
	private readonly units = new Map<number | string, number[]>();
	/** Blocks of the output, for the summary. */
	private readonly written: number[] = [];
	private peak = 0;
	/** Work arrays, kept for the next piece (pieces of one item are of similar length). */
	private readonly scratch = new Scratch();

	constructor(
		readonly settings: LoudnessSettings,
		format: OutputFormat,
		bitRateKbps?: number,
	) {
		this.ceiling = dbToLinear(TRUE_PEAK_CEILING_DBTP - ceilingMarginDb(format, bitRateKbps));
	}

	/**
	 * 16-bit mono PCM of one piece (a pause before it is fine: silence is gated out) normalised as
	 * part of `unit`; returns new PCM of the same length.
	 */
	async apply(pcm: Buffer, sampleRate: number, unit: number | string = 0): Promise<Buffer> {
		const piece = new HeldPiece(pcm, sampleRate, this.slicer, this.scratch);
		await piece.measure();
		const own = piece.meter.blocksOrWhole();
		const unitBlocks = this.units.get(unit) ?? [];
		for (const block of own) unitBlocks.push(block);
		this.units.set(unit, unitBlocks);
		const unitLoudness = gatedLoudness(unitBlocks);
		let gainDb = unitLoudness === undefined ? 0 : clamp(this.settings.targetLufs - unitLoudness, MIN_GAIN_DB, MAX_GAIN_DB);

		// Limit at this gain; where limiting took more than LOSS_TOLERATED_LU of loudness away, raise
		// the gain until the piece measures what it would without limiting, and limit again.
		let aim = this.ceiling * AIM_BELOW_CEILING;
		let limited = await piece.limit(gainDb, aim);
		const unlimited = () => own.map((block) => block * dbToLinear(2 * gainDb));
		let blocks = limited ? piece.estimatedBlocks(gainDb) : unlimited();
		if (limited) {
			const expected = gatedLoudness(piece.estimatedBlocks(gainDb, false));
			const search = new GainSearch(expected ?? this.settings.targetLufs);
			for (let round = 0; round < COMPENSATION_ROUNDS && expected !== undefined; round++) {
				const next = search.next(gainDb, gatedLoudness(blocks));
				if (next === undefined) break;
				gainDb = Math.min(next, MAX_GAIN_DB);
				limited = await piece.limit(gainDb, aim);
				blocks = limited ? piece.estimatedBlocks(gainDb) : unlimited();
			}
			const best = search.best(gainDb, gatedLoudness(blocks));
			if (best !== gainDb) {
				gainDb = best;
				limited = await piece.limit(gainDb, aim);
				blocks = limited ? piece.estimatedBlocks(gainDb) : unlimited();
			}
		}
		// The limiter works on each sample's own true peak; the gain's slope can leave a point
		// between samples a little above it: checked, and limited again with a lower aim.
		let peak = await piece.outputPeak(gainDb, this.peak);
		for (let pass = 0; pass < 3 && peak > this.ceiling; pass++) {
			aim *= (this.ceiling / peak) * AIM_BELOW_CEILING;
			await piece.limit(gainDb, aim);
			blocks = piece.estimatedBlocks(gainDb);
			peak = await piece.outputPeak(gainDb, this.peak);
		}
		for (const block of blocks) this.written.push(block);
		if (peak > this.peak) this.peak = peak;
		return await piece.toPcm(gainDb);
	}

	summary(): LoudnessSummary {
		const integrated = gatedLoudness(this.written);
		return {
			mode: this.settings.mode,
			targetLufs: this.settings.targetLufs,
			truePeakCeilingDbtp: TRUE_PEAK_CEILING_DBTP,
			integratedLufs: integrated === undefined ? null : round(integrated, 2),
			truePeakDbtp: this.peak > 0 ? round(linearToDb(this.peak), 2) : null,
		};
	}
}

/**
 * Finds the gain at which a limited piece measures `expected` (what it would without limiting):
 * loudness rises with the gain, more slowly where the limiter works, so the gain is stepped up by
 * what was lost, then by secant steps, bracketed once a step overshoots (regula falsi, halving
 * when a step leaves the bracket). A loss under LOSS_TOLERATED_LU is left as it is.
 */
class GainSearch {
	private below?: { gain: number; loudness: number };
	private above?: { gain: number; loudness: number };
	private previous?: { gain: number; loudness: number };
	private closest?: { gain: number; miss: number };

	constructor(private readonly expected: number) {}

	/** The next gain to try after `gain` measured `loudness`, or undefined when it is close enough. */
	next(gain: number, loudness: number | undefined): number | undefined {
		if (loudness === undefined) return undefined;
		this.remember(gain, loudness);
		const lost = this.expected - loudness;
		if (Math.abs(lost) <= (this.previous ? LOSS_CONVERGED_LU : LOSS_TOLERATED_LU)) return undefined;
		const point = { gain, loudness };
		if (lost > 0) this.below = point;
		else this.above = point;
		let candidate: number;
		if (this.below && this.above) {
			const { below, above } = this;
			candidate = below.gain + ((this.expected - below.loudness) * (above.gain - below.gain)) / (above.loudness - below.loudness);
			const inside = candidate > Math.min(below.gain, above.gain) && candidate < Math.max(below.gain, above.gain);
			if (!inside) candidate = (below.gain + above.gain) / 2;
		} else {
			let step = lost;
			const previous = this.previous;
			if (previous && loudness !== previous.loudness && gain !== previous.gain) {
				const slope = (loudness - previous.loudness) / (gain - previous.gain);
				if (slope > 0) step = lost / slope;
				step = lost > 0 ? Math.min(Math.max(step, lost), 4 * lost) : Math.max(Math.min(step, lost), 4 * lost);
			}
			candidate = gain + step;
		}
		this.previous = point;
		return candidate;
	}

	/** The gain that came closest, `gain` (measured `loudness`) included. */
	best(gain: number, loudness: number | undefined): number {
		if (loudness !== undefined) this.remember(gain, loudness);
		return this.closest?.gain ?? gain;
	}

	private remember(gain: number, loudness: number): void {
		const miss = Math.abs(this.expected - loudness);
		if (!this.closest || miss < this.closest.miss) this.closest = { gain, miss };
	}
}

/** The limiter aims this far below its ceiling (0.05 dB), so the check after it rarely fails. */
const AIM_BELOW_CEILING = dbToLinear(-0.05);
/** Loudness the limiter may take from a piece without the gain being raised for it. */
const LOSS_TOLERATED_LU = 0.2;
/** Once raising, close enough. */
const LOSS_CONVERGED_LU = 0.05;

/** Float arrays reused from piece to piece (grown when a longer piece comes). */
class Scratch {
	private arrays = new Map<string, Float32Array>();

	get(name: string, length: number): Float32Array {
		let array = this.arrays.get(name);
		if (!array || array.length < length) {
			array = new Float32Array(Math.ceil(length * 1.1));
			this.arrays.set(name, array);
		}
		return array.subarray(0, length);
	}
}

/**
 * One piece while it is held: its samples, their loudness, and the limiter's gain curve.
 *
 * - The true peak of each sample (4× oversampled) is computed once, and only in stretches whose
 *   largest sample could reach the aim at the gain asked (SCREEN_FACTOR); at another gain the
 *   required gains are those peaks scaled, so a new round costs little.
 * - The limiter works only around the samples that need it: for each, the gain is lowered over
 *   the LOOKAHEAD before it; a release then climbs back towards 1 (RELEASE), and the mean over
 *   LOOKAHEAD ramps into every reduction. Elsewhere the gain is 1.
 * - The loudness after limiting is estimated from the K-weighted energy of every 64-sample
 *   stretch times its mean squared limiter gain (the gain changes over milliseconds, the stretch
 *   lasts 2.7 ms at 24 kHz), grouped into the meter's 100 ms sub-blocks and 400 ms blocks.
 */
class HeldPiece {
	readonly meter: LoudnessMeter;
	private readonly samples: Float32Array;
	private readonly stretches: number;
	/** Largest sample magnitude of each stretch, widened by the interpolation's reach. */
	private readonly maxima: Float32Array;
	/** Each sample's true peak, where computed (see `peaksDone`). */
	private readonly peaks: Float32Array;
	private readonly peaksDone: Uint8Array;
	/** The limiter's gain per sample (1 outside `segments`). */
	private readonly curve: Float32Array;
	/** Per stretch: the mean square and the largest value of the limiter's gain. */
	private readonly curveSquare: Float32Array;
	private readonly curveTop: Float32Array;
	private segments: Array<[number, number]> = [];
	private readonly span: number;
	private readonly recover: number;

	constructor(
		private readonly pcm: Buffer,
		sampleRate: number,
		private readonly slicer: Slicer,
		scratch: Scratch,
	) {
		const length = pcm.length >> 1;
		this.meter = new LoudnessMeter(sampleRate, { stretch: STRETCH });
		this.stretches = Math.ceil(length / STRETCH);
		this.samples = scratch.get('samples', length);
		this.peaks = scratch.get('peaks', length);
		this.curve = scratch.get('curve', length).fill(1);
		this.maxima = new Float32Array(this.stretches);
		this.peaksDone = new Uint8Array(this.stretches);
		this.curveSquare = new Float32Array(this.stretches).fill(1);
		this.curveTop = new Float32Array(this.stretches).fill(1);
		this.span = Math.max(1, Math.round(LOOKAHEAD_SECONDS * sampleRate));
		this.recover = 1 - Math.exp(-1 / (RELEASE_SECONDS * sampleRate));
	}

	/** Reads the samples (as floats), their stretch maxima and their loudness. */
	async measure(): Promise<void> {
		const x = this.samples;
		const count = x.length;
		const pcm = this.pcm;
		const source = pcm.byteOffset % 2 === 0 ? new Int16Array(pcm.buffer, pcm.byteOffset, count) : new Int16Array(Uint8Array.from(pcm.subarray(0, count * 2)).buffer);
		const own = new Float32Array(this.stretches);
		for (let s = 0; s < this.stretches; s++) {
			let max = 0;
			const end = Math.min(count, (s + 1) * STRETCH);
			for (let i = s * STRETCH; i < end; i++) {
				const value = source[i] / 32768;
				x[i] = value;
				const magnitude = value < 0 ? -value : value;
				if (magnitude > max) max = magnitude;
			}
			own[s] = max;
			if ((s & 1023) === 1023) await this.slicer.pause();
		}
		for (let s = 0; s < this.stretches; s++) {
			this.maxima[s] = Math.max(own[s], s > 0 ? own[s - 1] : 0, s + 1 < this.stretches ? own[s + 1] : 0);
		}
		await this.meter.push(x, this.slicer);
		this.meter.endStretches();
	}

	/**
	 * The limiter's gain for `gainDb` keeping every sample's true peak at or below `aim` (see the
	 * class comment). Every step only lowers the gain where a later one needs it, so every sample
	 * ends at or below what it requires. Returns whether any sample needed limiting.
	 */
	async limit(gainDb: number, aim: number): Promise<boolean> {
		const level = aim / dbToLinear(gainDb);
		// The samples that need less than gain 1, and what they need.
		const dips: number[] = [];
		const needs: number[] = [];
		for (let s = 0; s < this.stretches; s++) {
			if (this.maxima[s] * SCREEN_FACTOR <= level) continue;
			this.peaksFor(s);
			const end = Math.min(this.samples.length, (s + 1) * STRETCH);
			for (let i = s * STRETCH; i < end; i++) {
				if (this.peaks[i] > level) {
					dips.push(i);
					needs.push(level / this.peaks[i]);
				}
			}
			if ((s & 1023) === 1023) await this.slicer.pause();
		}
		this.curveSquare.fill(1);
		this.curveTop.fill(1);
		for (const [start, end] of this.segments) this.curve.fill(1, start, end);
		this.segments = [];
		if (dips.length === 0) return false;
		await this.smooth(dips, needs);
		return true;
	}

	/** Builds the gain curve around the dips, segment by segment (see the class comment). */
	private async smooth(dips: number[], needs: number[]): Promise<void> {
		const curve = this.curve;
		const n = curve.length;
		const span = this.span;
		const recover = this.recover;
		const released = new Float32Array(span);
		for (let d = 0; d < dips.length; ) {
			// A segment: dips whose releases overlap, from LOOKAHEAD before the first to where the
			// release after the last is back within 0.0001 of 1.
			const start = Math.max(0, dips[d] - span);
			let lowest = needs[d];
			let last = dips[d];
			let e = d + 1;
			const tailOf = (gain: number) => Math.ceil(Math.log(Math.max(1e-4, 1 - gain) / 1e-4) / recover) + span;
			while (e < dips.length && dips[e] - span <= last + tailOf(lowest)) {
				if (needs[e] < lowest) lowest = needs[e];
				last = dips[e];
				e++;
			}
			const end = Math.min(n, last + tailOf(lowest) + 1);
			// 1. The minimum of the needs over the next LOOKAHEAD samples.
			curve.fill(1, start, end);
			for (let k = d; k < e; k++) {
				const need = needs[k];
				for (let i = Math.max(start, dips[k] - span); i <= dips[k]; i++) if (need < curve[i]) curve[i] = need;
				if ((k & 4095) === 4095) await this.slicer.pause();
			}
			// 2. Release towards 1, never above that minimum; then the mean of the last LOOKAHEAD.
			let gain = 1;
			released.fill(1);
			let sum = span;
			let slot = 0;
			let stretch = Math.floor(start / STRETCH);
			let stretchEnd = Math.min(n, (stretch + 1) * STRETCH);
			let squares = 0;
			let top = 0;
			let inStretch = 0;
			for (let i = start; i < end; i++) {
				const target = curve[i];
				gain += (1 - gain) * recover;
				if (target < gain) gain = target;
				sum += gain - released[slot];
				released[slot] = gain;
				if (++slot === span) slot = 0;
				const mean = sum / span;
				const value = mean < 1 ? mean : 1;
				curve[i] = value;
				squares += value * value;
				if (value > top) top = value;
				inStretch++;
				if ((i & 65535) === 65535) await this.slicer.pause();
				if (i + 1 === stretchEnd || i + 1 === end) {
					// The stretch's other samples (outside the segment) keep gain 1.
					const length = stretchEnd - stretch * STRETCH;
					this.curveSquare[stretch] = (squares + (length - inStretch)) / length;
					this.curveTop[stretch] = inStretch < length ? 1 : top;
					stretch++;
					stretchEnd = Math.min(n, (stretch + 1) * STRETCH);
					squares = 0;
					top = 0;
					inStretch = 0;
				}
			}
			this.segments.push([start, end]);
			d = e;
			await this.slicer.pause();
		}
	}

	/** The 400 ms blocks of the output at `gainDb` with (or, `limited` false, without) the limiter's curve. */
	estimatedBlocks(gainDb: number, limited = true): number[] {
		const energy = this.meter.stretchEnergy;
		const sub = this.meter.subBlockSamples;
		const subBlocks = new Float64Array(Math.ceil(this.samples.length / sub));
		const gain2 = dbToLinear(2 * gainDb);
		for (let s = 0; s < energy.length; s++) {
			subBlocks[Math.floor((s * STRETCH) / sub)] += energy[s] * gain2 * (limited ? this.curveSquare[s] : 1);
		}
		const complete = Math.floor(this.samples.length / sub);
		const blocks: number[] = [];
		for (let k = 3; k < complete; k++) blocks.push((subBlocks[k] + subBlocks[k - 1] + subBlocks[k - 2] + subBlocks[k - 3]) / (4 * sub));
		if (blocks.length === 0 && this.samples.length > 0) blocks.push(subBlocks.reduce((a, b) => a + b, 0) / this.samples.length);
		return blocks;
	}

	/**
	 * The output's true peak at `gainDb` with the current curve: exact in every stretch that could
	 * exceed `floor` (the item's peak so far) or the largest sample.
	 */
	async outputPeak(gainDb: number, floor: number): Promise<number> {
		const gain = dbToLinear(gainDb);
		const x = this.samples;
		// The largest sample each stretch can have now: its source maximum, the gain, and the
		// largest limiter gain around it.
		const bound = (s: number) => this.maxima[s] * gain * Math.max(this.curveTop[s], s > 0 ? this.curveTop[s - 1] : 0, s + 1 < this.stretches ? this.curveTop[s + 1] : 0);
		let peak = floor;
		let first = 0;
		for (let s = 1; s < this.stretches; s++) if (bound(s) > bound(first)) first = s;
		const window = new Float32Array(STRETCH + REACH_BEFORE + REACH_AFTER + 1);
		const exact = (s: number) => {
			const from = s * STRETCH;
			const to = Math.min(x.length, from + STRETCH);
			const offset = from - REACH_BEFORE;
			let limitedHere = false;
			for (let i = 0; i < window.length; i++) {
				const at = offset + i;
				const inside = at >= 0 && at < x.length;
				const g = inside ? this.curve[at] : 1;
				if (g < 1) limitedHere = true;
				window[i] = inside ? x[at] * gain * g : 0;
			}
			if (!limitedHere) {
				// Unchanged by the limiter: the source's peaks, scaled.
				this.peaksFor(s);
				for (let i = from; i < to; i++) if (this.peaks[i] * gain > peak) peak = this.peaks[i] * gain;
				return;
			}
			// The window holds the reach of every point in the stretch; beyond the piece is silence.
			for (let i = from; i < to; i++) {
				const value = peakAt(window, i - offset);
				if (value > peak) peak = value;
			}
		};
		if (this.stretches > 0) exact(first);
		for (let s = 0; s < this.stretches; s++) {
			if (s === first || bound(s) * SCREEN_FACTOR <= peak) continue;
			exact(s);
			if ((s & 255) === 255) await this.slicer.pause();
		}
		return peak;
	}

	/** 16-bit PCM of the output: samples × gain × curve, rounded and clipped to the 16-bit range. */
	async toPcm(gainDb: number): Promise<Buffer> {
		const gain = dbToLinear(gainDb);
		const x = this.samples;
		const pcm = Buffer.allocUnsafeSlow(x.length * 2);
		const target = new Int16Array(pcm.buffer, pcm.byteOffset, x.length);
		const write = (from: number, to: number, withCurve: boolean) => {
			for (let i = from; i < to; i++) {
				const rounded = Math.round(x[i] * gain * (withCurve ? this.curve[i] : 1) * 32768);
				target[i] = rounded > 32767 ? 32767 : rounded < -32768 ? -32768 : rounded;
			}
		};
		let at = 0;
		for (const [start, end] of [...this.segments, [x.length, x.length] as [number, number]]) {
			for (let from = at; from < start; from += 65536) {
				write(from, Math.min(start, from + 65536), false);
				await this.slicer.pause();
			}
			for (let from = start; from < end; from += 65536) {
				write(from, Math.min(end, from + 65536), true);
				await this.slicer.pause();
			}
			at = end;
		}
		return pcm;
	}

	/**
	 * Computes the true peaks of stretch `s`'s samples once: each sample's magnitude, and the
	 * interpolated points around every local maximum of the magnitudes (a peak between two samples
	 * lies next to one: between samples, speech below a quarter of the rate rises above its
	 * neighbours only where they already turn; see SCREEN_FACTOR), which costs a third of
	 * interpolating every sample.
	 */
	private peaksFor(s: number): void {
		if (this.peaksDone[s]) return;
		this.peaksDone[s] = 1;
		const x = this.samples;
		const peaks = this.peaks;
		const from = s * STRETCH;
		const end = Math.min(x.length, from + STRETCH);
		for (let n = from; n < end; n++) peaks[n] = x[n] < 0 ? -x[n] : x[n];
		for (let n = from; n < end; n++) {
			const here = peaks[n];
			const before = n > 0 ? Math.abs(x[n - 1]) : 0;
			const after = n + 1 < x.length ? Math.abs(x[n + 1]) : 0;
			if (here < before || here < after) continue;
			// The points between n - 1 and n, and between n and n + 1.
			if (n > from) peaks[n - 1] = Math.max(peaks[n - 1], peakAt(x, n - 1));
			else if (n > 0) peaks[n] = Math.max(peaks[n], peakAt(x, n - 1));
			peaks[n] = Math.max(peaks[n], peakAt(x, n));
		}
	}
}

/**
 * Writes one whole answer (a short text, a preview) normalised when Loudness is on. Only PCM can
 * be normalised: an answer that is another container (Faseeh sent an MP3) is refused.
 */
export async function writeAnswer(
	context: IExecuteFunctions,
	output: SpeechOutput,
	answer: AudioAnswer,
	normalizer: LoudnessNormalizer | undefined,
	itemIndex: number,
): Promise<void> {
	if (!normalizer) return await output.writeAnswer(answer);
	if (answer.kind !== 'pcm') {
		throw new NodeOperationError(context.getNode(), `Faseeh answered ${answer.mimeType} audio, which this node cannot normalise [item ${itemIndex}]`, {
			itemIndex,
			description: 'Set Loudness to Off to keep the audio as Faseeh sent it.',
		});
	}
	const pcm = downmixToMono(answer.pcm, answer.channels);
	await output.writePcm(await normalizer.apply(pcm, answer.sampleRate), answer.sampleRate);
}

function clamp(value: number, min: number, max: number): number {
	return Math.min(max, Math.max(min, value));
}

function round(value: number, digits: number): number {
	const scale = 10 ** digits;
	return Math.round(value * scale) / scale;
}
