/**
 * Synthetic but valid audio for the sandbox and its tests: no fixtures on disk, no network.
 */

/** A sine tone as headerless PCM 16-bit signed little-endian, mono. */
export function makePcm16(durationSeconds: number, sampleRate = 24000, frequencyHz = 220): Buffer {
	if (!Number.isFinite(durationSeconds) || durationSeconds < 0) {
		throw new RangeError('durationSeconds must be a finite number >= 0');
	}
	if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
		throw new RangeError('sampleRate must be a positive integer');
	}
	const samples = Math.round(durationSeconds * sampleRate);
	// Sample i depends only on i, the rate and the frequency: the longest tone made so far for that
	// pair is kept and its start copied (speech of many pieces in one voice was most of a test's CPU).
	const key = `${sampleRate}/${frequencyHz}`;
	let tone = toneCache.get(key);
	if (!tone || tone.length < samples * 2) {
		tone = Buffer.alloc(samples * 2);
		// 30% of full scale: clearly audible, never clipping.
		const amplitude = 0.3 * 32767;
		const view = new Int16Array(tone.buffer, tone.byteOffset, samples);
		for (let i = 0; i < samples; i++) view[i] = Math.round(amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / sampleRate));
		if (toneCache.size > 64) toneCache.clear();
		toneCache.set(key, tone);
	}
	return Buffer.from(tone.subarray(0, samples * 2));
}

const toneCache = new Map<string, Buffer>();

/**
 * Wraps PCM in the canonical 44-byte RIFF/WAVE header (format 1 = PCM).
 * A trailing partial frame is dropped: the data size must be a whole number of frames
 * (and even, as RIFF requires), otherwise readers would misalign every later sample.
 */
export function wrapWav(pcm: Buffer, sampleRate = 24000, channels = 1, bits = 16): Buffer {
	const blockAlign = (channels * bits) / 8;
	if (!Number.isInteger(blockAlign) || blockAlign <= 0) {
		throw new RangeError('channels * bits must be a positive multiple of 8');
	}
	const dataSize = pcm.length - (pcm.length % blockAlign);
	const header = Buffer.alloc(44);
	header.write('RIFF', 0, 'ascii');
	header.writeUInt32LE(36 + dataSize, 4); // everything after this field
	header.write('WAVE', 8, 'ascii');
	header.write('fmt ', 12, 'ascii');
	header.writeUInt32LE(16, 16); // fmt chunk size for PCM
	header.writeUInt16LE(1, 20); // audio format: PCM
	header.writeUInt16LE(channels, 22);
	header.writeUInt32LE(sampleRate, 24);
	header.writeUInt32LE(sampleRate * blockAlign, 28); // byte rate
	header.writeUInt16LE(blockAlign, 32);
	header.writeUInt16LE(bits, 34);
	header.write('data', 36, 'ascii');
	header.writeUInt32LE(dataSize, 40);
	return Buffer.concat([header, pcm.subarray(0, dataSize)]);
}

/**
 * Names the audio container/codec the bytes start with, or undefined.
 * Headerless PCM has no signature, so it is (deliberately) not recognised.
 */
export function sniffAudio(buf: Buffer): string | undefined {
	const ascii = (start: number, end: number) =>
		buf.length >= end ? buf.subarray(start, end).toString('latin1') : '';
	if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WAVE') return 'wav';
	if (ascii(0, 4) === 'OggS') return 'ogg';
	if (ascii(0, 4) === 'fLaC') return 'flac';
	if (ascii(0, 3) === 'ID3') return 'mp3';
	if (ascii(4, 8) === 'ftyp') return 'm4a';
	if (buf.length >= 4 && buf.readUInt32BE(0) === 0x1a45dfa3) return 'webm';
	if (buf.length >= 2 && buf[0] === 0xff) {
		// ADTS first: its sync word (0xFFF0/1/8/9) also matches the looser MPEG audio mask.
		if ((buf[1] & 0xf6) === 0xf0) return 'aac';
		if ((buf[1] & 0xe0) === 0xe0) return 'mp3';
	}
	return undefined;
}
