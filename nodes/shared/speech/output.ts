import { PassThrough } from 'stream';

import type { IBinaryData, IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import type { AudioAnswer } from '../audio';
import { downmixToMono } from '../audio';
import { createEncoder, OUTPUT_FORMATS } from '../encode';
import type { AudioEncoder, OutputFormat } from '../encode';

export interface SpeechOutputSettings {
	format: OutputFormat;
	/** MP3 and OGG/Opus only. */
	bitRateKbps?: number;
	/** The output file's name, extension included. */
	fileName: string;
	itemIndex: number;
	/** OGG/Opus only: the rate encoded and constrained VBR (the voice-note presets). */
	opus?: { rate?: number; constrainedVbr?: boolean };
	/**
	 * The rate the file must have when the PCM may come at another (streaming mode with Options →
	 * Sample Rate: the answer comes at Faseeh's 24 kHz and is resampled here). Undefined: the answer's.
	 */
	sampleRate?: number;
}

export interface SpeechOutputResult {
	binary: IBinaryData;
	mimeType: string;
	fileName: string;
	fileSize: number;
	durationSeconds: number;
	/** The rate of the written audio (Opus: the rate encoded, which may be above the input's). */
	sampleRate?: number;
	/** The bit rate written (MP3: read from its frames; OGG/Opus: the target). */
	bitRateKbps?: number;
}

/**
 * The written file as the item's JSON describes it, for every operation that outputs audio:
 * format, duration, name, type and size, then the rate and bit rate where they apply. The bit
 * rate is the one written, which for MP3 at 8-12 kHz is lower than the one asked for.
 */
export function describeAudio(format: OutputFormat, written: SpeechOutputResult, requestedBitRateKbps: number | undefined): IDataObject {
	const bitRateKbps = written.bitRateKbps ?? requestedBitRateKbps;
	const json: IDataObject = {
		format,
		durationSeconds: written.durationSeconds,
		fileName: written.fileName,
		mimeType: written.mimeType,
		fileSize: written.fileSize,
	};
	if (written.sampleRate !== undefined) json.sampleRate = written.sampleRate;
	if (bitRateKbps !== undefined) json.bitRateKbps = bitRateKbps;
	return json;
}

/**
 * Writes one spoken item to n8n's binary store in the chosen format, as it is produced: 16-bit
 * PCM goes into the format's encoder and what the encoder gives back goes straight into a stream
 * that prepareBinaryData is already reading (filesystem and database modes write it as it comes;
 * in-memory mode holds the encoded file only). WAV and raw PCM need their whole length first, so
 * their encoder hands the file over at the end: their memory is the output's size.
 *
 * An answer that already is another container (Faseeh sent an MP3, say) is kept as it is when the
 * format is WAV (the default: the node never relabels audio); converting it is refused.
 */
export class SpeechOutput {
	private encoder?: AudioEncoder;
	private stream?: PassThrough;
	private stored?: Promise<IBinaryData>;
	private kept?: { data: Buffer; mimeType: string; extension: string; durationSeconds: number };
	private bytes = 0;
	private inputRate?: number;

	constructor(
		private readonly context: IExecuteFunctions,
		private readonly settings: SpeechOutputSettings,
	) {}

	/** One whole answer (a short text, or one piece of a long one). */
	async writeAnswer(answer: AudioAnswer): Promise<void> {
		if (answer.kind === 'pcm') {
			await this.writePcm(downmixToMono(answer.pcm, answer.channels), answer.sampleRate);
			return;
		}
		if (this.settings.format !== 'wav' || this.encoder || this.kept) {
			throw new NodeOperationError(
				this.context.getNode(),
				`Faseeh answered ${answer.mimeType} audio, which this node can keep but not convert to ${OUTPUT_FORMATS[this.settings.format].label}`,
				{
					itemIndex: this.settings.itemIndex,
					description: 'Set Output Format to WAV to keep the audio as Faseeh sent it.',
				},
			);
		}
		this.kept = { data: answer.data, mimeType: answer.mimeType, extension: answer.extension, durationSeconds: answer.durationSeconds ?? 0 };
	}

	/** Mono 16-bit little-endian PCM at `sampleRate`; every call of one item must use the same rate. */
	async writePcm(pcm: Buffer, sampleRate: number): Promise<void> {
		if (this.kept) throw new Error('SpeechOutput: PCM after a kept container');
		if (this.inputRate !== undefined && this.inputRate !== sampleRate) {
			throw new NodeOperationError(
				this.context.getNode(),
				`Faseeh answered one part of this text at ${sampleRate} Hz and another at ${this.inputRate} Hz`,
				{ itemIndex: this.settings.itemIndex, description: 'Set Options → Sample Rate so every part is asked for the same rate.' },
			);
		}
		if (!this.encoder) {
			this.inputRate = sampleRate;
			this.encoder = await createEncoder({
				format: this.settings.format,
				sampleRate,
				targetSampleRate: this.settings.sampleRate,
				bitRateKbps: this.settings.bitRateKbps,
				opus: this.settings.opus,
			});
			this.open(this.encoder.mimeType);
		}
		await this.push(await this.encoder.write(pcm));
	}

	async finish(): Promise<SpeechOutputResult> {
		if (this.kept) {
			const { data, mimeType, durationSeconds } = this.kept;
			const fileName = this.fileNameWith(this.kept.extension);
			const binary = await this.context.helpers.prepareBinaryData(data, fileName, mimeType);
			return { binary, mimeType, fileName, fileSize: data.length, durationSeconds };
		}
		if (!this.encoder || !this.stream || !this.stored) throw new Error('SpeechOutput: nothing was written');
		// MP3 comes back in its held blocks: written one by one, never joined into one Buffer here.
		for (const part of await this.encoder.endInParts()) await this.push(part);
		this.stream.end();
		const binary = await this.stored;
		return {
			binary,
			mimeType: this.encoder.mimeType,
			fileName: this.fileName(),
			fileSize: this.bytes,
			durationSeconds: Math.round(this.encoder.durationSeconds() * 1000) / 1000,
			sampleRate: this.encoder.outputSampleRate,
			bitRateKbps: this.encoder.bitRateKbps,
		};
	}

	/**
	 * Stops writing after a failure (a failed piece, a timeout, a cancel, Continue On Fail): the
	 * encoder is freed and the partial file is discarded by n8n with the failed item.
	 */
	abort(): void {
		this.encoder?.dispose();
		if (!this.stream || this.stream.destroyed) return;
		// The binary store's reader sees the error; when it has not attached yet (or has already
		// stopped), the error must not become an unhandled 'error' event that crashes n8n.
		this.stream.on('error', () => undefined);
		this.stream.destroy(new Error('The audio was not finished'));
	}

	private open(mimeType: string): void {
		this.stream = new PassThrough();
		this.stored = this.context.helpers.prepareBinaryData(this.stream, this.fileName(), mimeType);
		// A failure is read in finish(); an aborted item's rejection must not go unhandled meanwhile.
		this.stored.catch(() => undefined);
	}

	private async push(chunk: Buffer): Promise<void> {
		if (chunk.length === 0 || !this.stream) return;
		this.bytes += chunk.length;
		if (!this.stream.write(chunk)) {
			const stream = this.stream;
			await new Promise<void>((resolve, reject) => {
				const done = (error?: Error) => {
					stream.off('drain', onDrain);
					stream.off('error', done);
					stream.off('close', onClose);
					if (error) reject(error);
					else resolve();
				};
				const onDrain = () => done();
				const onClose = () => done(new Error('The binary store stopped reading the audio'));
				stream.once('drain', onDrain);
				stream.once('error', done);
				stream.once('close', onClose);
			});
		}
	}

	private fileName(): string {
		return this.fileNameWith(OUTPUT_FORMATS[this.settings.format].extension);
	}

	/** The user's name (or the default) with the extension of what is actually written. */
	private fileNameWith(extension: string): string {
		return withAudioExtension(this.settings.fileName, extension);
	}
}

/**
 * Extensions of audio (and audio-in-video) files that a File Name's ending is taken for. Only
 * these are replaced: anything else after a dot is part of the name (`episode-2026.12.07`,
 * `report.final`, `a.tar.gz`).
 */
export const AUDIO_EXTENSIONS = [
	'wav', 'wave', 'mp3', 'mpga', 'ogg', 'oga', 'opus', 'pcm', 'raw', 'l16', 'flac', 'm4a', 'mp4', 'aac',
	'webm', 'weba', 'aif', 'aiff', 'aifc', 'amr', 'wma', 'caf', 'mka', 'mkv', 'mov', '3gp',
] as const;
const AUDIO_EXTENSION = new RegExp(`\\.(?:${AUDIO_EXTENSIONS.join('|')})$`, 'i');

/** `name` without trailing dots and a known audio extension (any case): `voice.WAV` → `voice`. */
export function withoutAudioExtension(name: string): string {
	return name.replace(/\.+$/, '').replace(AUDIO_EXTENSION, '');
}

/**
 * `name` with `extension`: a known audio extension is replaced (`voice.WAV` → `voice.mp3`),
 * anything else is kept and the extension added (`episode-2026.12.07` → `episode-2026.12.07.mp3`).
 * A name that is nothing but an extension or dots becomes `audio.<extension>`.
 */
export function withAudioExtension(name: string, extension: string): string {
	return `${withoutAudioExtension(name) || 'audio'}.${extension}`;
}
