/**
 * The BS.1770-4 meter and the normaliser (nodes/shared/speech/loudness.ts, normalize.ts) against an
 * independent meter: Debian's ffmpeg (`ebur128=peak=true`, installed when missing), on speech-like
 * signals at every rate Faseeh can be asked for, and on the encoded files (MP3, OGG/Opus) that a
 * user would publish, decoded by ffmpeg.
 */
import { createEncoder } from '../../nodes/shared/encode';
import type { OutputFormat } from '../../nodes/shared/encode';
import { INTERPOLATION_BOUND, kWeighting, linearToDb, LoudnessMeter, peakAt, truePeak } from '../../nodes/shared/speech/loudness';
import { LoudnessNormalizer } from '../../nodes/shared/speech/normalize';
import { ensureFfmpeg, ffmpegLoudness } from '../helpers/ffmpeg';
import { wrapWav } from '../sandbox/audio';
import { voiceSpeech } from '../sandbox/catalog';

beforeAll(() => {
	ensureFfmpeg();
}, 20 * 60_000);

/** Speech-like audio at any rate: a gliding voice with harmonics, syllables, pauses and some noise. */
function speechLike(seconds: number, rate: number, level = 1, seed = 7): Buffer {
	const n = Math.round(seconds * rate);
	const out = Buffer.alloc(n * 2);
	let state = seed;
	const random = () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 0x100000000) * 2 - 1;
	let phase = 0;
	for (let i = 0; i < n; i++) {
		const t = i / rate;
		phase += (2 * Math.PI * (140 + 50 * Math.sin(2 * Math.PI * 0.4 * t))) / rate;
		const syllable = Math.max(0, Math.sin(2 * Math.PI * 4 * t)) ** 0.7;
		const phrase = t % 4 < 3.4 ? 1 : 0;
		let voiced = 0;
		for (let h = 1; h <= 8 && h * 190 < rate / 2; h++) voiced += Math.sin(h * phase) / h;
		const sample = level * phrase * (0.25 * syllable * voiced + 0.03 * random() * (1 - syllable));
		out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(sample * 32767))), i * 2);
	}
	return out;
}

const toFloat = (pcm: Buffer) => Float32Array.from({ length: pcm.length / 2 }, (_u, i) => pcm.readInt16LE(i * 2) / 32768);

async function ourLoudness(pcm: Buffer, rate: number) {
	const samples = toFloat(pcm);
	const meter = new LoudnessMeter(rate);
	// In uneven pushes: the filters and the 100 ms sums carry across them.
	for (let at = 0; at < samples.length; at += 7001) await meter.push(samples.subarray(at, at + 7001));
	return { integrated: meter.integrated() as number, truePeak: linearToDb(await truePeak(samples)) };
}

describe('BS.1770-4 meter', () => {
	it('K-weighting at 48 kHz has the coefficients BS.1770-4 tabulates', () => {
		const [shelf, highPass] = kWeighting(48000);
		expect(shelf.b0).toBeCloseTo(1.53512485958697, 10);
		expect(shelf.b1).toBeCloseTo(-2.69169618940638, 10);
		expect(shelf.b2).toBeCloseTo(1.19839281085285, 10);
		expect(shelf.a1).toBeCloseTo(-1.69065929318241, 10);
		expect(shelf.a2).toBeCloseTo(0.73248077421585, 10);
		expect(highPass.a1).toBeCloseTo(-1.99004745483398, 10);
		expect(highPass.a2).toBeCloseTo(0.99007225036621, 10);
	});

	it.each([8000, 22050, 24000, 48000])('at %i Hz: integrated loudness and true peak agree with ffmpeg', async (rate) => {
		for (const level of [0.1, 1]) {
			const pcm = speechLike(4, rate, level);
			const ours = await ourLoudness(pcm, rate);
			const theirs = ffmpegLoudness(wrapWav(pcm, rate), 'wav');
			// ffmpeg prints one decimal.
			expect(Math.abs(ours.integrated - theirs.integrated)).toBeLessThanOrEqual(0.1);
			expect(Math.abs(ours.truePeak - theirs.truePeak)).toBeLessThanOrEqual(0.2);
		}
	});

	it('gating: a loud stretch and one 35 LU quieter measure as ffmpeg measures them', async () => {
		const pcm = Buffer.concat([speechLike(3, 24000, 1), speechLike(6, 24000, 0.018, 3), Buffer.alloc(48000 * 2)]);
		const ours = await ourLoudness(pcm, 24000);
		const theirs = ffmpegLoudness(wrapWav(pcm), 'wav');
		expect(Math.abs(ours.integrated - theirs.integrated)).toBeLessThanOrEqual(0.1);
	});

	it('true peak finds the peak between samples (a quarter-rate tone sampled 45° off its peaks)', async () => {
		const x = Float32Array.from({ length: 4800 }, (_u, i) => 0.5 * Math.sin((Math.PI / 2) * i + Math.PI / 4));
		expect(linearToDb(Math.max(...x.map(Math.abs)))).toBeCloseTo(linearToDb(0.5 * Math.SQRT1_2), 3);
		// 4× oversampling with a 49-tap interpolator: within 0.15 dB of the true peak here.
		expect(Math.abs(linearToDb(await truePeak(x)) - linearToDb(0.5))).toBeLessThan(0.15);
		// No point may exceed the largest sample around it by more than the bound the screening trusts.
		for (let n = 0; n < 200; n++) expect(peakAt(x, n)).toBeLessThanOrEqual(0.5 * Math.SQRT1_2 * INTERPOLATION_BOUND + 1e-9);
	});
});

async function encode(pcm: Buffer, format: OutputFormat, kbps?: number): Promise<Buffer> {
	if (format === 'wav') return wrapWav(pcm);
	const encoder = await createEncoder({ format, sampleRate: 24000, bitRateKbps: kbps });
	return Buffer.concat([await encoder.write(pcm), await encoder.end()]);
}

describe('normaliser', () => {
	// The sandbox's voices at three levels: plain (−14 LUFS), 20 dB quieter, and quiet with
	// consonant-like peaks near full scale (peaks ~19 dB above its loudness: the limiter works).
	const voices = ['ar-najdi-male-2', 'ar-hijazi-female-2', 'ar-uae-male-1'];
	const speech = (voice: string) =>
		voice === 'speech-like' ? speechLike(7, 24000, 2.5) : Buffer.concat(Array.from({ length: 3 }, (_u, k) => voiceSpeech(`tts\nm\n${voice}\n${k}`, voice, 'ن'.repeat(100), 24000)));

	// Below 24 kbps Opus codes with SILK, a speech model: the sandbox's tones and bursts are not
	// speech (SILK gave them peaks 20 dB above the input), so that case uses speech-like audio.
	it.each([
		['wav', undefined, -16, voices],
		['mp3', 32, -16, voices],
		['mp3', 128, -23, voices],
		['oggOpus', 16, -16, ['speech-like']],
		['oggOpus', 24, -16, voices],
		['oggOpus', 64, -30, voices],
	] as Array<[OutputFormat, number | undefined, number, string[]]>)('%s %s kbps at %i LUFS: every voice within ±1 LU, true peak ≤ −1 dBTP after decoding (ffmpeg)', async (format, kbps, target, sources) => {
		for (const voice of sources) {
			const normalizer = new LoudnessNormalizer({ mode: 'custom', targetLufs: target }, format, kbps);
			const source = speech(voice);
			const pieces: Buffer[] = [];
			// As pieces of a long text: 5 s each, with 250 ms of silence before all but the first.
			for (let at = 0; at < source.length; at += 240000) {
				const pause = at > 0 ? Buffer.alloc(12000) : Buffer.alloc(0);
				pieces.push(await normalizer.apply(Buffer.concat([pause, source.subarray(at, at + 240000)]), 24000));
			}
			const file = await encode(Buffer.concat(pieces), format, kbps);
			const measured = ffmpegLoudness(file, format === 'oggOpus' ? 'ogg' : format);
			expect({ voice, integrated: Math.abs(measured.integrated - target) <= 1, peak: measured.truePeak <= -1 }).toEqual({ voice, integrated: true, peak: true });
			const summary = normalizer.summary();
			expect(Math.abs((summary.integratedLufs as number) - target)).toBeLessThanOrEqual(0.3);
			expect(summary.truePeakDbtp as number).toBeLessThanOrEqual(-1);
		}
	});

	it('the spiky voice is limited, not just turned down: its loudness reaches the target though its peaks stood 19 dB above it', async () => {
		const source = speech('ar-uae-male-1');
		const before = ffmpegLoudness(wrapWav(source), 'wav');
		expect(before.truePeak - before.integrated).toBeGreaterThan(17);
		const normalizer = new LoudnessNormalizer({ mode: 'podcast', targetLufs: -16 }, 'wav');
		const after = ffmpegLoudness(wrapWav(await normalizer.apply(source, 24000)), 'wav');
		expect(after.truePeak).toBeLessThanOrEqual(-1);
		expect(Math.abs(after.integrated + 16)).toBeLessThanOrEqual(0.5);
		expect(after.truePeak - after.integrated).toBeLessThan(15.2);
	});

	it('keeps the length, and silence stays silent', async () => {
		const normalizer = new LoudnessNormalizer({ mode: 'broadcast', targetLufs: -23 }, 'wav');
		const pcm = Buffer.concat([Buffer.alloc(4800), speechLike(2, 24000), Buffer.alloc(4800)]);
		const out = await normalizer.apply(pcm, 24000);
		expect(out.length).toBe(pcm.length);
		expect(out.subarray(0, 4800).every((byte) => byte === 0)).toBe(true);
		expect(out.subarray(out.length - 4800).every((byte) => byte === 0)).toBe(true);
		const silent = await new LoudnessNormalizer({ mode: 'podcast', targetLufs: -16 }, 'wav').apply(Buffer.alloc(48000), 24000);
		expect(silent.every((byte) => byte === 0)).toBe(true);
	});
});
