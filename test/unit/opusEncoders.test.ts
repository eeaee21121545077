/**
 * Many OGG/Opus encoders alive at once (issue 22.1, 22.2). Every encoder of a process shares one
 * libopus WebAssembly heap, so one encoder writing outside its own memory corrupts the others.
 * opusscript 0.1.1's own wrapper did exactly that (it wrote each frame at twice the address it had
 * allocated); nodes/shared/encode/opusNative.ts is the binding that replaced it.
 *
 * How corruption is seen: libopus is deterministic, so an encoder that shares the heap with others
 * must write exactly the Opus packets it writes alone, for the same input and settings. Every
 * encoder's packets are compared with a solo encoding of its input, and some outputs are decoded by
 * an independent libopus build (ogg-opus-decoder) and compared with their own input.
 */
import fc from 'fast-check';

import { createEncoder } from '../../nodes/shared/encode';
import type { AudioEncoder } from '../../nodes/shared/encode';
import { liveOpusEncoders } from '../../nodes/shared/encode/opusNative';
import { bestCorrelation, decodeWithLibrary, parseOggPages } from '../helpers/audio';

const RATES = [8000, 11025, 16000, 22050, 24000, 44100, 48000];

/** A different speech-like signal per seed: two partials under a syllable envelope. */
function signal(seed: number): (t: number) => number {
	const f1 = 180 + (seed % 7) * 40;
	const f2 = 900 + (seed % 5) * 170;
	const syllables = 3 + (seed % 4);
	return (t) => (0.5 + 0.5 * Math.sin(2 * Math.PI * syllables * t)) * (0.35 * Math.sin(2 * Math.PI * f1 * t) + 0.15 * Math.sin(2 * Math.PI * f2 * t));
}

function pcm(seed: number, samples: number, rate: number): Buffer {
	const wave = signal(seed);
	const out = Buffer.alloc(samples * 2);
	for (let i = 0; i < samples; i++) out.writeInt16LE(Math.round(wave(i / rate) * 32767), i * 2);
	return out;
}

/** The Opus packets of an Ogg file (header pages and the random serial number left out). */
function packets(ogg: Buffer): Buffer[] {
	return parseOggPages(ogg)
		.slice(2)
		.flatMap((page) => page.packets);
}

interface Plan {
	rate: number;
	bitRateKbps: number;
	input: Buffer;
	/** Write sizes in bytes, cycled (odd sizes split samples across writes). */
	chunks: number[];
	/** Aborted after this many writes instead of ended (a failed item). */
	abortAfter?: number;
}

async function encodeAlone(plan: Plan): Promise<Buffer> {
	const encoder = await createEncoder({ format: 'oggOpus', sampleRate: plan.rate, bitRateKbps: plan.bitRateKbps });
	try {
		const out = [await encoder.write(plan.input)];
		out.push(await encoder.end());
		return Buffer.concat(out);
	} finally {
		encoder.dispose();
	}
}

/** One step of one encoder: a write of the next chunk, or its end (or abort). */
class Running {
	private offset = 0;
	private writes = 0;
	private readonly out: Buffer[] = [];
	done = false;
	result?: Buffer;

	constructor(
		readonly plan: Plan,
		private readonly encoder: AudioEncoder,
	) {}

	async step(): Promise<void> {
		const { plan } = this;
		if (plan.abortAfter !== undefined && this.writes >= plan.abortAfter) {
			this.encoder.dispose();
			this.done = true;
			return;
		}
		if (this.offset >= plan.input.length) {
			this.out.push(await this.encoder.end());
			this.encoder.dispose();
			this.result = Buffer.concat(this.out);
			this.done = true;
			return;
		}
		const size = plan.chunks[this.writes % plan.chunks.length];
		this.out.push(await this.encoder.write(plan.input.subarray(this.offset, this.offset + size)));
		this.offset += size;
		this.writes++;
	}
}

describe('many OGG/Opus encoders at once', () => {
	afterEach(() => {
		// Every encoder of a test was disposed, whatever path it took.
		expect(liveOpusEncoders()).toBe(0);
	});

	it('the schedule of the review (A): start A, B, C; end B; start D; end A, C, D; start E, F; end E; G writes 2296 samples; F still encodes what it encodes alone', async () => {
		const plan = (seed: number, rate = 48000): Plan => ({ rate, bitRateKbps: 32, input: pcm(seed, 2296, rate), chunks: [4592] });
		const run = async (seed: number) => new Running(plan(seed), await createEncoder({ format: 'oggOpus', sampleRate: 48000, bitRateKbps: 32 }));
		const finish = async (running: Running) => {
			while (!running.done) await running.step();
		};
		const [a, b, c] = [await run(1), await run(2), await run(3)];
		for (const r of [a, b, c]) await r.step();
		await finish(b);
		const d = await run(4);
		await d.step();
		for (const r of [a, c, d]) await finish(r);
		const [e, f] = [await run(5), await run(6)];
		await e.step();
		await f.step();
		await finish(e);
		const g = await run(7);
		await g.step();
		// F's next write threw "Encode error: Bad argument" or corrupted memory with opusscript's wrapper.
		await finish(f);
		await finish(g);
		for (const r of [a, b, c, d, e, f, g]) expect(packets(r.result as Buffer)).toEqual(packets(await encodeAlone(r.plan)));
	});

	it('random schedules: up to 12 encoders at mixed rates and bit rates, interleaved writes, some aborted: each writes what it writes alone', async () => {
		const planArb = fc.record({
			rate: fc.constantFrom(...RATES),
			bitRateKbps: fc.constantFrom(8, 16, 24, 32, 64, 128),
			seed: fc.integer({ min: 0, max: 1000 }),
			seconds: fc.double({ min: 0.05, max: 0.6, noNaN: true }),
			chunks: fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 4 }),
			abortAfter: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
		});
		const schedule = fc.record({
			plans: fc.array(planArb, { minLength: 2, maxLength: 12 }),
			// Which live encoder takes the next step, and when the next encoder starts.
			picks: fc.array(fc.nat(), { minLength: 200, maxLength: 200 }),
		});
		await fc.assert(
			fc.asyncProperty(schedule, async ({ plans: drawn, picks }) => {
				const plans: Plan[] = drawn.map((p) => ({
					rate: p.rate,
					bitRateKbps: p.bitRateKbps,
					input: pcm(p.seed, Math.max(1, Math.round(p.seconds * p.rate)), p.rate),
					chunks: p.chunks,
					abortAfter: p.abortAfter,
				}));
				const live: Running[] = [];
				const all: Running[] = [];
				let started = 0;
				let k = 0;
				while (started < plans.length || live.length > 0) {
					const pick = picks[k++ % picks.length];
					if (started < plans.length && (live.length === 0 || pick % 3 === 0)) {
						const plan = plans[started++];
						const running = new Running(plan, await createEncoder({ format: 'oggOpus', sampleRate: plan.rate, bitRateKbps: plan.bitRateKbps }));
						live.push(running);
						all.push(running);
						continue;
					}
					const running = live[pick % live.length];
					await running.step();
					if (running.done) live.splice(live.indexOf(running), 1);
				}
				for (const running of all) {
					if (running.plan.abortAfter !== undefined && running.result === undefined) continue;
					expect(packets(running.result as Buffer)).toEqual(packets(await encodeAlone(running.plan)));
				}
			}),
			{ numRuns: 20, seed: 2212, endOnFailure: true },
		);
	});

	it('10 encoders writing at once (Promise.all, each in its own slices) decode to their own input', async () => {
		const plans: Plan[] = Array.from({ length: 10 }, (_, i) => {
			const rate = RATES[i % RATES.length];
			return { rate, bitRateKbps: 32, input: pcm(100 + i, Math.round(1.5 * rate), rate), chunks: [777, 4096, 33] };
		});
		const outputs = await Promise.all(
			plans.map(async (plan) => {
				const encoder = await createEncoder({ format: 'oggOpus', sampleRate: plan.rate, bitRateKbps: plan.bitRateKbps });
				const running = new Running(plan, encoder);
				while (!running.done) await running.step();
				return running.result as Buffer;
			}),
		);
		for (const [i, plan] of plans.entries()) {
			expect(packets(outputs[i])).toEqual(packets(await encodeAlone(plan)));
		}
		// And they sound like their own input, to an independent libopus.
		for (const i of [0, 4, 9]) {
			const decoded = decodeWithLibrary('ogg', outputs[i]);
			expect(decoded.errors).toEqual([]);
			const wave = signal(100 + i);
			const reference = Float32Array.from({ length: decoded.samplesDecoded }, (_, n) => wave(n / 48000));
			expect(bestCorrelation(decoded.samples, reference, 200, 4800).r).toBeGreaterThan(0.85);
		}
	});
});

describe('an OGG/Opus encoder that is not ended', () => {
	afterEach(() => expect(liveOpusEncoders()).toBe(0));

	it('1000 items aborted after 60 ms of audio each (3 frames encoded), then a good item: it encodes what it encodes alone', async () => {
		const partial = pcm(3, 1440, 24000);
		for (let i = 0; i < 1000; i++) {
			const encoder = await createEncoder({ format: 'oggOpus', sampleRate: 24000 });
			await encoder.write(partial);
			encoder.dispose();
		}
		expect(liveOpusEncoders()).toBe(0);
		const plan: Plan = { rate: 24000, bitRateKbps: 32, input: pcm(5, 24000, 24000), chunks: [48000] };
		const encoder = await createEncoder({ format: 'oggOpus', sampleRate: 24000 });
		const running = new Running(plan, encoder);
		while (!running.done) await running.step();
		expect(packets(running.result as Buffer)).toEqual(packets(await encodeAlone(plan)));
		const decoded = decodeWithLibrary('ogg', running.result as Buffer);
		expect(decoded.errors).toEqual([]);
		expect(decoded.samplesDecoded).toBe(48000);
	});

	it('dispose() is idempotent, and a disposed encoder refuses writes with a clear error', async () => {
		const encoder = await createEncoder({ format: 'oggOpus', sampleRate: 24000 });
		await encoder.write(pcm(1, 480, 24000));
		encoder.dispose();
		encoder.dispose();
		await expect(encoder.write(pcm(1, 480, 24000))).rejects.toThrow(/disposed/);
		await expect(encoder.end()).rejects.toThrow(/disposed/);
	});

	it('dispose() during a write (an item cancelled while it encodes) frees the encoder once the write has stopped', async () => {
		const encoder = await createEncoder({ format: 'oggOpus', sampleRate: 48000 });
		const writing = encoder.write(pcm(2, 48000 * 3, 48000));
		// The write yields between slices; dispose lands in one of those turns.
		await new Promise((resolve) => setTimeout(resolve, 5));
		encoder.dispose();
		await expect(writing).rejects.toThrow(/disposed/);
		expect(liveOpusEncoders()).toBe(0);
	});
});
