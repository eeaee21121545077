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
	/** How many pieces are requested at once (the account's plan limit: the limiter holds it exactly). */
	concurrency: number;
	pauseMs: number;
	/** The rate asked for (Sample Rate option, or Faseeh's 24 kHz): used until an answer says otherwise. */
	requestedSampleRate: number;
	/** Where the joined PCM goes, in order (the output file's encoder: see SpeechOutput). */
	writePcm: (pcm: Buffer, sampleRate: number) => Promise<void>;
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
	logger?.info(`Faseeh: item ${itemIndex}: speaking a long text in ${total} pieces`);

	await synthesizePieces({
		pieces,
		concurrency: long.concurrency,
		pauseMs: long.pauseMs,
		sampleRate: () => sampleRate ?? long.requestedSampleRate,
		requestPiece: async (index) => {
			const { answer } = await faseehAudio.call(this, {
				...long.request,
				body: { ...long.request.body, text: pieces[index] },
				itemSlot,
			});
			const fail = (problem: string) =>
				new NodeOperationError(this.getNode(), `Faseeh's audio for ${pieceLabel(index, total, pieces[index])} cannot be joined: ${problem} [item ${itemIndex}]`, {
					itemIndex,
				});
			if (answer.kind !== 'pcm') throw fail(`it is ${answer.mimeType}, not PCM or a PCM WAV`);
			sampleRate ??= answer.sampleRate;
			if (answer.sampleRate !== sampleRate) {
				throw fail(`it is at ${answer.sampleRate} Hz, the pieces before it at ${sampleRate} Hz`);
			}
			return downmixToMono(answer.pcm, answer.channels);
		},
		onPcm: async (pcm) => {
			await long.writePcm(pcm, sampleRate ?? long.requestedSampleRate);
		},
		log: (message) => logger?.info(`Faseeh: item ${itemIndex}: ${message}`),
		stopSignal: gate?.closedSignal,
	});
	return sampleRate ?? long.requestedSampleRate;
}
