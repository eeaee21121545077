/**
 * OGG/Opus items in n8n's real engine (issue 22.1 and 22.2): many items encoding at once share one
 * libopus heap, and an item that fails must free its encoder whatever the path (a failed piece,
 * Continue On Fail, a Timeout, a cancelled execution). After each test no encoder is left alive,
 * and a new item still encodes.
 */
import type { INodeParameters } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { liveOpusEncoders } from '../../nodes/shared/encode/opusNative';
import { splitForSpeech } from '../../nodes/shared/speech/split';
import { cleanupHarness } from '../harness/n8nHarness';
import { bestCorrelation, decodeAllWithLibrary, decodeWithLibrary } from '../helpers/audio';
import { requestsTo, runAgainst, startSandbox } from '../helpers/faseeh';
import { longArabicText } from '../helpers/longText';
import { synthesize } from '../sandbox/catalog';
import type { FaseehSandbox, FaseehSandboxOptions } from '../sandbox/FaseehSandbox';

const MODEL = 'faseeh-mini-v1-preview';
const VOICE = 'ar-najdi-male-2';
const TTS = `/text-to-speech/${MODEL}`;
const SENTENCES = [
	'مرحبا بك في فصيح، هذه رسالة صوتية قصيرة للتجربة.',
	'نتمنى لك يوما سعيدا مليئا بالخير والنجاح.',
	'الطقس اليوم مشمس مع رياح خفيفة في المساء.',
	'تم استلام طلبك وسيصلك خلال ثلاثة أيام عمل.',
	'شكرا لتواصلك معنا، سنرد عليك في أقرب وقت.',
];

const parameters = (options: INodeParameters = {}): INodeParameters => ({
	resource: 'speech',
	operation: 'generate',
	voiceId: { __rl: true, mode: 'id', value: VOICE },
	text: '={{ $json.text }}',
	model: MODEL,
	stability: 0.5,
	outputFormat: 'oggOpus',
	options,
});

const sandboxes: FaseehSandbox[] = [];
async function sandboxWith(options: FaseehSandboxOptions = {}) {
	const sandbox = await startSandbox(options);
	sandboxes.push(sandbox);
	return sandbox;
}
afterEach(() => expect(liveOpusEncoders()).toBe(0));
afterAll(async () => {
	for (const sandbox of sandboxes) await sandbox.stop();
	await cleanupHarness();
});

/** The sandbox's speech for `text` at `rate`, as floats. */
function spoken(text: string, rate: number): Float32Array {
	const pcm = synthesize(`tts\n${MODEL}\n${VOICE}\n${text}`, text, rate);
	return Float32Array.from({ length: pcm.length / 2 }, (_u, i) => pcm.readInt16LE(i * 2) / 32768);
}

/** A good OGG/Opus item after whatever a test did: it decodes to the sandbox's speech. */
async function expectGoodItem(sandbox: FaseehSandbox) {
	const text = SENTENCES[0];
	const result = await runAgainst(sandbox, new Faseeh(), parameters(), [{ json: { text } }]);
	expect(result.error).toBeUndefined();
	const decoded = decodeWithLibrary('ogg', await result.binaryBuffer(result.items[0], 'data'));
	expect(decoded.errors).toEqual([]);
	const reference = spoken(text, 24000);
	const down = Float32Array.from({ length: Math.floor(decoded.samples.length / 2) }, (_u, i) => decoded.samples[i * 2]);
	expect(bestCorrelation(reference, down, 3000).r).toBeGreaterThan(0.8);
}

describe('10 OGG/Opus items at Concurrency 10, mixed sample rates (issue 22.1, case C)', () => {
	const rates = [8000, 12000, 16000, 22050, 24000, 44100, 48000, 11025, 32000, 24000];
	it.each([1, 2, 3])('run %i: every item decodes to its own speech, at its own rate', async () => {
		const sandbox = await sandboxWith({ latencyMs: 5 });
		// Items 8 and 9 are long texts (their pieces join into one encoder each).
		const texts = rates.map((_rate, i) => (i >= 8 ? longArabicText(2600, i) : `${SENTENCES[i % SENTENCES.length]} ${SENTENCES[(i + 2) % SENTENCES.length]}`));
		const result = await runAgainst(
			sandbox,
			new Faseeh(),
			parameters({ concurrency: 10, sampleRate: '={{ $json.rate }}' as unknown as number, maxCharacters: 1000 }),
			texts.map((text, i) => ({ json: { text, rate: rates[i] } })),
			{ credential: { plan: 'growth' } },
		);
		expect(result.error).toBeUndefined();
		expect(result.items).toHaveLength(10);
		const decodedItems = decodeAllWithLibrary('ogg', await Promise.all(result.items.map((item) => result.binaryBuffer(item, 'data'))));
		for (const [i, decoded] of decodedItems.entries()) {
			const rate = rates[i];
			const pieces = splitForSpeech(texts[i], 1000);
			const pause = new Float32Array(Math.round(0.25 * rate));
			const parts = pieces.flatMap((piece, k) => [...(k > 0 ? [pause] : []), spoken(piece, rate)]);
			const reference = new Float32Array(parts.reduce((n, part) => n + part.length, 0));
			parts.reduce((offset, part) => (reference.set(part, offset), offset + part.length), 0);
			expect(decoded.errors).toEqual([]);
			expect(decoded.sampleRate).toBe(48000);
			expect(Math.abs(decoded.samplesDecoded / 48000 - reference.length / rate)).toBeLessThan(0.01 * (reference.length / rate));
			// Compare at the item's own rate.
			const step = 48000 / rate;
			const down = Float32Array.from({ length: Math.floor(decoded.samples.length / step) }, (_u, n) => decoded.samples[Math.floor(n * step)]);
			const own = bestCorrelation(reference, down, 200, 0, Math.min(reference.length, down.length, rate * 2)).r;
			expect({ item: i, rate, matches: own > 0.8 }).toEqual({ item: i, rate, matches: true });
		}
	});
});

describe('a failed OGG/Opus item frees its encoder (issue 22.2)', () => {
	it('Continue On Fail: 100 long items each failing on their 2nd piece, then a good item', async () => {
		const sandbox: FaseehSandbox = await sandboxWith({
			onRequestDone: (request) => {
				// Every piece that succeeds is followed by one that fails: each item gets audio into its encoder, then fails.
				if (request.status === 200) sandbox.inject({ route: `POST ${TTS}`, kind: 'status', status: 400 });
			},
		});
		// Short pieces (Max Characters 100): each item encodes about 2 s before its 2nd piece fails.
		const text = longArabicText(300, 3);
		expect(splitForSpeech(text, 100).length).toBeGreaterThanOrEqual(2);
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ maxCharacters: 100 }), Array.from({ length: 100 }, () => ({ json: { text } })), {
			onError: 'continueRegularOutput',
			credential: { plan: 'custom', maxConcurrentRequests: 1 },
		});
		expect(result.error).toBeUndefined();
		expect(result.items).toHaveLength(100);
		expect(result.items.every((item) => /Failed at piece 2 of/.test(String(item.json.description)))).toBe(true);
		expect(liveOpusEncoders()).toBe(0);
		sandbox.reset();
		await expectGoodItem(sandbox);
	});

	it('a failed piece without Continue On Fail', async () => {
		let done = 0;
		const sandbox: FaseehSandbox = await sandboxWith({
			onRequestDone: () => {
				if (++done === 2) sandbox.inject({ route: `POST ${TTS}`, kind: 'status', status: 400 });
			},
		});
		const result = await runAgainst(sandbox, new Faseeh(), parameters(), [{ json: { text: longArabicText(5000, 4) } }], {
			credential: { plan: 'custom', maxConcurrentRequests: 1 },
		});
		expect(String((result.error as { description?: string } | undefined)?.description)).toMatch(/Failed at piece 3 of/);
		expect(liveOpusEncoders()).toBe(0);
		await expectGoodItem(sandbox);
	});

	it('a piece that times out', async () => {
		let done = 0;
		const sandbox: FaseehSandbox = await sandboxWith({
			onRequestDone: () => {
				if (++done === 1) sandbox.inject({ route: `POST ${TTS}`, kind: 'hang' });
			},
		});
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ timeout: 1 }), [{ json: { text: longArabicText(5000, 5) } }], {
			credential: { plan: 'custom', maxConcurrentRequests: 1 },
		});
		expect(result.error?.message).toMatch(/did not answer|Timeout|timed out/i);
		expect(liveOpusEncoders()).toBe(0);
		sandbox.reset();
		await expectGoodItem(sandbox);
	});

	it('a cancelled execution: no piece starts after the cancel, the encoder is freed', async () => {
		let cancel: () => void = () => {};
		const cancelled = new Promise<void>((resolve) => (cancel = resolve));
		let done = 0;
		const sandbox = await sandboxWith({
			latencyMs: 30,
			onRequestDone: () => {
				if (++done === 2) cancel();
			},
		});
		const text = longArabicText(12_000, 6);
		const pieces = splitForSpeech(text, 1000).length;
		const result = await runAgainst(sandbox, new Faseeh(), parameters(), [{ json: { text } }], {
			credential: { plan: 'custom', maxConcurrentRequests: 1 },
			cancelWhen: cancelled,
		});
		expect(result.items).toHaveLength(0);
		// One piece at a time: the cancel came after the 2nd answer, while at most the 3rd was in flight.
		expect(requestsTo(sandbox, 'POST', TTS).length).toBeLessThanOrEqual(3);
		expect(pieces).toBeGreaterThan(3);
		expect(liveOpusEncoders()).toBe(0);
		sandbox.reset();
		await expectGoodItem(sandbox);
	});
});
