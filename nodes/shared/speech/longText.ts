import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import type { FaseehRequest } from '../transport';
import { faseehAudio } from '../transport';
import { pieceLabel, synthesizePieces } from './pieces';
import type { AudioSink } from './wav';
import { pcmFromAudio } from './wav';

export interface LongTextRequest {
	itemIndex: number;
	/** The texts to speak, in order (splitForSpeech). */
	pieces: string[];
	/** The speech request without its text: each piece sends this body with its own `text`. */
	request: Omit<FaseehRequest, 'expect' | 'body'> & { body: IDataObject };
	concurrency: number;
	pauseMs: number;
	/** The rate asked for (Sample Rate option, or Faseeh's 24 kHz): used until an answer says otherwise. */
	requestedSampleRate: number;
	/** Makes the output file from PCM at the answers' sample rate (a WAV today; see AudioSink). */
	createSink: (sampleRate: number) => AudioSink;
}

export interface LongTextAudio {
	/** The output file: every chunk the sink wrote, joined. */
	data: Buffer;
	sink: AudioSink;
	sampleRate: number;
}

/**
 * One audio file from the pieces of a long text: each piece is one Faseeh request through the
 * transport (so the execution's Concurrency and the account's plan limit count it), its answer
 * (WAV or raw PCM) is reduced to PCM, and the PCM goes to the sink in order with the pause between
 * pieces. All pieces must come back at the same sample rate (the first answer's).
 */
export async function speakLongText(this: IExecuteFunctions, long: LongTextRequest): Promise<LongTextAudio> {
	const { itemIndex, pieces } = long;
	const total = pieces.length;
	let sampleRate: number | undefined;
	let sink: AudioSink | undefined;
	const output: Buffer[] = [];
	const logger = (this as Partial<Pick<IExecuteFunctions, 'logger'>>).logger;
	logger?.info(`Faseeh: item ${itemIndex}: speaking a long text in ${total} pieces`);

	await synthesizePieces({
		pieces,
		concurrency: long.concurrency,
		pauseMs: long.pauseMs,
		sampleRate: () => sampleRate ?? long.requestedSampleRate,
		requestPiece: async (index) => {
			const { audio, contentType } = await faseehAudio.call(this, {
				...long.request,
				body: { ...long.request.body, text: pieces[index] },
			});
			const decoded = pcmFromAudio(audio, contentType);
			const fail = (problem: string) =>
				new NodeOperationError(this.getNode(), `Faseeh's audio for ${pieceLabel(index, total, pieces[index])} cannot be joined: ${problem} [item ${itemIndex}]`, {
					itemIndex,
				});
			if (typeof decoded === 'string') throw fail(decoded);
			sampleRate ??= decoded.sampleRate;
			if (decoded.sampleRate !== sampleRate) {
				throw fail(`it is at ${decoded.sampleRate} Hz, the pieces before it at ${sampleRate} Hz`);
			}
			return decoded.pcm;
		},
		onPcm: async (pcm) => {
			sink ??= long.createSink(sampleRate ?? long.requestedSampleRate);
			const written = await sink.write(pcm);
			if (written.length > 0) output.push(written);
		},
		log: (message) => logger?.info(`Faseeh: item ${itemIndex}: ${message}`),
	});

	const finished = sink ?? long.createSink(sampleRate ?? long.requestedSampleRate);
	output.push(await finished.end());
	return { data: Buffer.concat(output), sink: finished, sampleRate: sampleRate ?? long.requestedSampleRate };
}
