/**
 * The MP3 Info tag (issue 22, items 4 and 6): its fields read by a parser written from the
 * specification (test/helpers/audio.ts parseInfoTag, with its own bit-by-bit CRC), and the files
 * decoded by two independent decoders that honour it: Debian's ffmpeg (installed when missing) and
 * mpg123 (mpg123-decoder). Before the tag, both decoded LAME's 576 + 529 samples of delay and the
 * last frame's padding: 2.064 s for 2 s at 24 kHz, 1.152 s for 1 s at 8 kHz.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createEncoder } from '../../nodes/shared/encode';
import { bestCorrelation, decodeWithLibrary, parseInfoTag, parseMp3Frames } from '../helpers/audio';
import { ensureDebianTool } from '../helpers/debian';

/** Speech-like: two partials under a 4 Hz syllable envelope. */
const signal = (t: number) => (0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t)) * (0.35 * Math.sin(2 * Math.PI * 300 * t) + 0.15 * Math.sin(2 * Math.PI * 1250 * t));

function pcm(samples: number, rate: number): Buffer {
	const out = Buffer.alloc(samples * 2);
	for (let i = 0; i < samples; i++) out.writeInt16LE(Math.round(signal(i / rate) * 32767), i * 2);
	return out;
}

async function mp3(samples: number, rate: number, kbps: number): Promise<{ file: Buffer; bitRateKbps: number | undefined }> {
	const encoder = await createEncoder({ format: 'mp3', sampleRate: rate, bitRateKbps: kbps });
	const input = pcm(samples, rate);
	const parts: Buffer[] = [];
	for (let at = 0; at < input.length; at += 8192) parts.push(await encoder.write(input.subarray(at, at + 8192)));
	parts.push(await encoder.end());
	return { file: Buffer.concat(parts), bitRateKbps: encoder.bitRateKbps };
}

let ffmpeg: string;
let ffprobe: string;
let dir: string;
beforeAll(() => {
	ffmpeg = ensureDebianTool('/usr/bin/ffmpeg', 'ffmpeg');
	ffprobe = '/usr/bin/ffprobe';
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-mp3tag-'));
}, 600_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** ffmpeg's decoding as mono 16-bit samples, and what its MP3 reader found in the tag ("pad 576 960"). */
function ffmpegDecode(file: Buffer): { samples: Int16Array; pad: string | undefined } {
	const input = path.join(dir, `in-${process.hrtime.bigint()}.mp3`);
	fs.writeFileSync(input, file);
	try {
		const raw = execFileSync(ffmpeg, ['-v', 'error', '-i', input, '-f', 's16le', '-ac', '1', '-'], { maxBuffer: 1 << 28 });
		// ffprobe's debug log (stderr) has what the MP3 reader took from the LAME extension.
		const probe = spawnSync(ffprobe, ['-v', 'debug', '-i', input], { encoding: 'utf8' }).stderr;
		const samples = new Int16Array(raw.length / 2);
		new Uint8Array(samples.buffer).set(raw.subarray(0, samples.length * 2));
		return { samples, pad: /\bpad (\d+ \d+)/.exec(probe)?.[1] };
	} finally {
		fs.rmSync(input, { force: true });
	}
}

describe('the Info tag', () => {
	// Every rate LAME writes; bit rates where the tag's frame is large enough for its table of
	// contents (flags 0x0f) and where it is not (0x0b: 24 kHz at 32 kbps is 96 bytes a frame).
	it.each([
		[8000, 32, 0x0f],
		[11025, 64, 0x0f],
		[12000, 48, 0x0f],
		[16000, 32, 0x0b],
		[16000, 128, 0x0f],
		[22050, 40, 0x0b],
		[24000, 32, 0x0b],
		[24000, 64, 0x0f],
		[32000, 40, 0x0f],
		[44100, 48, 0x0b],
		[48000, 128, 0x0f],
	])('%i Hz, %i kbps: frames, bytes, delay, padding and both CRCs as the specification says (flags %i)', async (rate, kbps, flags) => {
		const samples = Math.round(1.37 * rate);
		const { file } = await mp3(samples, rate, kbps);
		const frames = parseMp3Frames(file);
		const tag = parseInfoTag(file);
		expect(tag).toBeDefined();
		expect(tag).toMatchObject({
			id: 'Info',
			flags,
			frames: frames.length - 1,
			bytes: file.length,
			quality: 57,
			encoder: 'LAME3.100',
			method: 1,
			bitRateKbps: kbps,
			delay: 576,
			padding: (frames.length - 1) * frames[0].samples - 576 - samples,
			musicLength: file.length,
		});
		expect(tag!.tagCrc).toBe(tag!.tagCrcComputed);
		expect(tag!.musicCrc).toBe(tag!.musicCrcComputed);
		// The tag frame is a frame like the others (same version, rate, mode and bit rate).
		expect(new Set(frames.map((frame) => `${frame.sampleRate} ${frame.channelMode} ${frame.bitrateKbps}`)).size).toBe(1);
		if (tag!.toc) {
			expect(tag!.toc[0]).toBe(0);
			for (let i = 1; i < 100; i++) expect(tag!.toc[i]).toBeGreaterThanOrEqual(tag!.toc[i - 1]);
		}
	});

	it.each([
		[24000, 64, 2],
		[24000, 32, 2],
		[8000, 64, 1],
		[44100, 128, 1.3],
		[16000, 40, 0.5],
	])('%i Hz, %i kbps, %f s: ffmpeg and mpg123 decode exactly the input’s samples, in place', async (rate, kbps, seconds) => {
		const samples = Math.round(seconds * rate);
		const { file } = await mp3(samples, rate, kbps);
		const frames = parseMp3Frames(file);
		const tag = parseInfoTag(file)!;
		const decoded = ffmpegDecode(file);
		expect(decoded.pad).toBe(`576 ${tag.padding}`);
		expect(decoded.samples.length).toBe(samples);
		const reference = Float32Array.from({ length: samples }, (_u, i) => signal(i / rate));
		const ffmpegFloats = Float32Array.from(decoded.samples, (value) => value / 32768);
		const ffmpegMatch = bestCorrelation(ffmpegFloats, reference, 200, 0, Math.min(samples, rate));
		expect(ffmpegMatch).toMatchObject({ lag: 0 });
		expect(ffmpegMatch.r).toBeGreaterThan(0.85);
		const viaMpg123 = decodeWithLibrary('mp3', file);
		expect(viaMpg123.errors).toEqual([]);
		expect(viaMpg123.samplesDecoded).toBe(samples);
		expect(bestCorrelation(viaMpg123.samples, reference, 200, 0, Math.min(samples, rate)).lag).toBe(0);
		// What the frames alone span: the delay and padding the tag lets players cut.
		expect((frames.length - 1) * frames[0].samples - samples).toBe(576 + tag.padding!);
	});
});

describe('the bit rate written', () => {
	it.each([
		[8000, 128, 64],
		[11025, 96, 64],
		[12000, 80, 64],
		[12000, 48, 48],
		[16000, 128, 128],
		[24000, 128, 128],
	])('%i Hz asked at %i kbps: LAME writes %i kbps, and the encoder says so', async (rate, asked, written) => {
		const { file, bitRateKbps } = await mp3(rate, rate, asked);
		expect(new Set(parseMp3Frames(file).map((frame) => frame.bitrateKbps))).toEqual(new Set([written]));
		expect(bitRateKbps).toBe(written);
	});
});

describe('holding the frames', () => {
	it('write() returns nothing; endInParts() gives the tag, then the frames in the blocks they were held in (no one-piece copy)', async () => {
		const rate = 24000;
		const encoder = await createEncoder({ format: 'mp3', sampleRate: rate, bitRateKbps: 128 });
		const input = pcm(20 * rate, rate);
		for (let at = 0; at < input.length; at += 65536) expect((await encoder.write(input.subarray(at, at + 65536))).length).toBe(0);
		const parts = await encoder.endInParts();
		const file = Buffer.concat(parts);
		// About 320 kB in blocks of 16, 32, … 256 KiB: each part at most 1 MiB, the first one the Info frame.
		expect(parts.length).toBeGreaterThan(4);
		expect(Math.max(...parts.map((part) => part.length))).toBeLessThanOrEqual(1 << 20);
		expect(parts[0].length).toBe(parseMp3Frames(file)[0].length);
		expect(parseInfoTag(parts[0])?.bytes).toBe(file.length);
		const tag = parseInfoTag(file)!;
		expect(tag.musicCrc).toBe(tag.musicCrcComputed);
		expect(decodeWithLibrary('mp3', file).samplesDecoded).toBe(20 * rate);
	});
});
