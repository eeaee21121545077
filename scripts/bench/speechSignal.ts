/** The benchmark's speech-like input signal (shared by the encoding children). */

export const SPEECH_RATE = 24000;
const RATE = SPEECH_RATE;
const BLOCK_SECONDS = 60;

/**
 * 60 s of speech-like PCM, fed in a loop: voiced stretches with a gliding pitch (90–220 Hz) and
 * six harmonics shaped like formants, ~4 syllables a second, pauses, and a little noise for the
 * unvoiced parts. Deterministic (a fixed-seed generator).
 */
export function speechLikeBlock(): Buffer {
	const n = RATE * BLOCK_SECONDS;
	const out = Buffer.alloc(n * 2);
	let seed = 12345;
	const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 0x100000000) * 2 - 1;
	let phase = 0;
	for (let i = 0; i < n; i++) {
		const t = i / RATE;
		const pitch = 150 + 60 * Math.sin(2 * Math.PI * 0.3 * t) + 20 * Math.sin(2 * Math.PI * 2.1 * t);
		phase += (2 * Math.PI * pitch) / RATE;
		const syllable = Math.max(0, Math.sin(2 * Math.PI * 4 * t)) ** 0.7;
		const phrase = (t % 6) < 5.2 ? 1 : 0; // a pause every 6 s
		let voiced = 0;
		for (let h = 1; h <= 6; h++) voiced += Math.sin(h * phase) * [1, 0.7, 0.5, 0.35, 0.2, 0.1][h - 1] * (1 + 0.5 * Math.sin(2 * Math.PI * 1.3 * t * h));
		const sample = phrase * (syllable * 0.18 * voiced + 0.02 * random() * (1 - syllable));
		out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(sample * 32767))), i * 2);
	}
	return out;
}
