/** Tests of the synthetic audio helpers (PCM tones, WAV wrapping, format sniffing). */
import { makePcm16, sniffAudio, wrapWav } from './audio';
import { parseWav } from './testKit';

describe('audio helpers', () => {
	test('makePcm16 produces 16-bit samples of the right count, deterministic, audible', () => {
		const pcm = makePcm16(0.5, 24000, 440);
		expect(pcm.length).toBe(24000);
		expect(makePcm16(0.5, 24000, 440).equals(pcm)).toBe(true);
		expect(makePcm16(0.5, 24000, 441).equals(pcm)).toBe(false);
		let peak = 0;
		for (let i = 0; i < pcm.length; i += 2) peak = Math.max(peak, Math.abs(pcm.readInt16LE(i)));
		expect(peak).toBeGreaterThan(9000);
		expect(peak).toBeLessThan(10000);
		expect(makePcm16(1, 8000).length).toBe(16000);
	});

	test('wrapWav writes a correct 44-byte header', () => {
		const pcm = makePcm16(0.1);
		const out = wrapWav(pcm);
		expect(out.length).toBe(44 + pcm.length);
		expect(parseWav(out)).toEqual({
			riff: 'RIFF',
			riffSize: 36 + pcm.length,
			wave: 'WAVE',
			fmt: 'fmt ',
			fmtSize: 16,
			format: 1,
			channels: 1,
			sampleRate: 24000,
			byteRate: 48000,
			blockAlign: 2,
			bits: 16,
			data: 'data',
			dataSize: pcm.length,
		});
		expect(out.subarray(44).equals(pcm)).toBe(true);
	});

	test('wrapWav handles other formats and drops a trailing partial frame', () => {
		const stereo = parseWav(wrapWav(Buffer.alloc(400), 48000, 2, 16));
		expect([stereo.channels, stereo.sampleRate, stereo.byteRate, stereo.blockAlign]).toEqual([2, 48000, 192000, 4]);
		const odd = wrapWav(Buffer.alloc(101));
		expect(parseWav(odd).dataSize).toBe(100);
		expect(odd.length).toBe(144);
	});

	test.each<[string, number[] | Buffer, string | undefined]>([
		['wav', [...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WAVE')], 'wav'],
		['mp3 id3', [...Buffer.from('ID3'), 4, 0], 'mp3'],
		['mp3 frame sync', [0xff, 0xfb, 0x90, 0x00], 'mp3'],
		['ogg', [...Buffer.from('OggS'), 0], 'ogg'],
		['flac', [...Buffer.from('fLaC'), 0], 'flac'],
		['m4a', [0, 0, 0, 0x20, ...Buffer.from('ftypM4A ')], 'm4a'],
		['webm', [0x1a, 0x45, 0xdf, 0xa3, 0x01], 'webm'],
		['aac adts fff1', [0xff, 0xf1, 0x50, 0x80], 'aac'],
		['aac adts fff9', [0xff, 0xf9, 0x50, 0x80], 'aac'],
		['png', [0x89, ...Buffer.from('PNG\r\n'), 0x1a, 0x0a], undefined],
		['jpeg', [0xff, 0xd8, 0xff, 0xe0], undefined],
		['webp', [...Buffer.from('RIFF'), 0, 0, 0, 0, ...Buffer.from('WEBP')], undefined],
		['json text', Buffer.from('{"a":1}'), undefined],
		['empty', [], undefined],
		['headerless pcm', makePcm16(0.01), undefined],
		['truncated riff', Buffer.from('RIFF'), undefined],
	])('sniffAudio: %s', (_label, bytes, expected) => {
		expect(sniffAudio(Buffer.from(bytes))).toBe(expected);
	});
});
