import type { IBinaryData, IExecuteFunctions, INode } from 'n8n-workflow';

import {
	confirmMpegFrames,
	mpegFrameLength,
	downmixToMono,
	isRawPcmMimeType,
	parseWav,
	rawPcmFormat,
	rawPcmToWav,
	readAudioAnswer,
	sniffFormat,
	wavDurationSeconds,
	wrapPcmAsWav,
} from '../../nodes/shared/audio';
import { readAudioInput } from '../../nodes/shared/binary';

/** Parses a canonical 44-byte WAV header back, independently of the writer. */
function readHeader(wav: Buffer) {
	return {
		riff: wav.toString('latin1', 0, 4),
		riffSize: wav.readUInt32LE(4),
		wave: wav.toString('latin1', 8, 12),
		fmt: wav.toString('latin1', 12, 16),
		fmtSize: wav.readUInt32LE(16),
		audioFormat: wav.readUInt16LE(20),
		channels: wav.readUInt16LE(22),
		sampleRate: wav.readUInt32LE(24),
		byteRate: wav.readUInt32LE(28),
		blockAlign: wav.readUInt16LE(32),
		bitsPerSample: wav.readUInt16LE(34),
		dataTag: wav.toString('latin1', 36, 40),
		dataSize: wav.readUInt32LE(40),
		data: wav.subarray(44),
	};
}

describe('wrapPcmAsWav', () => {
	it('writes a header whose sizes, rate, channels and bits read back', () => {
		const pcm = Buffer.alloc(48000 * 2);
		for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(Math.round(Math.sin(i / 10) * 8000), i * 2);
		const wav = wrapPcmAsWav(pcm);
		const header = readHeader(wav);
		expect(header).toMatchObject({
			riff: 'RIFF',
			riffSize: wav.length - 8,
			wave: 'WAVE',
			fmt: 'fmt ',
			fmtSize: 16,
			audioFormat: 1,
			channels: 1,
			sampleRate: 24000,
			byteRate: 48000,
			blockAlign: 2,
			bitsPerSample: 16,
			dataTag: 'data',
			dataSize: pcm.length,
		});
		expect(header.data.equals(pcm)).toBe(true);
	});

	it('drops a trailing half sample so frames stay aligned', () => {
		const wav = wrapPcmAsWav(Buffer.from([1, 2, 3, 4, 5]));
		expect(readHeader(wav).dataSize).toBe(4);
		expect(wav.length).toBe(48);
	});

	it('honours another format', () => {
		const header = readHeader(wrapPcmAsWav(Buffer.alloc(16), { sampleRate: 16000, channels: 2, bitsPerSample: 16 }));
		expect([header.sampleRate, header.channels, header.blockAlign, header.byteRate]).toEqual([16000, 2, 4, 64000]);
	});
});

describe('sniffFormat', () => {
	const cases: Array<[string, Buffer, string | undefined, boolean | undefined]> = [
		['wav', wrapPcmAsWav(Buffer.alloc(8)), 'wav', true],
		['mp3 with ID3', Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1'), 'mp3', true],
		['mp3 frame', Buffer.from([0xff, 0xfb, 0x90, 0x64]), 'mp3', true],
		['aac adts', Buffer.from([0xff, 0xf1, 0x50, 0x80]), 'aac', true],
		['ogg', Buffer.from('OggS\x00\x02', 'latin1'), 'ogg', true],
		['flac', Buffer.from('fLaC\x00\x00', 'latin1'), 'flac', true],
		['m4a', Buffer.from('\x00\x00\x00\x20ftypM4A ', 'latin1'), 'm4a', true],
		['webm', Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f]), 'webm', true],
		['png', Buffer.from('\x89PNG\r\n\x1a\n\x00', 'latin1'), 'png', false],
		['jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0]), 'jpeg', false],
		['pdf', Buffer.from('%PDF-1.7', 'latin1'), 'pdf', false],
		['text', Buffer.from('hello world, not audio'), 'text', false],
		['json error page', Buffer.from('{"statusCode":403,"message":"Forbidden"}'), 'text', false],
		['arabic text cut mid-character', Buffer.from('مرحبا بكم').subarray(0, 15), 'text', false],
		['heic photo', Buffer.from('\x00\x00\x00\x18ftypheic', 'latin1'), 'heic', false],
		['amr voice memo', Buffer.from('#!AMR\n\x3c\x91\x17\x16', 'latin1'), 'amr', true],
		['aiff', Buffer.from('FORM\x00\x00\x10\x00AIFF', 'latin1'), 'aiff', true],
		['pcm starting with -1 samples (FF FF: no valid MPEG header)', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x01, 0x00]), undefined, undefined],
		['silence', Buffer.alloc(16), undefined, undefined],
		['raw pcm', Buffer.from([0x10, 0x00, 0x20, 0x00]), undefined, undefined],
		['empty', Buffer.alloc(0), undefined, undefined],
	];
	it.each(cases)('%s', (_name, bytes, format, audio) => {
		const result = sniffFormat(bytes);
		expect(result?.format).toBe(format);
		expect(result?.audio).toBe(audio);
	});
	it('a bare frame sync is weak; signatures are not', () => {
		expect(sniffFormat(Buffer.from([0xff, 0xfb, 0x90, 0x64]))?.weak).toBe(true);
		expect(sniffFormat(wrapPcmAsWav(Buffer.alloc(8)))?.weak).toBeUndefined();
	});
});

describe('MPEG frames', () => {
	// MPEG-2 Layer III, 64 kbps, 24 kHz, no padding: 576 / 8 × 64000 / 24000 = 192 bytes.
	const header = Buffer.from([0xff, 0xf3, 0x84, 0xc4]);
	const frame = Buffer.concat([header, Buffer.alloc(188, 0x55)]);
	it('frame lengths from the header (MPEG-2 L3 64 kbps 24 kHz; MPEG-1 L3 128 kbps 44.1 kHz padded)', () => {
		expect(mpegFrameLength(header)).toBe(192);
		expect(mpegFrameLength(Buffer.from([0xff, 0xfb, 0x92, 0x64]))).toBe(418);
		expect(mpegFrameLength(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toBeUndefined();
	});
	it('frames that follow one another confirm an MP3; PCM that starts like a sync does not', () => {
		expect(confirmMpegFrames(Buffer.concat([frame, frame, frame, frame]))).toBe(true);
		const pcm = Buffer.concat([header, Buffer.alloc(600, 0x11)]);
		expect(confirmMpegFrames(pcm)).toBe(false);
	});
	it('readAudioAnswer: octet-stream PCM that starts FF F3 84 C4 stays PCM; real frames labelled octet-stream are MP3', () => {
		const pcm = Buffer.concat([header, Buffer.alloc(4000, 0x11)]);
		expect(readAudioAnswer(pcm, 'application/octet-stream').kind).toBe('pcm');
		const mp3 = Buffer.concat(Array.from({ length: 10 }, () => frame));
		expect(readAudioAnswer(mp3, 'application/octet-stream')).toMatchObject({ kind: 'encoded', mimeType: 'audio/mpeg', extension: 'mp3' });
		expect(() => readAudioAnswer(Buffer.from('{"message":"quota exceeded"}'), 'audio/wav')).toThrow('the answer is text/plain, not audio');
	});
});

describe('isRawPcmMimeType', () => {
	it.each([
		['audio/raw;codec=pcm16;rate=24000;channels=1', true],
		['audio/L16; rate=16000', true],
		['audio/pcm', true],
		['audio/wav', false],
		['application/octet-stream', false],
	])('%s -> %s', (mime, expected) => expect(isRawPcmMimeType(mime)).toBe(expected));
});

describe('audio/L16 (big-endian, RFC 2586) becomes a little-endian WAV', () => {
	// Samples whose two bytes differ, so a missing or doubled swap changes every one of them.
	const samples = [0, 1, -1, 0x1234, -0x1234, 32767, -32768, 0x00ff, -0x0100, 12345];
	const bigEndian = Buffer.alloc(samples.length * 2);
	samples.forEach((v, i) => bigEndian.writeInt16BE(v, i * 2));
	const readLe = (data: Buffer) => Array.from({ length: data.length / 2 }, (_, i) => data.readInt16LE(i * 2));

	it('swaps the bytes of every sample and reads rate and channels', () => {
		const before = Buffer.from(bigEndian);
		const wav = readHeader(rawPcmToWav(bigEndian, 'audio/L16; rate=8000; channels=2'));
		expect(readLe(wav.data)).toEqual(samples);
		expect({ sampleRate: wav.sampleRate, channels: wav.channels, bitsPerSample: wav.bitsPerSample }).toEqual({
			sampleRate: 8000,
			channels: 2,
			bitsPerSample: 16,
		});
		expect(bigEndian.equals(before)).toBe(true); // the input binary is not changed in place
	});

	it('keeps little-endian raw PCM as it is', () => {
		const le = Buffer.alloc(samples.length * 2);
		samples.forEach((v, i) => le.writeInt16LE(v, i * 2));
		expect(readLe(readHeader(rawPcmToWav(le, 'audio/raw;codec=pcm16;rate=24000;channels=1')).data)).toEqual(samples);
		expect(readLe(readHeader(rawPcmToWav(le, 'audio/pcm')).data)).toEqual(samples);
	});

	it('drops a trailing odd byte instead of shifting the samples', () => {
		const odd = Buffer.concat([bigEndian, Buffer.from([0x7f])]);
		expect(readLe(readHeader(rawPcmToWav(odd, 'audio/l16;rate=16000')).data)).toEqual(samples);
	});

	it.each([
		['audio/L16;rate=16000', { sampleRate: 16000, channels: 1, bitsPerSample: 16, bigEndian: true }],
		['audio/raw;codec=pcm16;rate=24000;channels=1', { sampleRate: 24000, channels: 1, bitsPerSample: 16, bigEndian: false }],
		['audio/pcm', { sampleRate: 24000, channels: 1, bitsPerSample: 16, bigEndian: false }],
	])('rawPcmFormat(%s)', (mime, expected) => expect(rawPcmFormat(mime)).toEqual(expected));

	it('an audio/L16 input binary is uploaded with its samples in WAV order', async () => {
		const node: INode = { id: '1', name: 'Faseeh Voice Clone', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
		const binary: IBinaryData = { data: bigEndian.toString('base64'), mimeType: 'audio/L16;rate=16000', fileName: 'take.l16' };
		const context = {
			getNode: () => node,
			getInputData: () => [{ json: {}, binary: { voice_file: binary } }],
			helpers: {
				assertBinaryData: () => binary,
				getBinaryDataBuffer: async () => Buffer.from(binary.data, 'base64'),
			},
		} as unknown as IExecuteFunctions;
		const spec = { field: 'voice_file', parameterLabel: 'Voice File', maxBytes: 1_000_000 };
		const input = await readAudioInput.call(context, 0, spec);
		expect(input).toMatchObject({ mimeType: 'audio/wav', fileName: 'take.wav' });
		const wav = readHeader(input.buffer as Buffer);
		expect(wav.sampleRate).toBe(16000);
		expect(readLe(wav.data)).toEqual(samples);
	});
});

describe('parseWav and wavDurationSeconds read the chunks, not a 44-byte guess', () => {
	const pcm = Buffer.alloc(16000 * 2 * 3, 1); // 3 s at 16 kHz mono
	const canonical = wrapPcmAsWav(pcm, { sampleRate: 16000, channels: 1, bitsPerSample: 16 });
	it('a canonical WAV', () => {
		expect(parseWav(canonical)).toMatchObject({ pcm: true, sampleRate: 16000, dataOffset: 44, dataLength: pcm.length });
		expect(wavDurationSeconds(canonical)).toBe(3);
	});
	it('an odd-sized chunk before fmt and data (padded to even), and a streamed size of 0', () => {
		const junk = Buffer.concat([Buffer.from('JUNK', 'latin1'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc\0', 'latin1')]);
		const wav = Buffer.concat([canonical.subarray(0, 12), junk, canonical.subarray(12)]);
		wav.writeUInt32LE(0, 12 + junk.length + 24 + 4); // data size 0, as streamed WAVs write it
		expect(parseWav(wav)).toMatchObject({ sampleRate: 16000, dataOffset: 44 + junk.length, dataLength: pcm.length });
		expect(wavDurationSeconds(wav)).toBe(3);
	});
	it('not a WAV: undefined and 0', () => {
		expect(parseWav(Buffer.from('RIFF....WEBPVP8 ', 'latin1'))).toBeUndefined();
		expect(wavDurationSeconds(Buffer.alloc(100))).toBe(0);
	});
});

describe('readAudioAnswer', () => {
	const pcm = Buffer.from([1, 0, 2, 0, 3, 0, 4]); // odd length: the last byte is half a sample
	it('headerless PCM: the rate the label names, else the one asked for, else 24 kHz; whole samples only', () => {
		expect(readAudioAnswer(pcm, 'audio/raw;rate=8000;channels=1', 16000)).toMatchObject({ kind: 'pcm', sampleRate: 8000 });
		expect(readAudioAnswer(pcm, 'audio/raw;codec=pcm16;channels=1', 16000)).toMatchObject({ kind: 'pcm', sampleRate: 16000 });
		const plain = readAudioAnswer(pcm, 'audio/wav');
		expect(plain).toMatchObject({ kind: 'pcm', sampleRate: 24000, channels: 1 });
		expect(plain.kind === 'pcm' && [...plain.pcm]).toEqual([1, 0, 2, 0, 3, 0]);
	});
	it('audio/L16 is big-endian: swapped into a copy', () => {
		const answer = readAudioAnswer(Buffer.from([0, 1, 0, 2]), 'audio/L16;rate=16000');
		expect(answer.kind === 'pcm' && [...answer.pcm]).toEqual([1, 0, 2, 0]);
	});
	it('a float WAV and an Ogg file are kept as they are, with their own type', () => {
		const float = wrapPcmAsWav(Buffer.alloc(64), { sampleRate: 24000, channels: 1, bitsPerSample: 32 });
		float.writeUInt16LE(3, 20);
		expect(readAudioAnswer(float, 'audio/raw')).toMatchObject({ kind: 'encoded', mimeType: 'audio/wav', extension: 'wav' });
		const ogg = Buffer.concat([Buffer.from('OggS', 'latin1'), Buffer.alloc(60)]);
		expect(readAudioAnswer(ogg, 'audio/wav')).toMatchObject({ kind: 'encoded', mimeType: 'audio/ogg', extension: 'ogg' });
	});
	it('an audio label on bytes with no signature is trusted', () => {
		expect(readAudioAnswer(Buffer.alloc(32, 7), 'audio/mpeg')).toMatchObject({ kind: 'encoded', mimeType: 'audio/mpeg', extension: 'mp3' });
	});
	it('bytes known not to be audio throw', () => {
		expect(() => readAudioAnswer(Buffer.from('%PDF-1.7 xxxxxxxx', 'latin1'), 'audio/wav')).toThrow('the answer is application/pdf, not audio');
	});
});

describe('downmixToMono', () => {
	it('averages the channels of each frame', () => {
		const stereo = Buffer.alloc(8);
		stereo.writeInt16LE(100, 0);
		stereo.writeInt16LE(300, 2);
		stereo.writeInt16LE(-50, 4);
		stereo.writeInt16LE(-150, 6);
		const mono = downmixToMono(stereo, 2);
		expect([mono.readInt16LE(0), mono.readInt16LE(2)]).toEqual([200, -100]);
	});
});
