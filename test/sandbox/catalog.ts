/**
 * What the sandbox serves: the stock models and voices (stable ids across runs and instances)
 * and deterministic synthetic speech, so different inputs give different bytes.
 */
import { createHash } from 'node:crypto';
import { makePcm16 } from './audio';
import type { Model, Voice } from './types';

/** A deterministic UUID (v4 layout) so stock ids are stable across runs and instances. */
export function stableUuid(seed: string): string {
	const h = createHash('sha256').update(seed).digest('hex');
	const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function sha256(data: Buffer): string {
	return createHash('sha256').update(data).digest('hex');
}

export const SANDBOX_MODELS: readonly Model[] = [
	{
		id: stableUuid('model:faseeh-v1-preview'),
		model_id: 'faseeh-v1-preview',
		model_name: 'Faseeh V1 Preview',
		cost: 0.0001,
		description: 'Full-quality Arabic text-to-speech model (sandbox).',
	},
	{
		id: stableUuid('model:faseeh-mini-v1-preview'),
		model_id: 'faseeh-mini-v1-preview',
		model_name: 'Faseeh Mini V1 Preview',
		cost: 0.00005,
		description: 'Faster, lighter Arabic text-to-speech model (sandbox).',
	},
	// Not in the nodes' built-in fallback list: a dropdown showing it was loaded from GET /models.
	{
		id: stableUuid('model:faseeh-sandbox-only-v0'),
		model_id: 'faseeh-sandbox-only-v0',
		model_name: 'Faseeh Sandbox-Only V0',
		cost: 0.00002,
		description: 'A model only the sandbox lists, unknown to the built-in fallback (sandbox).',
	},
];

export type StockVoice = Omit<Voice, 'sample_url'>;

function stock(voiceId: string, name: string, gender: string, dialect: string): StockVoice {
	return {
		id: stableUuid(`voice:${voiceId}`),
		voice_id: voiceId,
		name,
		description: `${name} (${dialect} ${gender}, sandbox stock voice)`,
		gender,
		age: 'middle',
		languages: ['ar'],
		dialect: [dialect],
		type: 'neural',
		avatar_url: null,
		stability: 0.5,
	};
}

export const STOCK_VOICES: readonly StockVoice[] = [
	stock('ar-najdi-male-2', 'Fahad', 'male', 'najdi'),
	stock('ar-hijazi-female-2', 'Hijazi Female 2', 'female', 'hijazi'),
	stock('ar-uae-male-1', 'Emirati Male 1', 'male', 'emirati'),
	stock('ar-hijazi-female-1', 'Lama', 'female', 'hijazi'),
];

/** A tone between 150 and 900 Hz chosen by the seed, so different inputs give different bytes. */
export function toneFor(seed: string): number {
	const h = createHash('sha256').update(seed).digest();
	return 150 + (h.readUInt32BE(0) % 75000) / 100;
}

/** Deterministic speech stand-in: 0.3 s + 0.02 s per code point of text, at most 5 s. */
export function synthesize(seed: string, text: string, sampleRate: number): Buffer {
	const seconds = Math.min(0.3 + 0.02 * Array.from(text).length, 5);
	return makePcm16(seconds, sampleRate, toneFor(seed));
}

/**
 * How a stock voice's speech differs from the plain tone, so voices come out at different levels
 * (the loudness tests): a gain, and short loud bursts (4 ms of a 2.5 kHz tone, faded in and out, every
 * 150 ms) that give the speech the high peaks real consonants have. Voices not listed are the plain tone.
 */
export const VOICE_LEVELS: Readonly<Record<string, { gain: number; bursts?: number }>> = {
	// About 20 dB quieter than the others.
	'ar-hijazi-female-2': { gain: 0.1 },
	// Quiet tone (about 11 dB below the plain one), bursts near full scale: peaks 20 dB above its loudness.
	'ar-uae-male-1': { gain: 0.27, bursts: 0.95 },
};

/** The sandbox's speech of `text` in `voiceId` (what POST /text-to-speech answers, as PCM). */
export function voiceSpeech(seed: string, voiceId: string, text: string, sampleRate: number): Buffer {
	const pcm = synthesize(seed, text, sampleRate);
	const level = VOICE_LEVELS[voiceId];
	if (!level) return pcm;
	const samples = pcm.length / 2;
	for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.round(pcm.readInt16LE(i * 2) * level.gain), i * 2);
	if (level.bursts !== undefined) {
		const every = Math.round(0.15 * sampleRate);
		const length = Math.max(4, Math.round(0.004 * sampleRate));
		const frequency = Math.min(2500, sampleRate / 4);
		for (let start = Math.round(0.05 * sampleRate); start + length <= samples; start += every) {
			for (let i = 0; i < length; i++) {
				const envelope = 0.5 * (1 - Math.cos((2 * Math.PI * i) / (length - 1)));
				const value = level.bursts * 32767 * envelope * Math.sin((2 * Math.PI * frequency * i) / sampleRate);
				pcm.writeInt16LE(Math.round(value), (start + i) * 2);
			}
		}
	}
	return pcm;
}
