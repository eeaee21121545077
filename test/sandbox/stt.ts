/**
 * Munsit speech-to-text as the public clients know it (shared/munsit-stt.md sections 1-5):
 * `POST /audio/transcribe` and `POST /audio/diarization/transcribe`, multipart in, the
 * `{statusCode, data, message}` envelope out (or a bare body, to test tolerant parsing).
 *
 * Transcripts are deterministic: audio this sandbox produced itself (speech, previews) is
 * transcribed as the text that produced it, so a voice loop can be checked end to end; any other
 * audio gets Arabic words chosen by its sha256. What the contract leaves unknown (the inner shape
 * of `turns` and `analysis`) is answered with a placeholder marked `sandbox: true`: the node must
 * pass it through without reading it.
 */
import { createHash } from 'node:crypto';
import type { Ctx, ParsedPart } from './body';
import { sniffAudio } from './audio';
import { ApiError, bad, notFound } from './errors';
import type { Reply } from './responses';
import { readForm } from './validation';

export const STT_MODELS = ['munsit', 'munsit-en-ar'] as const;
/** Accepted extensions, as LAB verified live (shared/munsit-stt.md section 5). */
export const STT_EXTENSIONS = ['aac', 'amr', 'flac', 'm4a', 'm4r', 'mp2', 'mp3', 'ogg', 'opus', 'wav', 'webm', 'wma'];
const FLAGS = ['return_timestamps', 'return_confidence', 'return_turns', 'return_gender', 'return_sentiment'] as const;
type Flag = (typeof FLAGS)[number];

/** What the sniffer's names may be called as an extension (the server picks its decoder by extension). */
const SNIFF_TO_EXTENSIONS: Record<string, string[]> = {
	wav: ['wav'],
	ogg: ['ogg', 'opus'],
	flac: ['flac'],
	mp3: ['mp3', 'mp2'],
	m4a: ['m4a', 'm4r'],
	webm: ['webm'],
	aac: ['aac'],
};

export interface SttOptions {
	/** Default true; false => the STT paths answer 404 (a host that serves only Faseeh TTS). */
	routes?: boolean;
	/** Default false; true => the answer is `data` itself, without the envelope. */
	bareBody?: boolean;
	/** HTTP status of a success; default 200 (UNIFY's fake answers 201). */
	successStatus?: number;
	/** Default true; false => answers never carry word timestamps (a model that does not give them). */
	timestamps?: boolean;
}

export interface SttWord {
	word: string;
	start: number;
	end: number;
	confidence?: number | null;
}

const WORDS = [
	'مرحبا', 'كيف', 'حالك', 'اليوم', 'أريد', 'أن', 'أحجز', 'موعدا', 'في', 'العيادة', 'صباح', 'الغد',
	'شكرا', 'لك', 'هل', 'يمكنك', 'مساعدتي', 'بخصوص', 'الطلب', 'رقم', 'الفاتورة', 'وصلت', 'متى', 'يصل',
	'الشحن', 'نعم', 'لا', 'ربما', 'الساعة', 'العاشرة', 'المساء', 'السلام',
];

/** Remembered texts are capped so a long-running sandbox (the CLI, the bench) does not grow. */
const MAX_SPOKEN = 20_000;

export class SandboxStt {
	private readonly spoken = new Map<string, string>();
	/** Uploads answered, by sha256 of the file part: what a test compares a transcript against. */
	readonly transcripts = new Map<string, string>();

	constructor(private readonly opts: SttOptions = {}) {}

	reset(): void {
		this.spoken.clear();
		this.transcripts.clear();
	}

	/** Audio this sandbox produced from `text` (its sha256): transcribing it gives `text` back. */
	remember(sha256Hex: string, text: string): void {
		if (this.spoken.size >= MAX_SPOKEN) this.spoken.delete(this.spoken.keys().next().value as string);
		this.spoken.set(sha256Hex, text);
	}

	/** The transcript the sandbox gives this audio (by sha256 and size). */
	transcriptFor(sha256Hex: string): string {
		return this.spoken.get(sha256Hex) ?? wordsFromHash(sha256Hex, 3 + (parseInt(sha256Hex.slice(0, 2), 16) % 10)).join(' ');
	}

	handles(sub: string): boolean {
		return sub === '/audio/transcribe' || sub === '/audio/diarization/transcribe';
	}

	route(method: string, sub: string, ctx: Ctx): Reply {
		if (this.opts.routes === false || method !== 'POST') throw notFound();
		return sub === '/audio/transcribe' ? this.transcribe(ctx) : this.diarize(ctx);
	}

	/** POST /audio/transcribe. */
	private transcribe(ctx: Ctx): Reply {
		const spec = { model: 'optional-text', hotwords: 'optional-text', file: 'file' } as const;
		const form = readForm(ctx, { ...spec, ...Object.fromEntries(FLAGS.map((f) => [f, 'optional-text'])) }, true);
		const model = checkSttModel(form.texts.get('model'));
		const flags = {} as Record<Flag, boolean>;
		for (const flag of FLAGS) {
			const value = form.texts.get(flag);
			if (value !== undefined && value !== 'true' && value !== 'false') throw bad(`${flag} must be "true" or "false"`);
			// return_timestamps defaults on for munsit, off for munsit-en-ar (LAB); the rest default off.
			flags[flag] = value === undefined ? flag === 'return_timestamps' && model === 'munsit' : value === 'true';
		}
		const hotwords = form.texts.get('hotwords');
		if (hotwords !== undefined) {
			if (model === 'munsit-en-ar') throw bad('hotwords is not supported with munsit-en-ar');
			const entries = hotwords.split(',');
			if (entries.some((entry) => entry.trim() === '')) throw bad('hotwords must be a comma-separated list without empty entries');
			if (entries.length > 200 || entries.some((entry) => entry.trim().length > 40)) {
				throw bad('hotwords takes at most 200 entries of at most 40 characters');
			}
		}
		const upload = this.readUpload(form.files.get('file'));

		const data: Record<string, unknown> = {
			transcriptionId: upload.id,
			transcription: upload.text,
			duration: upload.duration,
		};
		if (flags.return_timestamps && this.opts.timestamps !== false) {
			data.timestamps = upload.words.map((w) => {
				const word: SttWord = { word: w.word, start: w.start, end: w.end };
				if (flags.return_confidence) word.confidence = w.confidence;
				return word;
			});
		}
		if (flags.return_turns) {
			data.turns = turnsOf(upload.words).map((turn) => ({ ...turn, sandbox: true }));
		}
		if (flags.return_gender || flags.return_sentiment) {
			const analysis: Record<string, unknown> = { sandbox: true };
			if (flags.return_gender) analysis.gender = { label: 'male', score: 0.9 };
			if (flags.return_sentiment) analysis.sentiment = { label: 'neutral', score: 0.8 };
			data.analysis = analysis;
		}
		data.stats = upload.stats;
		data.audioUrl = `https://storage.sandbox.invalid/audio/${upload.id}`;
		return this.answer(data);
	}

	/** POST /audio/diarization/transcribe: only `file` and `model` are documented. */
	private diarize(ctx: Ctx): Reply {
		const form = readForm(ctx, { model: 'optional-text', file: 'file' }, true);
		checkSttModel(form.texts.get('model'));
		const upload = this.readUpload(form.files.get('file'));
		const turns = turnsOf(upload.words);
		const merged = turns.map(({ start, end, speaker, text }) => ({ start, end, speaker, text }));
		// No ordering guarantee (LAB sorts): the sandbox swaps the last two segments.
		if (merged.length > 2) merged.push(...merged.splice(merged.length - 2, 1));
		const data = {
			transcriptionId: upload.id,
			transcription: {
				transcription: upload.text,
				...(this.opts.timestamps === false ? {} : { timestamps: upload.words.map(({ word, start, end }) => ({ word, start, end })) }),
			},
			diarization: { segments: merged.map(({ start, end, speaker }) => ({ start, end, speaker })) },
			merged,
			duration: upload.duration,
			originalTranscript: upload.text,
			audioUrl: `https://storage.sandbox.invalid/audio/${upload.id}`,
			stats: upload.stats,
		};
		return this.answer(data);
	}

	private answer(data: Record<string, unknown>): Reply {
		const status = this.opts.successStatus ?? 200;
		const body = this.opts.bareBody ? data : { statusCode: status, data, message: 'Success' };
		return { kind: 'json', status, body };
	}

	/** Checks the file part and works out its transcript, duration and words. */
	private readUpload(part: ParsedPart | undefined) {
		if (part === undefined || part.filename === undefined || part.filename === '') throw bad('Invalid request');
		const extension = /\.([A-Za-z0-9]+)$/.exec(part.filename)?.[1]?.toLowerCase();
		if (extension === undefined || !STT_EXTENSIONS.includes(extension)) {
			throw bad(
				`Unsupported audio format "${extension ? `.${extension}` : part.filename}". Supported formats: ${STT_EXTENSIONS.map((e) => `.${e}`).join(', ')}`,
			);
		}
		const contentType = (part.contentType ?? '').toLowerCase();
		if (!contentType.startsWith('audio/') && !contentType.startsWith('video/webm')) {
			throw new ApiError(415, 41501, `Unsupported media type "${part.contentType ?? 'none'}": the file must be of audio type`);
		}
		if (part.data.length === 0) throw bad('Invalid request');
		const sniffed = sniffAudio(part.data);
		const duration = durationOf(part.data, sniffed);
		// The server decodes by extension: bytes of another format give an empty transcript (BUDDY).
		const matches = sniffed !== undefined && (SNIFF_TO_EXTENSIONS[sniffed] ?? []).includes(extension);
		const text = matches ? this.transcriptFor(part.sha256) : '';
		if (matches) this.transcripts.set(part.sha256, text);
		const words = timed(text, duration, part.sha256, sniffed === 'wav' ? voicedRegions(part.data) : undefined);
		return {
			id: `tr-${part.sha256.slice(0, 24)}`,
			text,
			duration,
			words,
			stats: {
				fileName: part.filename,
				fileSize: `${(part.data.length / (1024 * 1024)).toFixed(2)} MB`,
				mimeType: part.contentType,
				creditsConsumed: Math.max(1, Math.ceil(duration * 1.5)),
			},
		};
	}
}

function checkSttModel(model: string | undefined): string {
	if (model === undefined) return 'munsit';
	// The real API silently accepts any model (CNTXT); the sandbox refuses, so a wrong one is caught.
	if (!(STT_MODELS as readonly string[]).includes(model)) throw bad(`Model not found: ${model}`);
	return model;
}

/** Seconds of audio: exact for PCM WAV, an estimate at 128 kbps for compressed formats. */
function durationOf(data: Buffer, sniffed: string | undefined): number {
	if (sniffed === 'wav' && data.length >= 44) {
		const byteRate = data.readUInt32LE(28);
		if (byteRate > 0) return round2((data.length - 44) / byteRate);
	}
	return round2(Math.max(0.1, data.length / 16000));
}

function round2(value: number): number {
	return Math.round(value * 100) / 100;
}

function wordsFromHash(sha256Hex: string, count: number): string[] {
	const out: string[] = [];
	let digest: Buffer = Buffer.from(sha256Hex, 'hex');
	for (let i = 0; out.length < count; i++) {
		if (i >= digest.length) {
			digest = createHash('sha256').update(digest).digest();
			i = 0;
		}
		out.push(WORDS[digest[i] % WORDS.length]);
	}
	return out;
}

/**
 * The transcript's words spread evenly over where the audio is heard (the voiced regions of a PCM
 * WAV, else the whole duration), in seconds to the hundredth, with a confidence from the hash: a
 * word never lies in a pause, as with a real recogniser.
 */
function timed(text: string, duration: number, sha256Hex: string, regions: Array<[number, number]> = [[0, duration]]): Required<SttWord>[] {
	const words = text.split(/\s+/u).filter((w) => w !== '');
	const spans = regions.length > 0 ? regions : [[0, duration] as [number, number]];
	const total = spans.reduce((sum, [start, end]) => sum + (end - start), 0);
	const digest = Buffer.from(sha256Hex, 'hex');
	const step = words.length > 0 ? total / words.length : 0;
	/** The time `offset` seconds into the heard audio, and the end of its region. */
	const at = (offset: number): [number, number] => {
		let left = offset;
		for (const [start, end] of spans) {
			if (left <= end - start + 1e-9) return [start + left, end];
			left -= end - start;
		}
		const last = spans[spans.length - 1];
		return [last[1], last[1]];
	};
	return words.map((word, i) => {
		const [start, regionEnd] = at(i * step + 1e-9 * (i > 0 ? 1 : 0));
		const end = Math.min(start + step, regionEnd);
		return { word, start: round2(start), end: round2(Math.max(end, start)), confidence: round2(0.7 + (digest[i % digest.length] % 30) / 100) };
	});
}

/** Where a 16-bit PCM WAV is heard: 10 ms windows above −50 dBFS, joined across gaps under 200 ms. */
function voicedRegions(wav: Buffer): Array<[number, number]> | undefined {
	if (wav.length < 44 || wav.readUInt16LE(20) !== 1 || wav.readUInt16LE(34) !== 16) return undefined;
	let offset = 12;
	let rate = 0;
	let channels = 1;
	while (offset + 8 <= wav.length) {
		const id = wav.toString('latin1', offset, offset + 4);
		const size = wav.readUInt32LE(offset + 4);
		if (id === 'fmt ') {
			channels = wav.readUInt16LE(offset + 10);
			rate = wav.readUInt32LE(offset + 12);
		}
		if (id === 'data' && rate > 0) {
			const data = wav.subarray(offset + 8, Math.min(wav.length, offset + 8 + size));
			const frame = 2 * channels;
			const window = Math.max(1, Math.round(rate / 100));
			const regions: Array<[number, number]> = [];
			const frames = Math.floor(data.length / frame);
			for (let w = 0; w * window < frames; w++) {
				let sum = 0;
				const end = Math.min(frames, (w + 1) * window);
				for (let i = w * window; i < end; i++) sum += (data.readInt16LE(i * frame) / 32768) ** 2;
				if (sum / (end - w * window) < 1e-5) continue;
				const [from, to] = [(w * window) / rate, end / rate];
				const last = regions[regions.length - 1];
				if (last && from - last[1] < 0.2) last[1] = to;
				else regions.push([from, to]);
			}
			return regions;
		}
		offset += 8 + size + (size % 2);
	}
	return undefined;
}

/** Turns of up to 6 words, the speakers alternating (SPEAKER_00, SPEAKER_01). */
function turnsOf(words: Required<SttWord>[]): Array<{ start: number; end: number; speaker: string; text: string }> {
	const turns = [];
	for (let i = 0, n = 0; i < words.length; i += 6, n++) {
		const group = words.slice(i, i + 6);
		turns.push({
			start: group[0].start,
			end: group[group.length - 1].end,
			speaker: `SPEAKER_0${n % 2}`,
			text: group.map((w) => w.word).join(' '),
		});
	}
	return turns;
}
