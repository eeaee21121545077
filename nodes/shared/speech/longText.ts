import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { downmixToMono } from '../audio';
import { requestGateFor } from '../concurrency';
import type { FaseehRequest } from '../transport';
import { faseehAudio } from '../transport';
import { pieceLabel, synthesizePieces } from './pieces';

export interface LongTextRequest {
	itemIndex: number;
	/** The texts to speak, in order (splitForSpeech). */
	pieces: string[];
	/** The speech request without its text: each piece sends this body with its own `text`. */
	request: Omit<FaseehRequest, 'expect' | 'body'> & { body: IDataObject };
	/** Piece `index`'s body without its text, where pieces differ (a dialogue's turns have their own voices). */
	pieceBody?: (index: number) => IDataObject;
	/** How many pieces are requested at once (the account's plan limit: the limiter holds it exactly). */
	concurrency: number;
	/** Silence between pieces (ms), or the pause before piece `index` (see synthesizePieces). */
	pauseMs: number | ((index: number) => number);
	/** The rate asked for (Sample Rate option, or Faseeh's 24 kHz): used until an answer says otherwise. */
	requestedSampleRate: number;
	/**
	 * Where the joined PCM goes, in order (the output file's encoder: see SpeechOutput): piece
	 * `index`'s audio, after `pauseBytes` of silence (0 for the first piece).
	 */
	writePcm: (pcm: Buffer, sampleRate: number, piece: { index: number; pauseBytes: number }) => Promise<void>;
	/** What the progress log calls the item's speech (default "a long text"). */
	subject?: string;
	/** How a piece is named in an error (default "piece 3 of 12 (\"…\")"). */
	describePiece?: (index: number) => string;
}

/**
 * One audio stream from the pieces of a long text: each piece is one Faseeh request through the
 * transport (so the account's plan limit counts it, across items and executions), its answer is
 * reduced to mono PCM, and the PCM goes to `writePcm` in order with the pause between pieces. All
 * pieces must come back at the same sample rate (the first answer's). Returns that rate.
 *
 * The item takes one slot of Options → Concurrency, in input order, and holds it until it ends
 * (the execution's runForEachItem frees it): its pieces share that slot. Once the batch stops
 * (another item failed without Continue On Fail, or a cancel), no further piece starts.
 */
export async function speakLongText(this: IExecuteFunctions, long: LongTextRequest): Promise<number> {
	const { itemIndex, pieces } = long;
	const total = pieces.length;
	let sampleRate: number | undefined;
	const logger = (this as Partial<Pick<IExecuteFunctions, 'logger'>>).logger;
	const gate = requestGateFor(this);
	const itemSlot = gate ? await gate.acquire(itemIndex) : undefined;
	itemSlot?.keepUntilItemFinished();
	logger?.info(`Faseeh: item ${itemIndex}: speaking ${long.subject ?? 'a long text'} in ${total} pieces`);
	const describe = long.describePiece ?? ((index: number) => pieceLabel(index, total, pieces[index]));

	await synthesizePieces({
		pieces,
		concurrency: long.concurrency,
		pauseMs: long.pauseMs,
		sampleRate: () => sampleRate ?? long.requestedSampleRate,
		describePiece: describe,
		requestPiece: async (index) => {
			const { answer } = await faseehAudio.call(this, {
				...long.request,
				body: { ...(long.pieceBody?.(index) ?? long.request.body), text: pieces[index] },
				itemSlot,
			});
			const fail = (problem: string) =>
				new NodeOperationError(this.getNode(), `Faseeh's audio for ${describe(index)} cannot be joined: ${problem} [item ${itemIndex}]`, {
					itemIndex,
				});
			if (answer.kind !== 'pcm') throw fail(`it is ${answer.mimeType}, not PCM or a PCM WAV`);
			sampleRate ??= answer.sampleRate;
			if (answer.sampleRate !== sampleRate) {
				throw fail(`it is at ${answer.sampleRate} Hz, the pieces before it at ${sampleRate} Hz`);
			}
			return downmixToMono(answer.pcm, answer.channels);
		},
		onPcm: async (pcm, index, pauseBytes) => {
			await long.writePcm(pcm, sampleRate ?? long.requestedSampleRate, { index, pauseBytes });
		},
		log: (message) => logger?.info(`Faseeh: item ${itemIndex}: ${message}`),
		stopSignal: gate?.closedSignal,
	});
	return sampleRate ?? long.requestedSampleRate;
}
