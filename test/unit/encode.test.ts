/**
 * The streaming encoders (nodes/shared/encode): each format's output read back by independent
 * code: mpg123 and libopus decoders from wasm-audio-decoders (another project's builds, in a child
 * process) and container parsers written from the specs in test/helpers/audio.ts.
 */
import { BIT_RATES, createEncoder, OUTPUT_FORMATS, validateBitRate, validateSampleRate } from '../../nodes/shared/encode';
import type { AudioEncoder, OutputFormat } from '../../nodes/shared/encode';
import { Resampler } from '../../nodes/shared/encode/resample';
import { bestCorrelation, decodeWithLibrary, opusPacketSamples, parseInfoTag, parseMp3Frames, parseOggPages, toneShare } from '../helpers/audio';

/** Speech-like test signal: two partials under a 4 Hz syllable envelope, as a function of time. */
const signal = (t: number) => (0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t)) * (0.35 * Math.sin(2 * Math.PI * 300 * t) + 0.15 * Math.sin(2 * Math.PI * 1250 * t));

function pcm(seconds: number, rate: number): Buffer {
	const n = Math.round(seconds * rate);
	const out = Buffer.alloc(n * 2);
	for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(signal(i / rate) * 32767), i * 2);
	return out;
}

function reference(samples: number, rate: number): Float32Array {
	const out = new Float32Array(samples);
	for (let i = 0; i < samples; i++) out[i] = signal(i / rate);
	return out;
}

/** Feeds `input` in chunks whose sizes cycle through `sizes` (odd ones included). */
async function encode(encoder: AudioEncoder, input: Buffer, sizes = [1, 3, 1001, 4096, 7777, 2]): Promise<{ output: Buffer; writes: Buffer[] }> {
	const writes: Buffer[] = [];
	let offset = 0;
	for (let k = 0; offset < input.length; k++) {
		const size = sizes[k % sizes.length];
		writes.push(await encoder.write(input.subarray(offset, offset + size)));
		offset += size;
	}
	const last = await encoder.end();
	return { output: Buffer.concat([...writes, last]), writes };
}

describe('OGG/Opus', () => {
	it('writes a valid Ogg Opus stream (RFC 7845) that libopus decodes to the input, to the sample', async () => {
		const seconds = 3.37;
		const input = pcm(seconds, 24000);
		const encoder = await createEncoder({ format: 'oggOpus', sampleRate: 24000 });
		expect([encoder.format, encoder.mimeType, encoder.extension, encoder.outputSampleRate]).toEqual(['oggOpus', 'audio/ogg', 'ogg', 24000]);
		const { output, writes } = await encode(encoder, input);
		expect(encoder.durationSeconds()).toBeCloseTo(input.length / 2 / 24000, 9);
		// Streamed: most of the file came out of write(), not end().
		expect(Buffer.concat(writes).length).toBeGreaterThan(output.length * 0.6);

		const pages = parseOggPages(output);
		for (const page of pages) expect(page.crcComputed).toBe(page.crc);
		expect(pages.map((page) => page.sequence)).toEqual(pages.map((_page, index) => index));
		expect(new Set(pages.map((page) => page.serial)).size).toBe(1);
		expect(pages.map((page) => page.flags)).toEqual([0x02, ...Array(pages.length - 2).fill(0), 0x04]);
		expect(pages.some((page) => page.continuedAtEnd)).toBe(false);

		const [head, tags, ...audio] = pages;
		expect(head.packets).toHaveLength(1);
		const id = head.packets[0];
		expect(id.toString('latin1', 0, 8)).toBe('OpusHead');
		expect({ version: id[8], channels: id[9], preSkip: id.readUInt16LE(10), inputRate: id.readUInt32LE(12), gain: id.readInt16LE(16), family: id[18], length: id.length }).toEqual({
			version: 1,
			channels: 1,
			preSkip: 312,
			inputRate: 24000,
			gain: 0,
			family: 0,
			length: 19,
		});
		expect(head.granule).toBe(BigInt(0));
		expect(tags.packets[0].toString('latin1', 0, 8)).toBe('OpusTags');
		expect(tags.granule).toBe(BigInt(0));

		// Granule positions: the 48 kHz samples of all packets so far, except the last page, which is
		// end-trimmed to pre-skip + the input's length.
		let decodedSoFar = 0;
		let previous = BigInt(0);
		for (const [index, page] of audio.entries()) {
			expect(page.packets.length).toBeGreaterThan(0);
			decodedSoFar += page.packets.reduce((sum, packet) => sum + opusPacketSamples(packet), 0);
			if (index < audio.length - 1) expect(page.granule).toBe(BigInt(decodedSoFar));
			expect(page.granule >= previous).toBe(true);
			previous = page.granule;
		}
		const input48k = Math.round(seconds * 48000);
		const last = audio[audio.length - 1];
		expect(last.granule).toBe(BigInt(312 + input48k));
		expect(decodedSoFar - Number(last.granule)).toBeGreaterThanOrEqual(0);
		expect(decodedSoFar - Number(last.granule)).toBeLessThan(opusPacketSamples(last.packets[last.packets.length - 1]));
		expect(audio.every((page) => page.packets.every((packet) => opusPacketSamples(packet) === 960))).toBe(true);

		const decoded = decodeWithLibrary('ogg', output);
		expect(decoded.errors).toEqual([]);
		expect([decoded.sampleRate, decoded.channels]).toEqual([48000, 1]);
		expect(decoded.samplesDecoded).toBe(input48k);
		// Sounds like the input, in place: pre-skip removed the encoder's delay.
		const match = bestCorrelation(decoded.samples, reference(decoded.samplesDecoded, 48000), 200, 4800);
		expect(match.r).toBeGreaterThan(0.9);
		expect(match.lag).toBeLessThan(10);
		expect(toneShare(decoded.samples, 48000, 300)).toBeGreaterThan(0.3);
	});

	it.each([
		[8000, 8000],
		[16000, 16000],
		[22050, 24000],
		[44100, 48000],
		[37000, 48000],
		[11025, 12000],
	])('input at %i Hz is encoded at %i Hz with the same duration and sound', async (rate, opusRate) => {
		const seconds = 2.03;
		const encoder = await createEncoder({ format: 'oggOpus', sampleRate: rate, bitRateKbps: 24 });
		expect(encoder.outputSampleRate).toBe(opusRate);
		const { output } = await encode(encoder, pcm(seconds, rate), [9999]);
		const id = parseOggPages(output)[0].packets[0];
		expect(id.readUInt32LE(12)).toBe(rate);
		const decoded = decodeWithLibrary('ogg', output);
		expect(decoded.errors).toEqual([]);
		expect(Math.abs(decoded.samplesDecoded / 48000 - encoder.durationSeconds())).toBeLessThan(0.01 * seconds);
		expect(bestCorrelation(decoded.samples, reference(decoded.samplesDecoded, 48000), 200, 4800).r).toBeGreaterThan(0.85);
	});

	it.each([0.3, 0.99, 1.01])('a %f s clip (one or two audio pages) decodes to its exact length', async (seconds) => {
		const encoder = await createEncoder({ format: 'oggOpus', sampleRate: 24000 });
		const { output } = await encode(encoder, pcm(seconds, 24000), [5001]);
		const pages = parseOggPages(output);
		expect(pages[2].packets).toHaveLength(1);
		for (let i = 1; i < pages.length; i++) expect(pages[i].granule >= pages[i - 1].granule).toBe(true);
		expect(pages[pages.length - 1].packets.length).toBeGreaterThan(0);
		expect(decodeWithLibrary('ogg', output).samplesDecoded).toBe(Math.round(seconds * 48000));
	});

	it('bit rate sets the size: 16 kbps is about half of 32 kbps', async () => {
		const sizes: number[] = [];
		for (const kbps of [16, 32]) {
			const encoder = await createEncoder({ format: 'oggOpus', sampleRate: 24000, bitRateKbps: kbps });
			sizes.push((await encode(encoder, pcm(5, 24000), [48000])).output.length);
		}
		const [low, high] = sizes;
		expect(low / high).toBeGreaterThan(0.35);
		expect(low / high).toBeLessThan(0.7);
		// 32 kbps for 5 s is about 20 kB.
		expect(high).toBeGreaterThan(14_000);
		expect(high).toBeLessThan(26_000);
	});
});

describe('MP3', () => {
	it('writes mono MPEG-2 layer III at 24 kHz and 64 kbps, an Info tag first, that mpg123 decodes to the input, to the sample', async () => {
		const seconds = 10.3;
		const encoder = await createEncoder({ format: 'mp3', sampleRate: 24000 });
		expect([encoder.format, encoder.mimeType, encoder.extension, encoder.outputSampleRate]).toEqual(['mp3', 'audio/mpeg', 'mp3', 24000]);
		const { output, writes } = await encode(encoder, pcm(seconds, 24000));
		// The frames are held until end(): the Info tag before them needs their count.
		expect(writes.every((chunk) => chunk.length === 0)).toBe(true);
		expect(encoder.bitRateKbps).toBe(64);
		const frames = parseMp3Frames(output);
		expect(new Set(frames.map((frame) => `${frame.version} ${frame.layer} ${frame.sampleRate} ${frame.channelMode} ${frame.bitrateKbps}`))).toEqual(new Set(['2 3 24000 mono 64']));
		expect(frames.reduce((sum, frame) => sum + frame.length, 0)).toBe(output.length);
		const tag = parseInfoTag(output);
		expect(tag).toMatchObject({ frames: frames.length - 1, bytes: output.length, delay: 576 });

		const decoded = decodeWithLibrary('mp3', output);
		expect(decoded.errors).toEqual([]);
		expect(decoded.sampleRate).toBe(24000);
		// mpg123 reads the tag: LAME's delay (576 + 529 samples) and the last frame's padding are cut.
		expect(decoded.samplesDecoded).toBe(Math.round(seconds * 24000));
		const match = bestCorrelation(decoded.samples, reference(decoded.samplesDecoded, 24000), 3000, 2400, 48000);
		expect(match.r).toBeGreaterThan(0.9);
		expect(match.lag).toBe(0);
		expect(toneShare(decoded.samples, 24000, 300)).toBeGreaterThan(0.3);
	});

	it.each([
		[8000, 8000, '2.5', 32, 20],
		[22000, 22050, '2', 48, 12],
		[44100, 44100, '1', 128, 12],
		[48000, 48000, '1', 96, 12],
		[30000, 32000, '1', 64, 12],
	])('input at %i Hz is encoded at %i Hz (MPEG-%s) at %i kbps, decoded to the input\'s length', async (rate, mp3Rate, version, kbps, seconds) => {
		const encoder = await createEncoder({ format: 'mp3', sampleRate: rate, bitRateKbps: kbps });
		expect(encoder.outputSampleRate).toBe(mp3Rate);
		const { output } = await encode(encoder, pcm(seconds, rate), [30001]);
		const frames = parseMp3Frames(output);
		expect(new Set(frames.map((frame) => `${frame.version} ${frame.sampleRate} ${frame.channelMode} ${frame.bitrateKbps}`))).toEqual(new Set([`${version} ${mp3Rate} mono ${kbps}`]));
		const decoded = decodeWithLibrary('mp3', output);
		expect(decoded.errors).toEqual([]);
		expect(decoded.sampleRate).toBe(mp3Rate);
		// Resampled input: the resampler gives ceil(n × out / in) samples, and the tag cuts to them.
		expect(decoded.samplesDecoded).toBe(Math.ceil((Math.round(seconds * rate) * mp3Rate) / rate));
		const match = bestCorrelation(decoded.samples, reference(decoded.samplesDecoded, mp3Rate), 400, mp3Rate / 10, mp3Rate);
		expect(match.r).toBeGreaterThan(0.85);
		expect(match.lag).toBe(0);
	});

	it('bit rate sets the size: 32 kbps is half of 64 kbps (constant bit rate)', async () => {
		const sizes: number[] = [];
		for (const kbps of [32, 64]) {
			const encoder = await createEncoder({ format: 'mp3', sampleRate: 24000, bitRateKbps: kbps });
			const { output } = await encode(encoder, pcm(6, 24000), [48000]);
			// The audio frames, without the Info frame before them.
			sizes.push(output.length - parseMp3Frames(output)[0].length);
		}
		expect(sizes[0] / sizes[1]).toBeCloseTo(0.5, 1);
		expect(sizes[1]).toBeCloseTo((6 * 64000) / 8, -3);
	});
});

describe('MP3: loading LAME', () => {
	it('compiles LAME once from the bytes the library embeds, without its fetch of a data: URL, and writes what the library\'s own loader writes', async () => {
		await jest.isolateModulesAsync(async () => {
			const realFetch = globalThis.fetch;
			const fetched: string[] = [];
			globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
				fetched.push(String(input).slice(0, 40));
				return realFetch(input, init);
			}) as typeof fetch;
			try {
				const mp3 = await import('../../nodes/shared/encode/mp3');
				const encode = await import('../../nodes/shared/encode');
				const first = await mp3.loadLame();
				expect(first).toBeInstanceOf(Object);
				expect(await mp3.loadLame()).toBe(first);
				const input = pcm(3, 24000);
				const ours = await encode.createEncoder({ format: 'mp3', sampleRate: 24000, bitRateKbps: 48 });
				const file = Buffer.concat([await ours.write(input), await ours.end()]);
				expect(fetched).toEqual([]);
				// Without the Info frame this package puts first, the file is LAME's frames as they came.
				const output = file.subarray(parseMp3Frames(file)[0].length);

				// The library's loader (it fetches the data: URL) and the same settings give the same bytes.
				const { createMp3Encoder } = await import('wasm-media-encoders');
				const theirs = await createMp3Encoder();
				expect(fetched.length).toBe(1);
				expect(fetched[0]).toMatch(/^data:application\/wasm;base64,/);
				theirs.configure({ channels: 1, sampleRate: 24000, bitrate: 48, outputSampleRate: 24000 });
				const floats = new Float32Array(input.length / 2);
				for (let i = 0; i < floats.length; i++) floats[i] = input.readInt16LE(i * 2) / 32768;
				const parts: Buffer[] = [];
				for (let at = 0; at < floats.length; at += 1152) parts.push(Buffer.from(theirs.encode([floats.subarray(at, at + 1152)])));
				parts.push(Buffer.from(theirs.finalize()));
				expect(output.equals(Buffer.concat(parts))).toBe(true);
			} finally {
				globalThis.fetch = realFetch;
			}
		});
	});
});

describe('WAV and raw PCM', () => {
	it('WAV: the whole file at end(), a correct 44-byte header and the input samples unchanged', async () => {
		const input = pcm(1.5, 16000);
		const encoder = await createEncoder({ format: 'wav', sampleRate: 16000 });
		expect([encoder.mimeType, encoder.extension, encoder.outputSampleRate]).toEqual(['audio/wav', 'wav', 16000]);
		const { output, writes } = await encode(encoder, input);
		expect(writes.every((chunk) => chunk.length === 0)).toBe(true);
		expect(output.toString('latin1', 0, 4)).toBe('RIFF');
		expect(output.readUInt32LE(4)).toBe(output.length - 8);
		expect(output.toString('latin1', 8, 16)).toBe('WAVEfmt ');
		expect([output.readUInt16LE(20), output.readUInt16LE(22), output.readUInt32LE(24), output.readUInt32LE(28), output.readUInt16LE(32), output.readUInt16LE(34)]).toEqual([1, 1, 16000, 32000, 2, 16]);
		expect(output.toString('latin1', 36, 40)).toBe('data');
		expect(output.readUInt32LE(40)).toBe(input.length);
		expect(output.subarray(44).equals(input)).toBe(true);
		expect(encoder.durationSeconds()).toBeCloseTo(1.5, 9);
	});

	it('raw PCM: passed through as it arrives, whole samples only, nothing lost across odd chunks', async () => {
		const input = pcm(0.7, 24000);
		const encoder = await createEncoder({ format: 'pcm', sampleRate: 24000 });
		expect([encoder.mimeType, encoder.extension]).toEqual(['application/octet-stream', 'pcm']);
		const { output, writes } = await encode(encoder, input, [3, 1, 5]);
		expect(writes.every((chunk) => chunk.length % 2 === 0)).toBe(true);
		expect(writes[0].length).toBe(2); // 3 bytes in: one whole sample out, one byte carried
		expect(output.equals(input)).toBe(true);
	});

	it('a dangling odd byte at the very end is dropped, not padded into a sample', async () => {
		const encoder = await createEncoder({ format: 'pcm', sampleRate: 24000 });
		const { output } = await encode(encoder, Buffer.from([1, 2, 3]));
		expect(output).toEqual(Buffer.from([1, 2]));
		expect(encoder.durationSeconds()).toBeCloseTo(1 / 24000, 12);
	});
});

describe('empty input', () => {
	it.each(['wav', 'mp3', 'oggOpus', 'pcm'] as OutputFormat[])('%s: a valid, empty file of duration 0', async (format) => {
		const encoder = await createEncoder({ format, sampleRate: 24000 });
		const output = Buffer.concat([await encoder.write(Buffer.alloc(0)), await encoder.end()]);
		expect(encoder.durationSeconds()).toBe(0);
		if (format === 'wav') expect([output.length, output.readUInt32LE(40)]).toEqual([44, 0]);
		if (format === 'pcm') expect(output.length).toBe(0);
		if (format === 'oggOpus') {
			const pages = parseOggPages(output);
			expect(pages.every((page) => page.crc === page.crcComputed)).toBe(true);
			expect(pages[pages.length - 1].granule).toBe(BigInt(312));
			// One packet, trimmed to nothing. ogg-opus-decoder 1.7 applies the end trim of a stream
			// whose only audio page is also its last without counting pre-skip, so it plays 6.5 ms.
			const decoded = decodeWithLibrary('ogg', output);
			expect(decoded.errors).toEqual([]);
			expect(decoded.samplesDecoded).toBeLessThanOrEqual(312);
		}
		if (format === 'mp3') {
			// LAME flushes silent frames, and the Info tag says none of their samples are audio.
			expect(parseInfoTag(output)).toMatchObject({ delay: 576, bytes: output.length });
			const decoded = decodeWithLibrary('mp3', output);
			expect(decoded.errors).toEqual([]);
			expect(decoded.samplesDecoded).toBe(0);
		}
	});
});

describe('bad input', () => {
	it('validateBitRate names the format, the range and the value', () => {
		expect(validateBitRate('mp3', 64)).toBeUndefined();
		expect(validateBitRate('mp3', undefined)).toBeUndefined();
		expect(validateBitRate('mp3', 56)).toBe('MP3 bit rate must be one of 32, 40, 48, 64, 80, 96, 112, 128 kbps, not 56');
		expect(validateBitRate('mp3', 320)).toMatch(/not 320$/);
		expect(validateBitRate('oggOpus', 24)).toBeUndefined();
		expect(validateBitRate('oggOpus', 7)).toBe('OGG/Opus bit rate must be a whole number from 8 to 128 kbps, not 7');
		expect(validateBitRate('oggOpus', 24.5)).toMatch(/whole number/);
		expect(validateBitRate('oggOpus', Number.NaN)).toMatch(/not NaN$/);
		expect(validateBitRate('wav', 999)).toBeUndefined(); // no bit rate for WAV and PCM: ignored
		expect(validateSampleRate(7999)).toBe('Sample rate must be a whole number of Hz from 8000 to 48000, not 7999');
		expect(validateSampleRate(48000)).toBeUndefined();
		expect(BIT_RATES.mp3.allowed).toContain(BIT_RATES.mp3.default);
		expect(BIT_RATES.oggOpus.default).toBeGreaterThanOrEqual(24);
		expect(Object.keys(OUTPUT_FORMATS).sort()).toEqual(['mp3', 'oggOpus', 'pcm', 'wav']);
	});

	it('createEncoder throws a clear Error on a bad bit rate, sample rate or format', async () => {
		await expect(createEncoder({ format: 'mp3', sampleRate: 24000, bitRateKbps: 100 })).rejects.toThrow('MP3 bit rate must be one of');
		await expect(createEncoder({ format: 'oggOpus', sampleRate: 24000, bitRateKbps: 500 })).rejects.toThrow('OGG/Opus bit rate must be');
		await expect(createEncoder({ format: 'wav', sampleRate: 96000 })).rejects.toThrow('Sample rate must be a whole number of Hz from 8000 to 48000, not 96000');
		await expect(createEncoder({ format: 'flac' as OutputFormat, sampleRate: 24000 })).rejects.toThrow('Unknown output format "flac"');
	});

	it('refuses a write after end() and an overlapping write', async () => {
		const encoder = await createEncoder({ format: 'oggOpus', sampleRate: 24000 });
		const first = encoder.write(pcm(2, 24000));
		await expect(encoder.write(pcm(0.1, 24000))).rejects.toThrow('previous call is still running');
		await first;
		await encoder.end();
		await expect(encoder.write(Buffer.alloc(2))).rejects.toThrow('already ended');
	});
});

describe('not freezing the event loop', () => {
	it.each(['mp3', 'oggOpus'] as OutputFormat[])('%s: one write of 30 s of PCM gives timers many turns', async (format) => {
		const encoder = await createEncoder({ format, sampleRate: 24000 });
		const input = pcm(30, 24000);
		let turns = 0;
		let longest = 0;
		let last = performance.now();
		const timer = setInterval(() => {
			const now = performance.now();
			longest = Math.max(longest, now - last);
			last = now;
			turns++;
		}, 1);
		const started = performance.now();
		try {
			await encoder.write(input);
			await encoder.end();
		} finally {
			clearInterval(timer);
		}
		// The block that ended the encode counts too (without any yield, it is the whole encode).
		longest = Math.max(longest, performance.now() - last);
		const elapsed = performance.now() - started;
		// Ratios measured in this run, so a busy machine (both cores taken: up to 290 ms blocks in
		// a 6.8 s encode) passes and an encoder that does not yield fails: the longest block is a
		// small part of the whole (about 1/13 idle or busy), and timers ran many times (46 idle,
		// 56-209 busy; one write without yielding gives 1). The bench measures the real figures.
		expect(longest).toBeLessThan(elapsed / 4);
		expect(turns).toBeGreaterThanOrEqual(10);
	});
});

describe('targetSampleRate: PCM at one rate written at another (streaming mode, issue 22.8)', () => {
	it('24 kHz in, 16 kHz WAV and raw PCM out: the same signal at the new rate, the input\'s duration', async () => {
		const input = pcm(1.5, 24000);
		for (const format of ['wav', 'pcm'] as OutputFormat[]) {
			const encoder = await createEncoder({ format, sampleRate: 24000, targetSampleRate: 16000 });
			expect(encoder.outputSampleRate).toBe(16000);
			const { output } = await encode(encoder, input);
			const samples = format === 'wav' ? output.subarray(44) : output;
			if (format === 'wav') expect(output.readUInt32LE(24)).toBe(16000);
			expect(samples.length / 2).toBe(Math.ceil((input.length / 2) * (16000 / 24000)));
			expect(encoder.durationSeconds()).toBeCloseTo(1.5, 9);
			const got = Float32Array.from({ length: samples.length / 2 }, (_u, i) => samples.readInt16LE(i * 2) / 32768);
			expect(bestCorrelation(got, reference(got.length, 16000), 0, 100, 20000).r).toBeGreaterThan(0.999);
		}
	});

	it('MP3 and OGG/Opus are encoded at the target\'s rate (its next one up), decoded to the input\'s duration', async () => {
		const mp3 = await createEncoder({ format: 'mp3', sampleRate: 24000, targetSampleRate: 16000 });
		const opus = await createEncoder({ format: 'oggOpus', sampleRate: 24000, targetSampleRate: 11025 });
		expect([mp3.outputSampleRate, opus.outputSampleRate]).toEqual([16000, 12000]);
		const input = pcm(2, 24000);
		const decodedMp3 = decodeWithLibrary('mp3', (await encode(mp3, input)).output);
		expect([decodedMp3.sampleRate, decodedMp3.samplesDecoded]).toEqual([16000, 32000]);
		const decodedOpus = decodeWithLibrary('ogg', (await encode(opus, input)).output);
		expect(Math.abs(decodedOpus.samplesDecoded / decodedOpus.sampleRate - 2)).toBeLessThan(0.002);
	});

	it('refuses a target rate out of range', async () => {
		await expect(createEncoder({ format: 'wav', sampleRate: 24000, targetSampleRate: 96000 })).rejects.toThrow('Sample rate must be a whole number of Hz from 8000 to 48000, not 96000');
	});
});

describe('Resampler', () => {
	it('22050 → 24000 Hz: exact length, unit gain, tone kept', () => {
		const rate = 22050;
		const input = new Float32Array(rate).map((_v, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / rate));
		const resampler = new Resampler(rate, 24000);
		const parts = [resampler.push(input.subarray(0, 777)), resampler.push(input.subarray(777)), resampler.flush()];
		const output = Float32Array.from(parts.flatMap((part) => Array.from(part)));
		expect(output.length).toBe(24000);
		const expected = new Float32Array(24000).map((_v, i) => 0.5 * Math.sin((2 * Math.PI * 1000 * i) / 24000));
		const middle = (a: Float32Array) => a.subarray(1000, 23000);
		let error = 0;
		for (let i = 0; i < middle(output).length; i++) error = Math.max(error, Math.abs(middle(output)[i] - middle(expected)[i]));
		expect(error).toBeLessThan(0.005);
	});

	it('48000 → 24000 Hz: a 15 kHz tone (above the new Nyquist) is filtered out, not folded to 9 kHz', () => {
		const input = new Float32Array(48000).map((_v, i) => 0.5 * Math.sin((2 * Math.PI * 15000 * i) / 48000));
		const resampler = new Resampler(48000, 24000);
		const output = Float32Array.from([...resampler.push(input), ...resampler.flush()]);
		expect(output.length).toBe(24000);
		let peak = 0;
		for (const x of output.subarray(500, 23500)) peak = Math.max(peak, Math.abs(x));
		expect(peak).toBeLessThan(0.005);
	});
});
