/**
 * Speaks the pieces of a long text (see split.ts) and delivers their audio in order.
 *
 * - Up to `concurrency` pieces are requested at once, a new one as soon as one is answered (not
 *   when it has been written: writing, which encodes, then overlaps the requests), as long as at
 *   most `concurrency` + HELD_SPARE pieces are started and not yet handed to `onPcm`: that bounds
 *   the audio held while an earlier piece is still awaited.
 *   Each request goes through the transport like any other (the execution's RequestGate and the
 *   account's limiter), so the plan's limit holds across pieces, items and executions.
 * - Each piece is requested exactly once: `requestPiece` is called once per index and never again,
 *   whatever happens. (The transport waits out a 429 on the same request, and retries 5xx only
 *   when the user allowed it; a piece that got its audio is never sent again.)
 * - Audio is 16-bit mono PCM. Pieces are joined on sample boundaries (an odd trailing byte is
 *   dropped) with `pauseMs` of digital silence between them. No fade is applied: the silence
 *   starts and ends on a sample boundary, and speech ends in near-silence, so a fade would only
 *   change the voice's own audio (tests compare it byte for byte).
 * - The first failure stops it: no further piece is requested, the ones in flight are waited for
 *   (their answers dropped), and the lowest failed piece's error is thrown, named "piece n of N".
 *   So does the batch's stop (`stopSignal`: another item failed, or a cancel).
 */

export interface SynthesizePiecesOptions {
	/** The pieces' texts (only used to name a failed piece). */
	pieces: string[];
	/** How many pieces may be requested at once (at least 1). */
	concurrency: number;
	/** Requests piece `index` and resolves with its audio: 16-bit signed little-endian mono PCM. */
	requestPiece: (index: number) => Promise<Buffer>;
	/**
	 * Receives the audio in order: piece 0, then (pause + piece 1), … Awaited before more is
	 * requested. `pauseBytes` is the length of the silence at its start (0 for piece 0).
	 */
	onPcm: (pcm: Buffer, index: number, pauseBytes: number) => Promise<void>;
	/**
	 * Silence between two pieces, in milliseconds; a function gives the pause before piece `index`
	 * (index ≥ 1), e.g. a longer one where a dialogue's turn changes.
	 */
	pauseMs: number | ((index: number) => number);
	/**
	 * Samples per second of the PCM, for the pause. A function is asked when the pause is first
	 * needed (after piece 0 arrived), so the rate can be the one the answers turned out to have.
	 */
	sampleRate: number | (() => number);
	/** Progress: called with "piece k/N done" as each piece is delivered. */
	log?: (message: string) => void;
	/** How a failed piece is named in its error (default: pieceLabel, "piece 3 of 12 (\"…\")"). */
	describePiece?: (index: number) => string;
	/**
	 * The batch stopped (another item failed, or the execution was cancelled): no further piece
	 * starts, those in flight are let finish, and the signal's reason is thrown (unless a piece
	 * failed first: then that piece's error).
	 */
	stopSignal?: AbortSignal;
}

export interface SynthesizePiecesResult {
	pieces: number;
	/** Bytes of PCM delivered (pauses included). */
	pcmBytes: number;
}

type Outcome = { ok: true; pcm: Buffer } | { ok: false; error: unknown };

/** Answered pieces that may wait for an earlier one beyond the `concurrency` in flight. */
export const HELD_SPARE = 2;

export async function synthesizePieces(options: SynthesizePiecesOptions): Promise<SynthesizePiecesResult> {
	const { pieces, requestPiece, onPcm, log, stopSignal } = options;
	const total = pieces.length;
	const window = Math.max(1, Math.floor(options.concurrency));
	const describe = options.describePiece ?? ((index: number) => pieceLabel(index, total, pieces[index]));
	const pauses = new Map<number, Buffer>();
	const pauseBuffer = (index: number) => {
		const ms = typeof options.pauseMs === 'function' ? options.pauseMs(index) : options.pauseMs;
		let pause = pauses.get(ms);
		if (!pause) {
			pause = silence(ms, typeof options.sampleRate === 'function' ? options.sampleRate() : options.sampleRate);
			pauses.set(ms, pause);
		}
		return pause;
	};
	const outcomes = new Map<number, Promise<Outcome>>();
	const failed = new Set<number>();
	let signalFailure: () => void = () => {};
	const failure = new Promise<'failed'>((resolve) => {
		signalFailure = () => resolve('failed');
	});
	let nextToStart = 0;
	let inFlight = 0;
	let delivered = 0;
	const stopped = () => failed.size > 0 || stopSignal?.aborted === true;
	stopSignal?.addEventListener('abort', signalFailure);

	/** Starts as many pieces as the window and the held-audio bound allow. */
	const pump = () => {
		while (nextToStart < total && !stopped() && inFlight < window && nextToStart - delivered < window + HELD_SPARE) {
			const index = nextToStart++;
			inFlight++;
			outcomes.set(
				index,
				requestPiece(index).then(
					(pcm): Outcome => {
						inFlight--;
						pump();
						return { ok: true, pcm };
					},
					(error: unknown): Outcome => {
						inFlight--;
						failed.add(index);
						signalFailure();
						return { ok: false, error };
					},
				),
			);
		}
	};
	const stop = async (): Promise<never> => {
		// Nothing more starts (stopped() holds); the requests in flight are let finish.
		await Promise.all(outcomes.values());
		const pieceFailures = [...failed].filter((index) => index >= 0);
		if (pieceFailures.length === 0) throw stopSignal?.reason ?? new Error('The pieces were stopped');
		const index = Math.min(...pieceFailures);
		const outcome = (await outcomes.get(index)) as Extract<Outcome, { ok: false }>;
		throw namePiece(outcome.error, index, describe(index));
	};

	pump();
	let pcmBytes = 0;
	try {
		for (let index = 0; index < total; index++) {
			if (stopped()) return await stop();
			const outcome = await Promise.race([outcomes.get(index) as Promise<Outcome>, failure]);
			if (outcome === 'failed' || !outcome.ok) return await stop();
			outcomes.delete(index);
			const pcm = wholeSamples(outcome.pcm);
			const gap = index > 0 ? pauseBuffer(index) : undefined;
			const audio = gap && gap.length > 0 ? Buffer.concat([gap, pcm]) : pcm;
			let sinkFailed = true;
			try {
				await onPcm(audio, index, gap?.length ?? 0);
				sinkFailed = false;
			} finally {
				if (sinkFailed) {
					// The output could not take the audio: nothing more is requested, those in flight end.
					failed.add(-1);
					await Promise.all(outcomes.values());
				}
			}
			pcmBytes += audio.length;
			delivered++;
			log?.(`piece ${index + 1}/${total} done`);
			pump();
		}
	} finally {
		stopSignal?.removeEventListener('abort', signalFailure);
	}
	return { pieces: total, pcmBytes };
}

/** `ms` of silence as 16-bit mono PCM, rounded to whole samples. */
export function silence(ms: number, sampleRate: number): Buffer {
	const samples = Math.max(0, Math.round((ms * sampleRate) / 1000));
	return Buffer.alloc(samples * 2);
}

function wholeSamples(pcm: Buffer): Buffer {
	return pcm.length % 2 === 0 ? pcm : pcm.subarray(0, pcm.length - 1);
}

/** How a failed piece is named: "piece 3 of 12 ("أول الكلمات…")". */
export function pieceLabel(index: number, total: number, text: string): string {
	const points = [...text.trim()];
	const start = points.slice(0, 30).join('');
	return `piece ${index + 1} of ${total} ("${start}${points.length > 30 ? '…' : ''}")`;
}

/**
 * The piece's error, naming the piece. Faseeh's own message is kept as it is (it says why); the
 * piece is named at the start of the description, and `context.piece` holds its number.
 */
function namePiece(error: unknown, index: number, label: string): unknown {
	const note = `Failed at ${label}; nothing more was sent for this item.`;
	if (error instanceof Error) {
		const described = error as Error & { description?: string | null; context?: Record<string, unknown> };
		if ('description' in described || 'context' in described) {
			described.description = described.description ? `${note} ${described.description}` : note;
			if (described.context) described.context.piece = index + 1;
			return described;
		}
		error.message = `${error.message} (${label})`;
		return error;
	}
	return new Error(`${String(error)} (${label})`);
}
