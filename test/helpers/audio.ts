/**
 * Independent checks for encoded audio: decoding through other libraries (test/helpers/decodeAudio.mjs,
 * in a child Node process), and small parsers of the containers written from the specs (RFC 3533,
 * RFC 7845, ISO 11172-3 / 13818-3 frame headers), not from the encoder's code.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Decoded {
	sampleRate: number;
	channels: number;
	samplesDecoded: number;
	errors: string[];
	/** Channel 0. */
	samples: Float32Array;
}

export function decodeWithLibrary(kind: 'mp3' | 'ogg', encoded: Buffer): Decoded {
	return decodeAllWithLibrary(kind, [encoded])[0];
}

/** Several files in one decoder process (a fresh decoder each): one process start instead of many. */
export function decodeAllWithLibrary(kind: 'mp3' | 'ogg', files: Buffer[]): Decoded[] {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-decode-'));
	try {
		const paths = files.map((file, i) => {
			const input = path.join(dir, `in-${i}.${kind}`);
			fs.writeFileSync(input, file);
			return [input, path.join(dir, `out-${i}.f32`)];
		});
		const json = execFileSync(process.execPath, [path.join(__dirname, 'decodeAudio.mjs'), kind, ...paths.flat()], {
			encoding: 'utf8',
			cwd: path.resolve(__dirname, '..', '..'),
			timeout: 120_000,
		});
		const parsed = JSON.parse(json) as Omit<Decoded, 'samples'> | Array<Omit<Decoded, 'samples'>>;
		const metas = Array.isArray(parsed) ? parsed : [parsed];
		return metas.map((meta, i) => {
			const raw = fs.readFileSync(paths[i][1]);
			const samples = new Float32Array(raw.length / 4);
			new Uint8Array(samples.buffer).set(raw);
			return { ...meta, samples };
		});
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

/** Ogg CRC-32 bit by bit (polynomial 0x04C11DB7, MSB first, init 0, no final XOR). */
export function oggCrcBitwise(bytes: Uint8Array): number {
	let crc = 0;
	for (const byte of bytes) {
		crc ^= byte << 24;
		for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? ((crc << 1) ^ 0x04c11db7) >>> 0 : (crc << 1) >>> 0;
	}
	return crc >>> 0;
}

export interface OggPage {
	flags: number;
	granule: bigint;
	serial: number;
	sequence: number;
	crc: number;
	crcComputed: number;
	/** Packets completed on this page (this muxer never continues packets across pages). */
	packets: Buffer[];
	continuedAtEnd: boolean;
}

export function parseOggPages(file: Buffer): OggPage[] {
	const pages: OggPage[] = [];
	let offset = 0;
	while (offset < file.length) {
		if (file.toString('latin1', offset, offset + 4) !== 'OggS') throw new Error(`no capture pattern at byte ${offset}`);
		if (file[offset + 4] !== 0) throw new Error('stream structure version must be 0');
		const segments = file[offset + 26];
		const lacing = file.subarray(offset + 27, offset + 27 + segments);
		const bodyLength = lacing.reduce((sum, value) => sum + value, 0);
		const pageLength = 27 + segments + bodyLength;
		const page = Buffer.from(file.subarray(offset, offset + pageLength));
		const crc = page.readUInt32LE(22);
		page.writeUInt32LE(0, 22);
		const packets: Buffer[] = [];
		let body = offset + 27 + segments;
		let current = 0;
		for (const value of lacing) {
			current += value;
			if (value < 255) {
				packets.push(file.subarray(body, body + current));
				body += current;
				current = 0;
			}
		}
		pages.push({
			flags: file[offset + 5],
			granule: file.readBigInt64LE(offset + 6),
			serial: file.readUInt32LE(offset + 14),
			sequence: file.readUInt32LE(offset + 18),
			crc,
			crcComputed: oggCrcBitwise(page),
			packets,
			continuedAtEnd: current > 0,
		});
		offset += pageLength;
	}
	return pages;
}

/** Samples (at 48 kHz) in an Opus packet, from its TOC byte (RFC 6716 §3.1). */
export function opusPacketSamples(packet: Buffer): number {
	const toc = packet[0];
	const config = toc >> 3;
	let frameMs: number;
	if (config < 12) frameMs = [10, 20, 40, 60][config % 4];
	else if (config < 16) frameMs = [10, 20][config % 2];
	else frameMs = [2.5, 5, 10, 20][config % 4];
	const code = toc & 3;
	const frames = code === 0 ? 1 : code === 3 ? packet[1] & 0x3f : 2;
	return frames * frameMs * 48;
}

export interface Mp3Frame {
	version: '1' | '2' | '2.5';
	layer: number;
	bitrateKbps: number;
	sampleRate: number;
	channelMode: 'stereo' | 'joint' | 'dual' | 'mono';
	samples: number;
	length: number;
}

const MP3_BITRATES = {
	v1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
	v2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const MP3_RATES = { '1': [44100, 48000, 32000], '2': [22050, 24000, 16000], '2.5': [11025, 12000, 8000] };

/** Walks the MPEG audio frames from the first sync (skipping an ID3v2 tag if present). */
export function parseMp3Frames(file: Buffer): Mp3Frame[] {
	let offset = 0;
	if (file.toString('latin1', 0, 3) === 'ID3') offset = 10 + ((file[6] << 21) | (file[7] << 14) | (file[8] << 7) | file[9]);
	const frames: Mp3Frame[] = [];
	while (offset + 4 <= file.length) {
		const h = file.readUInt32BE(offset);
		if ((h >>> 21) !== 0x7ff) throw new Error(`no frame sync at byte ${offset}`);
		const versionBits = (h >>> 19) & 3;
		const version = versionBits === 3 ? '1' : versionBits === 2 ? '2' : versionBits === 0 ? '2.5' : undefined;
		const layer = 4 - ((h >>> 17) & 3);
		if (!version || layer !== 3) throw new Error(`not MPEG layer III at byte ${offset}`);
		const bitrateKbps = (version === '1' ? MP3_BITRATES.v1 : MP3_BITRATES.v2)[(h >>> 12) & 15];
		const sampleRate = MP3_RATES[version][(h >>> 10) & 3];
		const padding = (h >>> 9) & 1;
		const channelMode = (['stereo', 'joint', 'dual', 'mono'] as const)[(h >>> 6) & 3];
		const samples = version === '1' ? 1152 : 576;
		const length = Math.floor(((samples / 8) * bitrateKbps * 1000) / sampleRate) + padding;
		frames.push({ version, layer, bitrateKbps, sampleRate, channelMode, samples, length });
		offset += length;
	}
	return frames;
}

/** CRC-16/ARC bit by bit (polynomial 0x8005 reflected as 0xA001, init 0), as the LAME tag's CRCs. */
export function crc16Bitwise(bytes: Uint8Array): number {
	let crc = 0;
	for (const byte of bytes) {
		crc ^= byte;
		for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
	}
	return crc;
}

export interface InfoTag {
	/** "Info" (constant bit rate) or "Xing". */
	id: string;
	flags: number;
	frames?: number;
	bytes?: number;
	toc?: number[];
	quality?: number;
	/** The LAME extension, when the encoder string starts with "LAME". */
	encoder?: string;
	method?: number;
	bitRateKbps?: number;
	delay?: number;
	padding?: number;
	musicLength?: number;
	musicCrc?: number;
	tagCrc?: number;
	/** CRC-16 of the frame's bytes before the tag CRC, computed here. */
	tagCrcComputed?: number;
	/** CRC-16 of the frames after the tag frame, computed here. */
	musicCrcComputed?: number;
}

/**
 * The Xing/Info tag of an MP3's first frame and its LAME extension, read as the specification
 * describes them (gabriel.mp3-tech.org/mp3infotag.html): after the 4-byte header and the side
 * information (17 or 32 bytes for MPEG-1, 9 or 17 for MPEG-2/2.5, mono or not), "Xing" or "Info",
 * 32-bit flags, then frames (1), bytes (2), 100-entry TOC (4) and quality (8) as the flags say, then
 * the 36-byte LAME extension. Undefined when the first frame has no tag.
 */
export function parseInfoTag(file: Buffer): InfoTag | undefined {
	const [first] = parseMp3Frames(file);
	if (!first) return undefined;
	const mono = first.channelMode === 'mono';
	let at = 4 + (first.version === '1' ? (mono ? 17 : 32) : mono ? 9 : 17);
	const id = file.toString('latin1', at, at + 4);
	if (id !== 'Info' && id !== 'Xing') return undefined;
	const tag: InfoTag = { id, flags: file.readUInt32BE(at + 4) };
	at += 8;
	if (tag.flags & 1) {
		tag.frames = file.readUInt32BE(at);
		at += 4;
	}
	if (tag.flags & 2) {
		tag.bytes = file.readUInt32BE(at);
		at += 4;
	}
	if (tag.flags & 4) {
		tag.toc = [...file.subarray(at, at + 100)];
		at += 100;
	}
	if (tag.flags & 8) {
		tag.quality = file.readUInt32BE(at);
		at += 4;
	}
	const encoder = file.toString('latin1', at, at + 9);
	if (!encoder.startsWith('LAME')) return tag;
	const delays = file.readUIntBE(at + 21, 3);
	Object.assign(tag, {
		encoder,
		method: file[at + 9] & 0x0f,
		bitRateKbps: file[at + 20],
		delay: delays >> 12,
		padding: delays & 0xfff,
		musicLength: file.readUInt32BE(at + 28),
		musicCrc: file.readUInt16BE(at + 32),
		tagCrc: file.readUInt16BE(at + 34),
		tagCrcComputed: crc16Bitwise(file.subarray(0, at + 34)),
		musicCrcComputed: crc16Bitwise(file.subarray(first.length)),
	});
	return tag;
}

/** Normalised cross-correlation of `a` against `b`, best over lags 0..maxLag (b delayed by lag in a). */
export function bestCorrelation(a: Float32Array, b: Float32Array, maxLag: number, from = 0, length = Math.min(a.length, b.length)): { lag: number; r: number } {
	let best = { lag: 0, r: -1 };
	for (let lag = 0; lag <= maxLag; lag++) {
		let ab = 0;
		let aa = 0;
		let bb = 0;
		const end = Math.min(from + length, b.length, a.length - lag);
		for (let i = from; i < end; i++) {
			const x = a[i + lag];
			const y = b[i];
			ab += x * y;
			aa += x * x;
			bb += y * y;
		}
		const r = aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
		if (r > best.r) best = { lag, r };
	}
	return best;
}

/** Power of `frequency` in `samples` (Goertzel), relative to the signal's total power. */
export function toneShare(samples: Float32Array, sampleRate: number, frequency: number): number {
	const coefficient = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate);
	let s1 = 0;
	let s2 = 0;
	let energy = 0;
	for (const x of samples) {
		const s0 = x + coefficient * s1 - s2;
		s2 = s1;
		s1 = s0;
		energy += x * x;
	}
	const power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
	return energy > 0 ? (2 * power) / (samples.length * energy) : 0;
}
