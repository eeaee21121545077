/**
 * Loudness normalisation of spoken audio (README, "Loudness"): every piece of speech is held
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
 * 20 dB above the input (README, "Loudness"). WAV and raw PCM keep a little room for meters that
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
		const piece = new HeldPiece(await toFloat(pcm, this.slicer), sampleRate, this.slicer);
		await piece.measure();
		const own = piece.meter.blocksOrWhole();
		const unitBlocks = this.units.get(unit) ?? [];
		for (const block of own) unitBlocks.push(block);
		this.units.set(unit, unitBlocks);
		const unitLoudness = gatedLoudness(unitBlocks);
		let gainDb = unitLoudness === undefined ? 0 : clamp(this.settings.targetLufs - unitLoudness, MIN_GAIN_DB, MAX_GAIN_DB);

		// Limit at this gain; where limiting took loudness away, raise the gain by what was lost
		// (a secant step from the second round on) and limit again.
		let aim = this.ceiling * AIM_BELOW_CEILING;
		let limited = await piece.limit(gainDb, aim);
		let blocks = limited ? piece.estimatedBlocks(gainDb) : own.map((block) => block * dbToLinear(2 * gainDb));
		if (limited) {
			const expected = gatedLoudness(piece.estimatedBlocks(gainDb, false));
			const search = new GainSearch(expected ?? this.settings.targetLufs);
			for (let round = 0; round < COMPENSATION_ROUNDS && expected !== undefined; round++) {
				const next = search.next(gainDb, gatedLoudness(blocks));
				if (next === undefined) break;
				gainDb = Math.min(next, MAX_GAIN_DB);
				limited = await piece.limit(gainDb, aim);
				blocks = limited ? piece.estimatedBlocks(gainDb) : own.map((block) => block * dbToLinear(2 * gainDb));
			}
			const best = search.best(gainDb, gatedLoudness(blocks));
			if (best !== gainDb) {
				gainDb = best;
				limited = await piece.limit(gainDb, aim);
				blocks = limited ? piece.estimatedBlocks(gainDb) : own.map((block) => block * dbToLinear(2 * gainDb));
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
 * when a step leaves the bracket).
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
		if (Math.abs(lost) <= 0.05) return undefined;
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

/**
 * One piece while it is held: its samples, their loudness, and the limiter's gain curve.
 *
 * - The true peak of each sample (4× oversampled) is computed once, and only in stretches whose
 *   largest sample could reach the aim at the gain asked (SCREEN_FACTOR); at another gain the
 *   required gains are those peaks scaled, so a new round costs a few passes over the piece.
 * - The loudness after limiting is estimated from the K-weighted energy of every 64-sample
 *   stretch times its mean squared limiter gain (the gain changes over milliseconds, the stretch
 *   lasts 2.7 ms at 24 kHz), grouped into the meter's 100 ms sub-blocks and 400 ms blocks.
 */
class HeldPiece {
	readonly meter: LoudnessMeter;
	private readonly stretches: number;
	/** Largest sample magnitude of each stretch, widened by the interpolation's reach. */
	private readonly maxima: Float32Array;
	/** Each sample's true peak, where computed (see `peaksDone`). */
	private readonly peaks: Float32Array;
	private readonly peaksDone: Uint8Array;
	/** The limiter's gain per sample (1 where it does not work). */
	private readonly curve: Float32Array;
	private curveActive = false;
	private readonly span: number;
	private readonly recover: number;

	constructor(
		private readonly samples: Float32Array,
		sampleRate: number,
		private readonly slicer: Slicer,
	) {
		this.meter = new LoudnessMeter(sampleRate, { stretch: STRETCH });
		this.stretches = Math.ceil(samples.length / STRETCH);
		this.maxima = new Float32Array(this.stretches);
		this.peaks = new Float32Array(samples.length);
		this.peaksDone = new Uint8Array(this.stretches);
		this.curve = new Float32Array(samples.length);
		this.span = Math.max(1, Math.round(LOOKAHEAD_SECONDS * sampleRate));
		this.recover = 1 - Math.exp(-1 / (RELEASE_SECONDS * sampleRate));
	}

	async measure(): Promise<void> {
		await this.meter.push(this.samples, this.slicer);
		this.meter.endStretches();
		const x = this.samples;
		const own = new Float32Array(this.stretches);
		for (let s = 0; s < this.stretches; s++) {
			let max = 0;
			const end = Math.min(x.length, (s + 1) * STRETCH);
			for (let i = s * STRETCH; i < end; i++) {
				const magnitude = x[i] < 0 ? -x[i] : x[i];
				if (magnitude > max) max = magnitude;
			}
			own[s] = max;
		}
		for (let s = 0; s < this.stretches; s++) {
			this.maxima[s] = Math.max(own[s], s > 0 ? own[s - 1] : 0, s + 1 < this.stretches ? own[s + 1] : 0);
		}
		await this.slicer.pause();
	}

	/**
	 * The limiter's gain curve for `gainDb`, keeping every sample's true peak at or below `aim`:
	 * the required gains' minimum over the next LOOKAHEAD, a release back towards 1, then their
	 * mean over the last LOOKAHEAD (a ramp into every reduction). Each step only lowers the gain
	 * where a later one needs it, so every sample ends at or below what it requires. Returns
	 * whether any sample needed limiting.
	 */
	async limit(gainDb: number, aim: number): Promise<boolean> {
		const gain = dbToLinear(gainDb);
		const level = aim / gain;
		// Required gain per sample, written into `curve` (1 where nothing is needed).
		const curve = this.curve;
		let needed = false;
		for (let s = 0; s < this.stretches; s++) {
			const from = s * STRETCH;
			const to = Math.min(curve.length, from + STRETCH);
			if (this.maxima[s] * SCREEN_FACTOR <= level) {
				curve.fill(1, from, to);
				continue;
			}
			this.peaksFor(s);
			for (let i = from; i < to; i++) {
				const peak = this.peaks[i];
				if (peak > level) {
					curve[i] = level / peak;
					needed = true;
				} else curve[i] = 1;
			}
			if ((s & 255) === 255) await this.slicer.pause();
		}
		this.curveActive = needed;
		if (!needed) return false;
		await this.slicer.pause();
		await this.smooth();
		return true;
	}

	/**
	 * Turns the required gains in `curve` into the limiter's gain curve, in place, working only
	 * where it changes anything: from LOOKAHEAD before a sample that needs limiting to where the
	 * release has come back within 0.0001 of 1 (elsewhere the curve stays 1).
	 */
	private async smooth(): Promise<void> {
		const curve = this.curve;
		const n = curve.length;
		const span = this.span;
		const size = span + 2;
		const ring = new Int32Array(size);
		const values = new Float32Array(size);
		const released = new Float32Array(span);
		const recover = this.recover;
		let i = 0;
		while (i < n) {
			if (curve[i] >= 1) {
				i++;
				continue;
			}
			// A segment: its first reduction at i; it ends where no reduction follows within the
			// release's reach (by then its gain is within 0.0001 of 1, where the next one starts).
			const start = Math.max(0, i - span);
			let last = i;
			let end = n;
			let level = curve[i];
			for (let j = i; j < n; j++) {
				if (curve[j] < 1) {
					last = j;
					level = Math.min(level, curve[j]);
				} else if (j - last > span) {
					// The release from `level` back to within 0.0001 of 1 takes this many samples.
					const tail = Math.ceil(Math.log((1 - level) / 1e-4) / recover) + span;
					if (j - last > tail) {
						end = j;
						break;
					}
				}
			}
			// 1. Minimum over [k, k + span], running backwards with a monotonic queue in a ring.
			let head = 0;
			let count = 0;
			for (let k = Math.min(n, end + span) - 1; k >= start; k--) {
				const value = curve[k];
				while (count > 0) {
					let back = head + count - 1;
					if (back >= size) back -= size;
					if (values[back] < value) break;
					count--;
				}
				let slot = head + count;
				if (slot >= size) slot -= size;
				ring[slot] = k;
				values[slot] = value;
				count++;
				if (ring[head] > k + span) {
					if (++head === size) head = 0;
					count--;
				}
				// Beyond the segment the required gains are only read (the next segment's own).
				if (k < end) curve[k] = values[head];
			}
			// 2. Release towards 1, never above the minimum ahead; then the mean of the last `span`.
			let gain = 1;
			released.fill(1);
			let sum = span;
			let slot = 0;
			for (let k = start; k < end; k++) {
				const target = curve[k];
				gain += (1 - gain) * recover;
				if (target < gain) gain = target;
				sum += gain - released[slot];
				released[slot] = gain;
				if (++slot === span) slot = 0;
				const mean = sum / span;
				curve[k] = mean < 1 ? mean : 1;
			}
			i = end;
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
			let weight = 1;
			if (limited && this.curveActive) {
				let sum = 0;
				const from = s * STRETCH;
				const to = Math.min(this.curve.length, from + STRETCH);
				for (let i = from; i < to; i++) sum += this.curve[i] * this.curve[i];
				weight = sum / (to - from);
			}
			subBlocks[Math.floor((s * STRETCH) / sub)] += energy[s] * gain2 * weight;
		}
		const complete = Math.floor(this.samples.length / sub);
		const blocks: number[] = [];
		for (let k = 3; k < complete; k++) blocks.push((subBlocks[k] + subBlocks[k - 1] + subBlocks[k - 2] + subBlocks[k - 3]) / (4 * sub));
		if (blocks.length === 0 && this.samples.length > 0) blocks.push((subBlocks.reduce((a, b) => a + b, 0)) / this.samples.length);
		return blocks;
	}

	/**
	 * The output's true peak at `gainDb` with the current curve: exact in every stretch that could
	 * exceed `floor` (the item's peak so far) or the largest sample.
	 */
	async outputPeak(gainDb: number, floor: number): Promise<number> {
		const gain = dbToLinear(gainDb);
		const x = this.samples;
		const curve = this.curveActive ? this.curve : undefined;
		// The largest sample each stretch can have now (its source maximum, the gain, the largest
		// limiter gain around it), visited from the largest down until no stretch can beat the peak.
		const bounds = new Float32Array(this.stretches);
		for (let s = 0; s < this.stretches; s++) {
			let most = 1;
			if (curve) {
				most = 0;
				const from = Math.max(0, (s - 1) * STRETCH);
				const to = Math.min(x.length, (s + 2) * STRETCH);
				for (let i = from; i < to; i++) if (curve[i] > most) most = curve[i];
			}
			bounds[s] = this.maxima[s] * gain * most;
		}
		const order = Array.from({ length: this.stretches }, (_u, s) => s).sort((a, b) => bounds[b] - bounds[a]);
		let peak = floor;
		const window = new Float32Array(STRETCH + REACH_BEFORE + REACH_AFTER + 1);
		let visited = 0;
		for (const s of order) {
			if (bounds[s] * SCREEN_FACTOR <= peak) break;
			const from = s * STRETCH;
			const to = Math.min(x.length, from + STRETCH);
			const offset = from - REACH_BEFORE;
			let limitedHere = false;
			for (let i = 0; i < window.length; i++) {
				const at = offset + i;
				const inside = at >= 0 && at < x.length;
				const g = curve && inside ? curve[at] : 1;
				if (g < 1) limitedHere = true;
				window[i] = inside ? x[at] * gain * g : 0;
			}
			if (!limitedHere) {
				// Unchanged by the limiter: the source's peaks, scaled.
				this.peaksFor(s);
				for (let i = from; i < to; i++) if (this.peaks[i] * gain > peak) peak = this.peaks[i] * gain;
			} else {
				// The window holds the reach of every point in the stretch; beyond the piece is silence.
				for (let i = from; i < to; i++) {
					const value = peakAt(window, i - offset);
					if (value > peak) peak = value;
				}
			}
			if ((++visited & 255) === 0) await this.slicer.pause();
		}
		return peak;
	}

	/** 16-bit PCM of the output: samples × gain × curve, rounded and clipped to the 16-bit range. */
	async toPcm(gainDb: number): Promise<Buffer> {
		const gain = dbToLinear(gainDb);
		const x = this.samples;
		const curve = this.curveActive ? this.curve : undefined;
		const pcm = Buffer.allocUnsafeSlow(x.length * 2);
		const target = new Int16Array(pcm.buffer, pcm.byteOffset, x.length);
		for (let start = 0; start < x.length; start += 65536) {
			const end = Math.min(x.length, start + 65536);
			for (let i = start; i < end; i++) {
				const value = x[i] * gain * (curve ? curve[i] : 1) * 32768;
				const rounded = value >= 0 ? Math.floor(value + 0.5) : -Math.floor(0.5 - value);
				target[i] = rounded > 32767 ? 32767 : rounded < -32768 ? -32768 : rounded;
			}
			await this.slicer.pause();
		}
		return pcm;
	}

	/** Computes the true peaks of stretch `s`'s samples once. */
	private peaksFor(s: number): void {
		if (this.peaksDone[s]) return;
		this.peaksDone[s] = 1;
		const end = Math.min(this.samples.length, (s + 1) * STRETCH);
		for (let n = s * STRETCH; n < end; n++) this.peaks[n] = peakAt(this.samples, n);
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

/** 16-bit little-endian samples as floats in −1…1. */
async function toFloat(pcm: Buffer, slicer: Slicer): Promise<Float32Array> {
	const count = pcm.length >> 1;
	const source = pcm.byteOffset % 2 === 0 ? new Int16Array(pcm.buffer, pcm.byteOffset, count) : new Int16Array(Uint8Array.from(pcm.subarray(0, count * 2)).buffer);
	const samples = new Float32Array(count);
	for (let start = 0; start < count; start += 65536) {
		const end = Math.min(count, start + 65536);
		for (let i = start; i < end; i++) samples[i] = source[i] / 32768;
		await slicer.pause();
	}
	return samples;
}

function clamp(value: number, min: number, max: number): number {
	return Math.min(max, Math.max(min, value));
}

function round(value: number, digits: number): number {
	const scale = 10 ** digits;
	return Math.round(value * scale) / scale;
}
