/**
 * *Convert Input to WAV*: voice notes in, what the endpoint takes out. A recording in OGG/Opus,
 * WebM/Opus or MP3 (and, with *Always*, WAV) is decoded inside n8n to 24 kHz mono 16-bit WAV
 * before the upload: streamed from n8n's binary store, decoded in slices that give the event loop
 * a turn (the encoders' run queue), checked for damage and length before any request is sent.
 * See docs/reference.md, "Voice notes in".
 */
import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { parseWav } from '../audio';
import type { AudioInput } from '../binary';
import { Slicer } from '../encode/slicer';
import { audioInputError, binaryReadError } from '../transport/errors';
import { isLoadFailure, MpegFrameDecoder, OpusPacketDecoder } from './codecs';
import { MpegFrameReader } from './mpeg';
import { OggOpusReader, opusPacketSamples } from './ogg';
import type { OpusHead } from './ogg';
import { CONVERTED_RATE, WavSink } from './pcmSink';
import { AudioProblem, describeSeconds } from './problems';
import { WavReader } from './wav';
import { WebmOpusReader } from './webm';

export type ConvertMode = 'auto' | 'always' | 'never';
export const CONVERT_MODES: ConvertMode[] = ['auto', 'always', 'never'];

/** Containers the node decodes (Opus in Ogg or WebM, MPEG audio, PCM WAV). */
export const DECODABLE_FORMATS = ['ogg', 'webm', 'mp3', 'wav'];

export const FORMAT_LABELS: Record<string, string> = {
	ogg: 'OGG/Opus',
	webm: 'WebM',
	mp3: 'MP3',
	wav: 'WAV',
	m4a: 'M4A (AAC)',
	aac: 'AAC',
	flac: 'FLAC',
	amr: 'AMR',
	aiff: 'AIFF',
};

export interface ConvertPolicy {
	mode: ConvertMode;
	/** Containers the endpoint takes as they are: *Auto* keeps them. */
	keptInAuto: readonly string[];
	/** Check the structure and length of a decodable file sent as it is (costs one read, no decoding). */
	probeKept: boolean;
	/** Longest recording the operation takes, in seconds. */
	maxSeconds: number;
	/** The limit in words, for the message: "speech-to-text takes at most 60 min (Munsit’s limit)". */
	limit: string;
}

/** Voice → Preview and Faseeh Voice Clone: Faseeh documents no format but "audio"; WAV is what it speaks. */
export const FASEEH_UPLOAD_POLICY: Omit<ConvertPolicy, 'mode'> = {
	keptInAuto: ['wav'],
	probeKept: false,
	maxSeconds: 3600,
	limit: 'the node converts at most 60 min for a voice (Faseeh asks for 1 to 3 minutes of one speaker)',
};

/**
 * Audio → Transcribe: Munsit names the extensions it takes (.ogg .opus .webm .mp3 .wav .m4a .aac
 * .flac .amr …) and decodes them itself, so *Auto* sends those as they are (smaller than a WAV)
 * after reading their length from the container.
 */
export const STT_UPLOAD_POLICY: Omit<ConvertPolicy, 'mode'> = {
	keptInAuto: ['ogg', 'webm', 'mp3', 'wav', 'm4a', 'aac', 'flac', 'amr'],
	probeKept: true,
	maxSeconds: 3600,
	limit: 'speech-to-text takes at most 60 min (Munsit’s limit)',
};

/** What the upload is, after the policy was applied. */
export interface Conversion {
	/** The container the input is (its content, not its name). */
	inputFormat?: string;
	converted: boolean;
	/** Seconds of audio, when known (decoded, or read from the container). */
	durationSeconds?: number;
	/** Set when the file is sent as it is because the node cannot decode it (for the API's refusal). */
	asIsReason?: string;
}

const CHUNK_BYTES = 64 * 1024;

/** Applies *Convert Input to WAV* to one checked input; refuses a damaged or too long file before any request. */
export async function prepareUpload(
	this: IExecuteFunctions,
	itemIndex: number,
	input: AudioInput,
	policy: ConvertPolicy,
): Promise<AudioInput & { conversion: Conversion }> {
	const format = input.format;
	const label = FORMAT_LABELS[format ?? ''] ?? (format ? format.toUpperCase() : 'this format');
	const asIs = (conversion: Omit<Conversion, 'inputFormat' | 'converted'> = {}) => ({ ...input, conversion: { inputFormat: format, converted: false, ...conversion } });
	if (policy.mode === 'never') return asIs();
	const decodable = format !== undefined && DECODABLE_FORMATS.includes(format);
	const fail = (problem: string, description?: string) =>
		audioInputError(this.getNode(), input.spec.parameterLabel, input.spec.field, label, problem, itemIndex, description);

	if (policy.mode === 'auto' && format !== undefined && policy.keptInAuto.includes(format)) {
		if (!policy.probeKept || !decodable) return asIs();
		try {
			const durationSeconds = await probeLength(bytesOf.call(this, itemIndex, input), format, input.size);
			if (durationSeconds !== undefined && durationSeconds > policy.maxSeconds) {
				throw new AudioProblem('tooLong', `is ${describeSeconds(durationSeconds)} long: ${policy.limit}`);
			}
			return asIs({ durationSeconds });
		} catch (error) {
			if (error instanceof AudioProblem && error.kind === 'unsupported') return asIs({ asIsReason: `the node cannot read ${label} of this kind (${error.message})` });
			throw toNodeError(error, fail);
		}
	}
	if (!decodable) {
		const reason = `the node has no decoder for ${label}`;
		if (policy.mode === 'always') {
			throw fail(`cannot be converted to WAV: ${reason}`, 'The node decodes OGG/Opus, WebM/Opus, MP3 and WAV. Set Convert Input to WAV to Auto or Never to send the file as it is, or convert it before this node.');
		}
		return asIs({ asIsReason: reason });
	}
	try {
		const wav = await decodeToWav(bytesOf.call(this, itemIndex, input), format, policy.maxSeconds, policy.limit);
		return {
			spec: input.spec,
			binary: input.binary,
			fileName: `${input.fileName.replace(/\.[A-Za-z0-9]{1,5}$/, '') || input.spec.field}.wav`,
			mimeType: 'audio/wav',
			size: wav.size,
			format: 'wav',
			parts: wav.parts,
			conversion: { inputFormat: format, converted: true, durationSeconds: wav.durationSeconds },
		};
	} catch (error) {
		if (policy.mode === 'auto' && error instanceof AudioProblem && error.kind === 'unsupported') {
			return asIs({ asIsReason: `the node cannot decode it (${error.message})` });
		}
		throw toNodeError(error, fail);
	}
}

/** An AudioProblem as the item's error; a store failure or anything else keeps its own error. */
function toNodeError(error: unknown, fail: (problem: string, description?: string) => Error): unknown {
	if (error instanceof AudioProblem) {
		if (error.kind === 'tooLong') return fail(error.message, 'Nothing was sent. Trim the recording, or split it into parts.');

		const send = error.kind === 'unsupported' ? ' Set Convert Input to WAV to Auto or Never to send the file as it is.' : ' Set Convert Input to WAV to Never to send the file as it is anyway.';
		const what = error.kind === 'noAudio' ? 'has no audio to send' : error.kind === 'unsupported' ? 'cannot be converted' : 'is damaged';
		return fail(`${what}: ${error.message}`, `Nothing was sent.${send}`);
	}
	if (isLoadFailure(error) && !(error instanceof Error && error.name === 'NodeOperationError')) {
		const message = error instanceof Error ? error.message : String(error);
		return fail(`could not be converted: the audio decoder failed (${message.split('\n')[0]})`, 'Nothing was sent. Set Convert Input to WAV to Never to send the file as it is.');
	}
	return error;
}

/** The input's bytes in chunks: from memory, or streamed from n8n's binary store. */
async function* bytesOf(this: IExecuteFunctions, itemIndex: number, input: AudioInput): AsyncGenerator<Buffer> {
	if (input.buffer) {
		for (let offset = 0; offset < input.buffer.length; offset += CHUNK_BYTES) yield input.buffer.subarray(offset, offset + CHUNK_BYTES);
		return;
	}
	let stream: Awaited<ReturnType<IExecuteFunctions['helpers']['getBinaryStream']>>;
	try {
		stream = await this.helpers.getBinaryStream(input.binary.id as string, CHUNK_BYTES);
	} catch (error) {
		throw binaryReadError(this.getNode(), input.spec.parameterLabel, input.spec.field, error, itemIndex);
	}
	try {
		const iterator = stream[Symbol.asyncIterator]();
		for (;;) {
			let next: IteratorResult<unknown>;
			try {
				next = await iterator.next();
			} catch (error) {
				throw binaryReadError(this.getNode(), input.spec.parameterLabel, input.spec.field, error, itemIndex);
			}
			if (next.done) return;
			yield next.value as Buffer;
		}
	} finally {
		stream.destroy();
	}
}

/**
 * Decodes a whole recording to a 24 kHz mono 16-bit WAV (in parts), refusing damage as it is found
 * and a recording longer than `maxSeconds`. Work is sliced on the process's run queue.
 */
export async function decodeToWav(
	chunks: AsyncIterable<Buffer>,
	format: string,
	maxSeconds: number,
	limit: string,
): Promise<{ parts: Buffer[]; size: number; durationSeconds: number }> {
	const sink = new WavSink(maxSeconds, limit);
	await decodeInto(chunks, format, sink);
	return sink.finish();
}

async function decodeInto(chunks: AsyncIterable<Buffer>, format: string, sink: WavSink): Promise<void> {
	const slicer = new Slicer();
	if (format === 'ogg' || format === 'webm') {
		await decodeOpus(format === 'ogg' ? new OggOpusReader() : new WebmOpusReader(), chunks, sink, slicer);
	} else if (format === 'mp3') {
		await decodeMpeg(chunks, sink, slicer);
	} else {
		const reader = new WavReader();
		for await (const chunk of chunks) {
			for (const piece of reader.push(chunk)) {
				sink.write(piece, reader.format?.sampleRate ?? CONVERTED_RATE);
				await slicer.pause();
			}
		}
		reader.end();
	}
}

type OpusReader = OggOpusReader | WebmOpusReader;

async function decodeOpus(reader: OpusReader, chunks: AsyncIterable<Buffer>, sink: WavSink, slicer: Slicer): Promise<void> {
	let decoder: OpusPacketDecoder | undefined;
	let head: OpusHead | undefined;
	let skip = 0;
	let gain = 1;
	try {
		const take = async (packets: Array<Buffer | { data: Buffer; discardNs: number }>) => {
			if (!decoder && reader.head) {
				head = reader.head;
				await slicer.pause(true);
				decoder = await OpusPacketDecoder.create(head.channels, CONVERTED_RATE);
				await slicer.pause(true);
				skip = Math.round((head.preSkip * CONVERTED_RATE) / 48000);
				gain = head.gain === 0 ? 1 : 10 ** (head.gain / (20 * 256));
			}
			for (const packet of packets) {
				const data = Buffer.isBuffer(packet) ? packet : packet.data;
				if (!decoder) throw new AudioProblem('corrupt', 'it has audio before its Opus header');
				let channels = decoder.decode(data);
				if (channels.length > 0 && skip > 0) {
					const dropped = Math.min(skip, channels[0].length);
					skip -= dropped;
					channels = channels.map((channel) => channel.subarray(dropped));
				}
				if (gain !== 1) channels = channels.map((channel) => channel.map((value) => value * gain));
				sink.write(channels, CONVERTED_RATE);
				if (!Buffer.isBuffer(packet) && packet.discardNs > 0) sink.dropLast(Math.round((packet.discardNs * CONVERTED_RATE) / 1e9));
				await slicer.pause();
			}
		};
		for await (const chunk of chunks) await take(reader.push(chunk));
		const last = reader.end();
		if (Array.isArray(last)) await take(last);
		if (reader instanceof OggOpusReader && head && reader.lastGranule >= 0) {
			// The last page's granule position ends the audio (RFC 7845 §4.5): the encoder's padding goes.
			const total = Math.max(0, Math.round(((reader.lastGranule - head.preSkip) * CONVERTED_RATE) / 48000));
			sink.keepFirst(total);
		}
	} finally {
		decoder?.dispose();
	}
}

async function decodeMpeg(chunks: AsyncIterable<Buffer>, sink: WavSink, slicer: Slicer): Promise<void> {
	const reader = new MpegFrameReader();
	let decoder: MpegFrameDecoder | undefined;
	try {
		for await (const chunk of chunks) {
			for (const frame of reader.push(chunk)) {
				if (!decoder) {
					await slicer.pause(true);
					decoder = await MpegFrameDecoder.create();
					await slicer.pause(true);
				}
				const { channels, rate } = decoder.decode(frame);
				if (channels.length > 0) sink.write(channels[0] === channels[1] ? [channels[0]] : channels, rate);
				await slicer.pause();
			}
		}
		reader.end();
	} finally {
		decoder?.dispose();
	}
}

/**
 * The length of a file sent as it is, read from its container without decoding (Ogg granule
 * positions, Opus packet headers in WebM, MPEG frame headers, the WAV header); the walk also finds
 * a file that is cut short or damaged. Undefined when the container does not say.
 */
export async function probeLength(chunks: AsyncIterable<Buffer>, format: string, size: number): Promise<number | undefined> {
	const slicer = new Slicer();
	if (format === 'wav') {
		let head = Buffer.alloc(0);
		for await (const chunk of chunks) {
			head = Buffer.concat([head, chunk]);
			const info = parseWav(head);
			if (info && info.byteRate > 0) {
				const declared = head.readUInt32LE(info.dataOffset - 4);
				const available = size - info.dataOffset;
				const bytes = declared === 0 || declared === 0xffffffff ? available : Math.min(declared, available);
				return bytes / info.byteRate;
			}
			if (head.length > 1 << 20) break;
		}
		return undefined;
	}
	if (format === 'mp3') {
		const reader = new MpegFrameReader();
		for await (const chunk of chunks) {
			reader.push(chunk);
			await slicer.pause();
		}
		reader.end();
		return reader.sampleRate > 0 ? reader.samples / reader.sampleRate : undefined;
	}
	if (format === 'ogg') {
		const reader = new OggOpusReader();
		let samples = 0;
		for await (const chunk of chunks) {
			for (const packet of reader.push(chunk)) samples += opusPacketSamples(packet);
			await slicer.pause();
		}
		reader.end();
		const preSkip = reader.head?.preSkip ?? 0;
		return (reader.lastGranule >= 0 ? reader.lastGranule - preSkip : samples - preSkip) / 48000;
	}
	const reader = new WebmOpusReader();
	let samples = 0;
	for await (const chunk of chunks) {
		for (const packet of reader.push(chunk)) samples += opusPacketSamples(packet.data);
		await slicer.pause();
	}
	for (const packet of reader.end()) samples += opusPacketSamples(packet.data);
	return (samples - (reader.head?.preSkip ?? 0)) / 48000;
}

/**
 * A refusal of a file the node sent as it is because it could not convert it: Faseeh's own
 * message stays, and the description says what was sent and what to do.
 */
export function explainAsIsRefusal(error: unknown, inputs: Array<AudioInput & { conversion?: Conversion }>): unknown {
	if (!(error instanceof NodeApiError)) return error;
	const status = Number(error.httpCode ?? 0);
	if (![400, 415, 422].includes(status)) return error;
	const sentAsIs = inputs.filter((input) => input.conversion?.asIsReason);
	if (sentAsIs.length === 0) return error;
	const notes = sentAsIs.map((input) => `"${input.spec.parameterLabel}" was sent as it is (${input.mimeType}): ${input.conversion?.asIsReason}.`);
	const note = `${notes.join(' ')} Faseeh documents no input format beyond "audio": convert the recording to WAV, MP3 or OGG/Opus before this node.`;
	const description = error.description ?? '';
	const tag = /\s*\[item \d+\]$/.exec(description);
	error.description = tag ? `${description.slice(0, tag.index)} ${note}${tag[0]}`.trim() : `${description} ${note}`.trim();
	return error;
}

/** The recording as the item's JSON tells it: what came in and what was sent. */
export function describeUpload(upload: AudioInput & { conversion: Conversion }): IDataObject {
	const json: IDataObject = {
		format: upload.conversion.inputFormat ?? null,
		converted: upload.conversion.converted,
		sentAs: upload.fileName,
	};
	if (upload.conversion.durationSeconds !== undefined) json.durationSeconds = Math.round(upload.conversion.durationSeconds * 1000) / 1000;
	if (upload.conversion.asIsReason) json.note = `Sent as it is: ${upload.conversion.asIsReason}`;
	return json;
}
