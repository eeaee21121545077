import fc from 'fast-check';
import { NodeApiError } from 'n8n-workflow';

import { HELD_SPARE, silence, synthesizePieces } from '../../nodes/shared/speech/pieces';

const pcmOf = (index: number, bytes = 6) => Buffer.alloc(bytes, index + 1);
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('synthesizePieces', () => {
	it('delivers in order whatever order the answers come in, asks each piece once, at most the window in flight and the window + spare held', async () => {
		await fc.assert(
			fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(5), { minLength: 30, maxLength: 30 }), async (total, window, delays) => {
				const requested: number[] = [];
				const delivered: number[] = [];
				let held = 0;
				let maxHeld = 0;
				let inFlight = 0;
				let maxInFlight = 0;
				await synthesizePieces({
					pieces: Array.from({ length: total }, (_unused, i) => `piece ${i}`),
					concurrency: window,
					pauseMs: 0,
					sampleRate: 24000,
					requestPiece: async (index) => {
						requested.push(index);
						held++;
						inFlight++;
						maxHeld = Math.max(maxHeld, held);
						maxInFlight = Math.max(maxInFlight, inFlight);
						for (let i = 0; i < delays[index]; i++) await tick();
						inFlight--;
						return pcmOf(index);
					},
					onPcm: async (pcm, index) => {
						held--;
						expect(pcm.equals(pcmOf(index))).toBe(true);
						delivered.push(index);
					},
				});
				const all = Array.from({ length: total }, (_unused, i) => i);
				expect(delivered).toEqual(all);
				expect([...requested].sort((a, b) => a - b)).toEqual(all);
				expect(maxInFlight).toBeLessThanOrEqual(window);
				expect(maxHeld).toBeLessThanOrEqual(window + HELD_SPARE);
			}),
			{ numRuns: 100 },
		);
	});

	it('a slow first piece does not idle the window: answered pieces free their slot before piece 0 is written', async () => {
		const started: number[] = [];
		let releaseFirst: () => void = () => {};
		const first = new Promise<void>((resolve) => (releaseFirst = resolve));
		const run = synthesizePieces({
			pieces: Array.from({ length: 8 }, (_unused, i) => `piece ${i}`),
			concurrency: 2,
			pauseMs: 0,
			sampleRate: 24000,
			requestPiece: async (index) => {
				started.push(index);
				if (index === 0) await first;
				return pcmOf(index);
			},
			onPcm: async () => undefined,
		});
		for (let i = 0; i < 20; i++) await tick();
		// Piece 0 still out: pieces 1.. were answered and replaced, up to window + spare started.
		expect(started).toEqual([0, 1, 2, 3]);
		releaseFirst();
		await run;
		expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
	});

	it('puts whole-sample silence between pieces (not before the first) and drops a half sample', async () => {
		const out: Buffer[] = [];
		const result = await synthesizePieces({
			pieces: ['a', 'b', 'c'],
			concurrency: 2,
			pauseMs: 10.02,
			sampleRate: 22050,
			requestPiece: async (index) => pcmOf(index, index === 1 ? 7 : 6),
			onPcm: async (pcm) => void out.push(pcm),
		});
		const pause = silence(10.02, 22050);
		expect(pause.length).toBe(221 * 2);
		expect(Buffer.concat(out).equals(Buffer.concat([pcmOf(0), pause, pcmOf(1, 6), pause, pcmOf(2)]))).toBe(true);
		expect(result).toEqual({ pieces: 3, pcmBytes: 18 + 2 * pause.length });
		for (const chunk of out) expect(chunk.length % 2).toBe(0);
	});

	it('a failed piece stops it: nothing more is requested, the ones in flight are awaited, the error names the piece', async () => {
		const requested: number[] = [];
		let inFlight = 0;
		const failure = new NodeApiError({ name: 'n', type: 't', typeVersion: 1, id: 'i', position: [0, 0], parameters: {} }, { message: 'x' }, {
			message: 'text must contain at least 3 words and 10 characters',
		});
		const run = synthesizePieces({
			pieces: Array.from({ length: 20 }, (_unused, i) => `النص رقم ${i} وهو طويل بما يكفي ليقطع عند ثلاثين حرفا`),
			concurrency: 3,
			pauseMs: 0,
			sampleRate: 24000,
			requestPiece: async (index) => {
				requested.push(index);
				inFlight++;
				for (let i = 0; i < (index === 4 ? 1 : 3); i++) await tick();
				inFlight--;
				if (index === 4) throw failure;
				return pcmOf(index);
			},
			onPcm: async () => {},
		});
		await expect(run).rejects.toBe(failure);
		expect(inFlight).toBe(0);
		expect(Math.max(...requested)).toBeLessThan(8);
		expect(failure.message).toBe('text must contain at least 3 words and 10 characters');
		expect(failure.description).toMatch(/^Failed at piece 5 of 20 \("النص رقم 4 وهو طويل بما يكفي ل…"\); nothing more was sent for this item\./);
		expect(failure.context.piece).toBe(5);
	});

	it('the batch stops (another item failed, a cancel): no piece starts after it, those in flight finish, the stop reason is thrown', async () => {
		const requested: number[] = [];
		let inFlight = 0;
		const batch = new AbortController();
		const reason = new Error('The batch stopped before this request was sent');
		const run = synthesizePieces({
			pieces: Array.from({ length: 20 }, (_unused, i) => `piece ${i}`),
			concurrency: 3,
			pauseMs: 0,
			sampleRate: 24000,
			stopSignal: batch.signal,
			requestPiece: async (index) => {
				requested.push(index);
				inFlight++;
				if (index === 4) batch.abort(reason);
				for (let i = 0; i < 3; i++) await tick();
				inFlight--;
				return pcmOf(index);
			},
			onPcm: async () => {},
		});
		await expect(run).rejects.toBe(reason);
		expect(inFlight).toBe(0);
		expect(requested).toEqual([0, 1, 2, 3, 4]);
	});

	it('a batch stopped before the first piece starts nothing', async () => {
		const batch = new AbortController();
		batch.abort(new Error('stopped'));
		const requestPiece = jest.fn(async () => pcmOf(0));
		await expect(
			synthesizePieces({ pieces: ['a', 'b'], concurrency: 2, pauseMs: 0, sampleRate: 24000, stopSignal: batch.signal, requestPiece, onPcm: async () => {} }),
		).rejects.toThrow('stopped');
		expect(requestPiece).not.toHaveBeenCalled();
	});

	it('a piece that failed before the stop is the error thrown, not the stop', async () => {
		const batch = new AbortController();
		const failure = new Error('piece failed');
		const run = synthesizePieces({
			pieces: Array.from({ length: 6 }, (_unused, i) => `piece ${i}`),
			concurrency: 2,
			pauseMs: 0,
			sampleRate: 24000,
			stopSignal: batch.signal,
			requestPiece: async (index) => {
				await tick();
				if (index === 1) {
					throw failure;
				}
				batch.abort(new Error('stopped'));
				return pcmOf(index);
			},
			onPcm: async () => {},
		});
		await expect(run).rejects.toBe(failure);
	});
});
