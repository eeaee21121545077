/**
 * The documented routes and what they answer (shared/faseeh-api.md sections 2-4), with the state
 * they share: the voices cloned and the previews produced since the last reset.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { makePcm16, wrapWav } from './audio';
import type { Ctx } from './body';
import { SANDBOX_MODELS, STOCK_VOICES, sha256, synthesize, toneFor, voiceSpeech } from './catalog';
import { ApiError, bad, notFound } from './errors';
import type { Reply } from './responses';
import { SandboxStt, type SttOptions } from './stt';
import { PCM_CONTENT_TYPE, type Voice } from './types';
import {
	checkAudioFile,
	checkModel,
	checkPreviewText,
	decodeSegment,
	isHttpUrl,
	mediaType,
	parseDecimal,
	readForm,
} from './validation';

interface PreviewMemory {
	text: string;
	modelId: string;
}

export class SandboxApi {
	/** Set once the server listens; sample URLs are built from it. */
	baseUrl = '';
	private cloned: Voice[] = [];
	private readonly previews = new Map<string, PreviewMemory>();
	readonly stt: SandboxStt;

	constructor(
		private readonly opts: {
			voicesRoute?: boolean;
			textFieldsFirst?: boolean;
			streamingSampleRate?: 'fixed' | 'named' | 'unnamed' | 'ignoredUnnamed';
			ttsTextMinimum?: boolean;
			stt?: SttOptions;
		},
	) {
		this.stt = new SandboxStt(opts.stt);
	}

	reset(): void {
		this.cloned = [];
		this.previews.clear();
		this.stt.reset();
	}

	/** The preview this sandbox produced whose PCM, or PCM wrapped as WAV, has this sha256. */
	knownPreview(sha256Hex: string): PreviewMemory | undefined {
		const memory = this.previews.get(sha256Hex);
		return memory ? { ...memory } : undefined;
	}

	voices(): Voice[] {
		return [...STOCK_VOICES.map((v) => ({ ...v, sample_url: this.sampleUrl(v.voice_id) })), ...this.cloned];
	}

	/** Answers an admitted request; throws ApiError for validation and routing failures. */
	route(method: string, sub: string, ctx: Ctx): Reply {
		if (sub === '/models' && method === 'GET') return { kind: 'json', status: 200, body: SANDBOX_MODELS };
		if (sub === '/voices' && method === 'GET') {
			if (this.opts.voicesRoute === false) throw notFound();
			return { kind: 'json', status: 200, body: this.voices() };
		}
		if (sub === '/voices/preview' && method === 'POST') return this.preview(ctx);
		if (sub === '/voices/clone' && method === 'POST') return this.clone(ctx);
		const tts = /^\/text-to-speech\/([^/]+)$/.exec(sub);
		if (tts && method === 'POST') return this.textToSpeech(decodeSegment(tts[1]), ctx);
		if (this.stt.handles(sub)) return this.stt.route(method, sub, ctx);
		const sample = /^\/samples\/([^/]+)\.wav$/.exec(sub);
		if (sample && method === 'GET') return this.sample(decodeSegment(sample[1]));
		throw notFound();
	}

	/** POST /voices/preview: multipart in, chunked headerless PCM out. */
	private preview(ctx: Ctx): Reply {
		const form = readForm(ctx, {
			text: 'text',
			similarity: 'text',
			model_id: 'text',
			speed: 'optional-text',
			file: 'file',
		}, this.opts.textFieldsFirst ?? true);
		const text = form.texts.get('text') ?? '';
		checkPreviewText(text);
		const similarity = parseDecimal(form.texts.get('similarity') ?? '');
		if (similarity === undefined || similarity < 0 || similarity > 1) {
			throw bad('similarity must be a number between 0 and 1');
		}
		const modelId = form.texts.get('model_id') ?? '';
		if (modelId.trim() === '') throw bad('model_id is required');
		checkModel(modelId);
		const speedText = form.texts.get('speed');
		if (speedText !== undefined) {
			const speed = parseDecimal(speedText);
			if (speed === undefined || speed < 0.7 || speed > 1.2) throw bad('speed must be a number between 0.7 and 1.2');
		}
		checkAudioFile('file', form.files.get('file'));

		const pcm = synthesize(`preview\n${modelId}\n${text}`, text, 24000);
		// Remember both forms: the clone call may upload the PCM as returned or wrapped as WAV.
		const memory = { text, modelId };
		this.previews.set(sha256(pcm), memory);
		this.previews.set(sha256(wrapWav(pcm)), memory);
		this.rememberSpoken(pcm, 24000, text);
		return { kind: 'audio', contentType: PCM_CONTENT_TYPE, data: pcm, chunked: true };
	}

	/** POST /voices/clone: multipart in, voice JSON out. */
	private clone(ctx: Ctx): Reply {
		const form = readForm(ctx, {
			voice_file: 'file',
			reference_audio_file: 'file',
			text: 'text',
			stability: 'text',
			name: 'text',
			model: 'text',
			description: 'optional-text',
			gender: 'optional-text',
			age: 'optional-text',
			languages: 'optional-text',
			dialects: 'optional-text',
			avatar_url: 'optional-text',
		}, this.opts.textFieldsFirst ?? true);
		const text = form.texts.get('text') ?? '';
		if (text.trim() === '') throw bad('text is required');
		const stability = parseDecimal(form.texts.get('stability') ?? '');
		if (stability === undefined || stability < 0 || stability > 1) {
			throw bad('stability must be a number between 0 and 1');
		}
		const name = form.texts.get('name') ?? '';
		if (name.trim() === '') throw bad('name is required');
		const model = form.texts.get('model') ?? '';
		if (model.trim() === '') throw bad('model is required');
		checkModel(model);

		// Optional fields: an empty value is almost always a client sending an unset field.
		for (const key of ['description', 'gender', 'age', 'languages', 'dialects', 'avatar_url']) {
			const value = form.texts.get(key);
			if (value !== undefined && value.trim() === '') throw bad(`${key} must not be empty (omit the field instead)`);
		}
		const list = (key: 'languages' | 'dialects'): string[] => {
			const value = form.texts.get(key);
			if (value === undefined) return [];
			if (!/^[^,\s]+(,[^,\s]+)*$/.test(value)) {
				throw bad(`${key} must be a comma-separated list without spaces or empty entries`);
			}
			return value.split(',');
		};
		const languages = list('languages');
		const dialect = list('dialects');
		const avatarUrl = form.texts.get('avatar_url');
		if (avatarUrl !== undefined && !isHttpUrl(avatarUrl)) throw bad('avatar_url must be an http(s) URL');

		const voiceFile = checkAudioFile('voice_file', form.files.get('voice_file'));
		checkAudioFile('reference_audio_file', form.files.get('reference_audio_file'));
		const preview = this.previews.get(voiceFile.sha256);
		if (preview && preview.text !== text) throw bad('text must match the text used for the preview');

		const voiceId = `cl-${randomAlphanumeric(20)}`;
		const voice: Voice = {
			id: randomUUID(),
			voice_id: voiceId,
			name,
			description: form.texts.get('description') ?? null,
			gender: form.texts.get('gender') ?? null,
			age: form.texts.get('age') ?? null,
			languages,
			dialect,
			type: 'cloned',
			sample_url: this.sampleUrl(voiceId),
			avatar_url: avatarUrl ?? null,
			stability,
		};
		this.cloned.push(voice);
		return { kind: 'json', status: 200, body: voice };
	}

	/** POST /text-to-speech/:model_id: JSON in, WAV or chunked PCM out. */
	private textToSpeech(modelId: string, ctx: Ctx): Reply {
		const media = mediaType(ctx.req.headers['content-type']);
		if (media !== 'application/json') throw bad('Content-Type must be application/json');
		if (ctx.parseError !== undefined) throw bad('Invalid JSON body');
		const body = ctx.json;
		if (typeof body !== 'object' || body === null || Array.isArray(body)) {
			throw bad('Request body must be a JSON object');
		}
		const input = body as Record<string, unknown>;
		const allowed = ['voice_id', 'text', 'stability', 'streaming', 'speed', 'sample_rate', 'dialect'];
		for (const key of Object.keys(input)) {
			if (!allowed.includes(key)) throw bad(`Unknown field: ${key}`);
		}
		for (const key of ['voice_id', 'text', 'stability', 'streaming']) {
			if (!(key in input)) throw bad(`${key} is required`);
		}
		const { voice_id: voiceId, text, stability, streaming, speed, sample_rate: sampleRate, dialect } = input;
		if (typeof voiceId !== 'string' || voiceId === '') throw bad('voice_id must be a non-empty string');
		if (typeof text !== 'string' || text.trim() === '') throw bad('text must be a non-empty string');
		if (this.opts.ttsTextMinimum) checkPreviewText(text.replace(/<break\b[^>]*\/>/giu, ' '));
		if (typeof stability !== 'number' || !(stability >= 0 && stability <= 1)) {
			throw bad('stability must be a number between 0 and 1');
		}
		if (typeof streaming !== 'boolean') throw bad('streaming must be a boolean');
		if (speed !== undefined && (typeof speed !== 'number' || !(speed >= 0.7 && speed <= 1.2))) {
			throw bad('speed must be a number between 0.7 and 1.2');
		}
		if (
			sampleRate !== undefined &&
			(typeof sampleRate !== 'number' || !Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000)
		) {
			throw bad('sample_rate must be an integer between 8000 and 48000');
		}
		if (dialect !== undefined && (typeof dialect !== 'string' || !['auto', 'emirati', 'fusha'].includes(dialect))) {
			throw bad('dialect must be one of auto, emirati, fusha');
		}
		checkModel(modelId);
		if (!this.voices().some((v) => v.voice_id === voiceId)) {
			throw new ApiError(404, 40401, `Voice not found: ${voiceId}`);
		}

		const seed = `tts\n${modelId}\n${voiceId}\n${text}`;
		if (streaming) {
			// The documented streaming content type fixes 24 kHz; whether sample_rate changes it is unknown.
			const mode = this.opts.streamingSampleRate ?? 'fixed';
			const streamRate = mode === 'fixed' || mode === 'ignoredUnnamed' || typeof sampleRate !== 'number' ? 24000 : sampleRate;
			const pcm = voiceSpeech(seed, voiceId, text, streamRate);
			this.rememberSpoken(pcm, streamRate, text);
			const contentType =
				streamRate === 24000 && mode === 'fixed'
					? PCM_CONTENT_TYPE
					: mode === 'unnamed' || mode === 'ignoredUnnamed'
						? 'audio/raw;codec=pcm16;channels=1'
						: `audio/raw;codec=pcm16;rate=${streamRate};channels=1`;
			return { kind: 'audio', contentType, data: pcm, chunked: true };
		}
		const rate = typeof sampleRate === 'number' ? sampleRate : 24000;
		const pcm = voiceSpeech(seed, voiceId, text, rate);
		const wav = wrapWav(pcm, rate);
		this.rememberSpoken(pcm, rate, text, wav);
		return { kind: 'audio', contentType: 'audio/wav', data: wav, chunked: false };
	}

	/** GET /samples/:voice_id.wav (no auth): a short WAV for any known voice. */
	private sample(voiceId: string): Reply {
		if (!this.voices().some((v) => v.voice_id === voiceId)) throw notFound(`Voice not found: ${voiceId}`);
		const pcm = makePcm16(0.25, 24000, toneFor(`sample\n${voiceId}`));
		return { kind: 'audio', contentType: 'audio/wav', data: wrapWav(pcm), chunked: false };
	}

	/**
	 * Speech this sandbox produced: transcribing it, as returned or wrapped in a WAV header, gives
	 * the text back (tags such as <break/> left out, as a listener would not hear them).
	 */
	private rememberSpoken(pcm: Buffer, rate: number, text: string, wav = wrapWav(pcm, rate)): void {
		const spoken = text.replace(/<[^>]*>/g, ' ').replace(/\s+/gu, ' ').trim();
		this.stt.remember(sha256(pcm), spoken);
		this.stt.remember(sha256(wav), spoken);
	}

	private sampleUrl(voiceId: string): string {
		return `${this.baseUrl}/samples/${encodeURIComponent(voiceId)}.wav`;
	}
}

function randomAlphanumeric(length: number): string {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
	let out = '';
	for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
	return out;
}
