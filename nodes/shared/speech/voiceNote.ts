/**
 * Voice-note presets of Output Format (docs/reference.md, "Voice notes out"): mono OGG/Opus that
 * WhatsApp and Telegram show as a voice message, and what to do when the speech is longer than one
 * note holds.
 *
 * - WhatsApp shows its voice-note player only for an OGG/Opus file of at most 512 KB (Meta's Cloud
 *   API documentation); larger files arrive as an audio attachment. Its own notes are mono Opus at
 *   16 kHz, which its phone app is known to insist on. The bit rate is chosen from the speech's
 *   real length, after it is spoken: the highest up to 32 kbps whose file fits, never below the
 *   *Lowest Bit Rate*. libopus's constrained VBR keeps the average at that bit rate over any
 *   stretch (speech, with its pauses, comes out below it), so the size is bounded by bit rate ×
 *   length plus the Ogg pages; it is checked after encoding, and the note encoded again lower should
 *   it still not fit. The note's PCM is held until then (48 kB a second, 12 MB for 4 minutes).
 * - Telegram's `sendVoice` shows OGG/Opus as a voice message up to 50 MB (1 MB when sent by URL):
 *   mono Opus at 24 kHz, 32 kbps (VBR), encoded as the speech arrives.
 * - Too long for one note: *Fail* refuses before any request a text whose speech cannot fit even at
 *   a fast speaking rate; *Split Into Several Notes* ends a note at a piece boundary (a sentence end)
 *   before it would overflow and starts the next, one output item per note, in order.
 */
import type { IBinaryData, IDataObject, IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { createEncoder } from '../encode';
import { describeSeconds } from '../decode/problems';
import { SpeechOutput, withAudioExtension, withoutAudioExtension } from './output';
import type { SpeechOutputResult } from './output';

export type VoiceNotePreset = 'whatsappVoice' | 'telegramVoice';
export type VoiceNoteOverflow = 'fail' | 'split';

export const VOICE_NOTE_PRESETS: VoiceNotePreset[] = ['whatsappVoice', 'telegramVoice'];

interface PresetSpec {
	app: string;
	/** Largest file the app shows as a voice message. */
	limitBytes: number;
	/** Opus rate encoded. */
	rate: number;
	/** Highest bit rate used (kbps). */
	maxKbps: number;
	/** The bit rate is fixed (Telegram) or chosen per note to fit (WhatsApp). */
	fixedKbps?: number;
	limitText: string;
}

/** 512 KB as 512 000 bytes: under the limit whichever kilobyte Meta means. */
export const WHATSAPP_VOICE_LIMIT_BYTES = 512_000;
export const TELEGRAM_VOICE_LIMIT_BYTES = 50_000_000;

export const PRESETS: Record<VoiceNotePreset, PresetSpec> = {
	whatsappVoice: { app: 'WhatsApp', limitBytes: WHATSAPP_VOICE_LIMIT_BYTES, rate: 16000, maxKbps: 32, limitText: '512 KB' },
	telegramVoice: { app: 'Telegram', limitBytes: TELEGRAM_VOICE_LIMIT_BYTES, rate: 24000, maxKbps: 32, fixedKbps: 32, limitText: '50 MB' },
};

export const LOWEST_BIT_RATE = { min: 8, max: 32, default: 16 };

/** Ogg/Opus bytes besides the packets: the two header pages, and per one-second page 27 + 50 lacing bytes. */
const HEADER_BYTES = 200;
const PAGE_BYTES_PER_SECOND = 27 + 50 + 2;
/** Telegram is variable bit rate: room for a note that runs above its average. */
const VBR_ROOM = 1.25;

/** Seconds of speech one note holds at `kbps` (constrained VBR: the size is at most bit rate × length). */
export function noteCapacitySeconds(preset: VoiceNotePreset, kbps: number): number {
	const spec = PRESETS[preset];
	const perSecond = (kbps * 1000) / 8 * (spec.fixedKbps ? VBR_ROOM : 1) + PAGE_BYTES_PER_SECOND;
	// 0.5 % and one second of packets kept free for the last page and rounding.
	return Math.max(0, (spec.limitBytes * 0.995 - HEADER_BYTES) / perSecond - 1);
}

/** The highest whole bit rate up to the preset's maximum at which `seconds` of speech fits one note. */
export function fittingKbps(preset: VoiceNotePreset, seconds: number): number {
	const spec = PRESETS[preset];
	if (spec.fixedKbps) return spec.fixedKbps;
	for (let kbps = spec.maxKbps; kbps >= 6; kbps--) if (noteCapacitySeconds(preset, kbps) >= seconds) return kbps;
	return 6;
}

/**
 * Speech length from the text, before anything is spoken: the fastest plausible Arabic speech,
 * 25 letters, digits and spaces a second at speed 1 (diacritics, which are not spoken as sounds of
 * their own, are not counted), so only a text that cannot fit is refused.
 */
export function shortestSpeechSeconds(text: string, speed = 1): number {
	const spoken = text.replace(/<break\b[^>]*>/giu, ' ').replace(/[\u064B-\u065F\u0670\u06D6-\u06ED\u0640]/gu, '');
	return [...spoken].length / (25 * speed);
}

export interface VoiceNoteSettings {
	preset: VoiceNotePreset;
	overflow: VoiceNoteOverflow;
	lowestKbps: number;
	fileName: string;
	itemIndex: number;
	pauseMs: number;
}

export interface WrittenNote {
	binary: IBinaryData;
	json: IDataObject;
	/** Indexes of the pieces (of the text) this note speaks. */
	pieces: number[];
}

/**
 * Collects the spoken pieces of one item into one or more voice notes. Each `add` is one piece
 * (after the first, with the pause before it), in order.
 */
export class VoiceNoteWriter {
	private readonly spec: PresetSpec;
	private readonly capacity: number;
	private held: Buffer[] = [];
	private heldSamples = 0;
	private rate?: number;
	private notePieces: number[] = [];
	private stream?: SpeechOutput;
	private readonly notes: Array<{ result: SpeechOutputResult; kbps: number; pieces: number[]; warning?: string }> = [];

	constructor(
		private readonly context: IExecuteFunctions,
		private readonly settings: VoiceNoteSettings,
	) {
		this.spec = PRESETS[settings.preset];
		this.capacity = noteCapacitySeconds(settings.preset, this.spec.fixedKbps ?? settings.lowestKbps);
	}

	/** Refuses, before any request, a text that cannot fit one note (Fail), however fast it is spoken. */
	static checkText(context: IExecuteFunctions, settings: VoiceNoteSettings, text: string, speed: number | undefined, fail: (problem: string, description: string) => Error): void {
		if (settings.overflow !== 'fail') return;
		const spec = PRESETS[settings.preset];
		const kbps = spec.fixedKbps ?? settings.lowestKbps;
		const capacity = noteCapacitySeconds(settings.preset, kbps);
		const shortest = shortestSpeechSeconds(text, speed ?? 1);
		if (shortest > capacity) {
			throw fail(
				`is ${spec.app} Voice Note, but the text (${[...text].length.toLocaleString('en-US')} characters) is at least ${describeSeconds(shortest)} of speech; one ${spec.app} voice note holds at most ${describeSeconds(capacity)} at ${kbps} kbps (${spec.limitText})`,
				`Nothing was sent. Set "Longer Than One Note" to "Split Into Several Notes" to get the speech as several notes, one item each${spec.fixedKbps ? '' : ', or lower "Lowest Bit Rate"'}; or shorten the text.`,
			);
		}
	}

	/** The longest text one request should carry: a piece must fit a note (at a slow 10 characters a second). */
	maxPieceCharacters(): number {
		return Math.max(100, Math.floor(this.capacity * 10));
	}

	async add(pcm: Buffer, sampleRate: number, pieceIndex: number): Promise<void> {
		if (this.rate !== undefined && this.rate !== sampleRate) {
			throw new NodeOperationError(this.context.getNode(), `Faseeh answered one part of this text at ${sampleRate} Hz and another at ${this.rate} Hz`, { itemIndex: this.settings.itemIndex });
		}
		this.rate = sampleRate;
		let audio = pcm;
		const seconds = audio.length / 2 / sampleRate;
		const current = this.currentSeconds();
		if (this.settings.overflow === 'split' && this.notePieces.length > 0 && current + seconds > this.capacity) {
			await this.closeNote();
			// A new note starts with the speech, not with the pause that joined it to the last piece.
			const pause = Math.min(audio.length, Math.round((this.settings.pauseMs * sampleRate) / 1000) * 2);
			if (pieceIndex > 0) audio = audio.subarray(pause);
		}
		this.notePieces.push(pieceIndex);
		if (this.spec.fixedKbps) {
			this.stream ??= new SpeechOutput(this.context, {
				format: 'oggOpus',
				bitRateKbps: this.spec.fixedKbps,
				fileName: this.noteFileName(this.notes.length + 1),
				itemIndex: this.settings.itemIndex,
				opus: { rate: this.spec.rate },
			});
			await this.stream.writePcm(audio, sampleRate);
			this.heldSamples += audio.length / 2;
		} else {
			this.held.push(Buffer.from(audio));
			this.heldSamples += audio.length / 2;
		}
	}

	/** The notes, in order; the file names are numbered when there are several. */
	async finish(): Promise<WrittenNote[]> {
		if (this.notePieces.length > 0) await this.closeNote();
		const total = this.notes.length;
		const written: WrittenNote[] = [];
		for (const [index, note] of this.notes.entries()) {
			const { result } = note;
			const shows = result.fileSize <= this.spec.limitBytes;
			const json: IDataObject = {
				format: this.settings.preset,
				durationSeconds: result.durationSeconds,
				fileName: result.fileName,
				mimeType: result.mimeType,
				fileSize: result.fileSize,
				sampleRate: result.sampleRate ?? this.spec.rate,
				bitRateKbps: note.kbps,
				showsAsVoiceNote: shows,
				voiceNoteLimitBytes: this.spec.limitBytes,
				note: index + 1,
				notes: total,
			};
			if (this.settings.preset === 'telegramVoice') json.showsAsVoiceNoteByUrl = result.fileSize <= 1_000_000;
			if (!shows) {
				json.warning = `This note is ${result.fileSize} bytes, over the ${this.spec.limitText} ${this.spec.app} shows as a voice message: it will arrive as an audio file. The speech was longer than the text suggested; set "Longer Than One Note" to "Split Into Several Notes".`;
			}
			written.push({ binary: result.binary, json, pieces: note.pieces });
		}
		return written;
	}

	abort(): void {
		this.stream?.abort();
		this.held = [];
	}

	/** In split mode the notes are numbered (greeting-1.ogg, greeting-2.ogg …), even when one is enough. */
	private noteFileName(number: number): string {
		return this.settings.overflow === 'split' ? numbered(this.settings.fileName, number) : this.settings.fileName;
	}

	private currentSeconds(): number {
		return this.rate ? this.heldSamples / this.rate : 0;
	}

	private async closeNote(): Promise<void> {
		const pieces = this.notePieces;
		const fileName = this.noteFileName(this.notes.length + 1);
		if (this.stream) {
			const stream = this.stream;
			this.stream = undefined;
			const result = await stream.finish();
			this.notes.push({ result, kbps: this.spec.fixedKbps ?? 0, pieces });
		} else {
			this.notes.push({ ...(await this.encodeHeld(fileName)), pieces });
		}
		this.notePieces = [];
		this.held = [];
		this.heldSamples = 0;
	}

	/** Encodes the held PCM at the highest bit rate whose file fits, checked after encoding. */
	private async encodeHeld(fileName: string): Promise<{ result: SpeechOutputResult; kbps: number }> {
		const rate = this.rate ?? 24000;
		const seconds = this.heldSamples / rate;
		let kbps = Math.max(this.settings.lowestKbps, fittingKbps(this.settings.preset, seconds));
		for (;;) {
			const encoder = await createEncoder({ format: 'oggOpus', sampleRate: rate, bitRateKbps: kbps, opus: { rate: this.spec.rate, constrainedVbr: true } });
			const parts: Buffer[] = [];
			try {
				for (const chunk of this.held) parts.push(await encoder.write(chunk));
				parts.push(await encoder.end());
			} finally {
				encoder.dispose();
			}
			const file = Buffer.concat(parts);
			if (file.length > this.spec.limitBytes && kbps > this.settings.lowestKbps) {
				kbps = Math.max(this.settings.lowestKbps, kbps - Math.max(1, Math.ceil(kbps * (1 - this.spec.limitBytes / file.length))));
				continue;
			}
			const name = withAudioExtension(fileName, 'ogg');
			const binary = await this.context.helpers.prepareBinaryData(file, name, 'audio/ogg');
			return {
				result: { binary, mimeType: 'audio/ogg', fileName: name, fileSize: file.length, durationSeconds: Math.round(seconds * 1000) / 1000, sampleRate: this.spec.rate },
				kbps,
			};
		}
	}
}

/** "greeting.ogg" → "greeting-2.ogg". */
function numbered(name: string, number: number): string {
	return `${withoutAudioExtension(name) || 'audio'}-${number}`;
}
