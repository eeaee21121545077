/**
 * The Info tag of a constant-bit-rate MP3: a silent first frame that tells players how many frames
 * and bytes follow and, in its LAME extension, how many samples the encoder added at the start
 * (its delay) and at the end (padding to a whole frame), so they play exactly the input: no 46 ms
 * of silence before the speech, a duration to the sample.
 *
 * Written from the specifications, not from LAME's code (the WebAssembly build of LAME in
 * wasm-media-encoders turns its own tag off and does not export `lame_get_lametag_frame`):
 * - Xing/Info header (Xing Technology, 1998, as documented by LAME and by Gabriel Bouvigne's
 *   "MP3 Info Tag rev 1 specifications", gabriel.mp3-tech.org/mp3infotag.html): after the frame
 *   header and the side information, "Info" (CBR), 32-bit flags (1 frames, 2 bytes, 4 TOC, 8 quality),
 *   then the fields the flags announce, big-endian;
 * - LAME extension (same document, rev 1): 9-byte version, revision/method, lowpass, peak, two
 *   ReplayGains, flags/ATH, bit rate, 12-bit delay and 12-bit padding, misc, MP3Gain,
 *   surround/preset, music length, music CRC, and the CRC-16 of every byte of the frame before it.
 *   CRCs are CRC-16/ARC (polynomial 0x8005 reflected, initial 0), as LAME computes them.
 *
 * Checked against the tag LAME 3.100's own command line writes for the same settings (`lame -m m
 * -b 64 --cbr`): the same layout and values, except the fields the WebAssembly build cannot report
 * (lowpass, ReplayGain, encoding flags), which are 0 ("unknown") here.
 */
import { mpegFrameLength } from '../audio';

/** Samples LAME 3.100 puts before the input (ENCDELAY); decoders add their own 529 (528 + 1). */
export const LAME_ENCODER_DELAY = 576;
/** The 9-byte encoder version the LAME extension starts with: decoders (ffmpeg, mpg123) read the delays only after "LAME". */
const LAME_VERSION = 'LAME3.100';
/** Xing's quality field as LAME writes it: 100 − 10 × VBR quality − quality = 100 − 40 − 3 at LAME's defaults (the build sets neither). */
const LAME_QUALITY = 57;
const TOC_ENTRIES = 100;
/** "Info" + flags + frames + bytes + quality, without the table of contents. */
const XING_FIXED_BYTES = 4 + 4 + 4 + 4 + 4;
/** The LAME extension, its two CRCs included. */
const LAME_EXTENSION_BYTES = 36;

const CRC16_TABLE = (() => {
	const table = new Uint16Array(256);
	for (let byte = 0; byte < 256; byte++) {
		let crc = byte;
		for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
		table[byte] = crc;
	}
	return table;
})();

/** CRC-16/ARC of `bytes`, continuing from `crc`. */
export function crc16(bytes: Uint8Array, crc = 0): number {
	let value = crc;
	for (let i = 0; i < bytes.length; i++) value = (value >>> 8) ^ CRC16_TABLE[(value ^ bytes[i]) & 0xff];
	return value;
}

export interface Mp3TagInput {
	/** The first audio frame's 4-byte header: the tag frame has the same version, rate, bit rate and mode. */
	firstHeader: Buffer;
	/** Audio frames after the tag frame. */
	frames: number;
	/** Bytes of those frames. */
	audioBytes: number;
	/** CRC-16 of those bytes. */
	musicCrc: number;
	/** Samples given to the encoder (at the MP3's rate). */
	samples: number;
}

/**
 * The Info frame to put before the audio frames, or undefined when there are none. Its table of
 * contents (a seek aid, linear for constant bit rate) is left out when the frame is too small for
 * it (24 kHz at 32–48 kbps, say, where LAME's own command line writes no tag at all): the flags
 * say so, and the frame and delay fields still fit.
 */
export function mp3InfoFrame(input: Mp3TagInput): Buffer | undefined {
	if (input.frames === 0) return undefined;
	const header = Buffer.from(input.firstHeader.subarray(0, 4));
	header[1] |= 0x01; // no CRC protection
	header[2] &= ~0x02; // no padding
	const frameLength = mpegFrameLength(header);
	if (frameLength === undefined) return undefined;
	const mpeg1 = (header[1] & 0x18) === 0x18;
	const mono = (header[3] & 0xc0) === 0xc0;
	const sideInfo = mpeg1 ? (mono ? 17 : 32) : mono ? 9 : 17;
	const samplesPerFrame = mpeg1 ? 1152 : 576;
	const sampleRate = sampleRateOf(header);
	const withToc = 4 + sideInfo + XING_FIXED_BYTES + TOC_ENTRIES + LAME_EXTENSION_BYTES <= frameLength;
	if (4 + sideInfo + XING_FIXED_BYTES + LAME_EXTENSION_BYTES > frameLength) return undefined;

	const frame = Buffer.alloc(frameLength);
	header.copy(frame, 0);
	let at = 4 + sideInfo; // the side information stays zero: a decoder that does not know the tag plays one silent frame
	const totalBytes = frameLength + input.audioBytes;
	at = frame.write('Info', at, 'latin1') + at;
	at = frame.writeUInt32BE(withToc ? 0x0f : 0x0b, at);
	at = frame.writeUInt32BE(input.frames >>> 0, at);
	at = frame.writeUInt32BE(totalBytes >>> 0, at);
	if (withToc) {
		// Entry i: where i % of the audio starts, in 256ths of the file. Constant bit rate: i % of the audio bytes.
		for (let i = 1; i < TOC_ENTRIES; i++) frame[at + i] = Math.min(255, Math.floor((256 * (frameLength + (i / TOC_ENTRIES) * input.audioBytes)) / totalBytes));
		at += TOC_ENTRIES;
	}
	at = frame.writeUInt32BE(LAME_QUALITY, at);

	const padding = input.frames * samplesPerFrame - LAME_ENCODER_DELAY - input.samples;
	const bitRateKbps = bitRateOf(header);
	at += frame.write(LAME_VERSION, at, 'latin1');
	frame[at++] = 0x01; // tag revision 0, method 1: constant bit rate
	frame[at++] = 0; // lowpass: unknown
	at = frame.writeUInt32BE(0, at); // peak amplitude: not computed
	at = frame.writeUInt16BE(0, at); // radio ReplayGain: not set
	at = frame.writeUInt16BE(0, at); // audiophile ReplayGain: not set
	frame[at++] = 0; // encoding flags and ATH type: unknown
	frame[at++] = Math.min(255, bitRateKbps);
	if (padding >= 0 && padding <= 0xfff) {
		frame.writeUIntBE((LAME_ENCODER_DELAY << 12) | padding, at, 3);
	}
	at += 3;
	frame[at++] = (sampleRate <= 32000 ? 0 : sampleRate === 44100 ? 1 : sampleRate === 48000 ? 2 : 3) << 6; // misc: source rate; mono, no noise-shaping info
	frame[at++] = 0; // MP3Gain: none
	at = frame.writeUInt16BE(Math.min(bitRateKbps, 0x7ff), at); // surround none, "preset" = the bit rate, as LAME writes for CBR
	at = frame.writeUInt32BE(totalBytes >>> 0, at);
	at = frame.writeUInt16BE(input.musicCrc & 0xffff, at);
	frame.writeUInt16BE(crc16(frame.subarray(0, at)), at);
	return frame;
}

/** Sample rates by MPEG version bits (3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5) and rate index (ISO 11172-3, 13818-3). */
const RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };
/** Layer III bit rates in kbps by bit-rate index: MPEG-1, then MPEG-2 and 2.5. */
const LAYER3_KBPS = {
	mpeg1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
	mpeg2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};

function sampleRateOf(header: Buffer): number {
	return RATES[(header[1] >> 3) & 3][(header[2] >> 2) & 3];
}

/** The bit rate a layer III frame header names. */
export function bitRateOf(header: Buffer): number {
	return LAYER3_KBPS[(header[1] & 0x18) === 0x18 ? 'mpeg1' : 'mpeg2'][header[2] >> 4];
}

/**
 * Counts the MPEG frames in a stream that arrives in chunks cut anywhere (LAME's output ends
 * where its bit reservoir stops, not at a frame's end), and keeps the first frame's header.
 */
export class Mp3FrameCounter {
	frames = 0;
	firstHeader?: Buffer;
	private remaining = 0;
	private readonly head = Buffer.alloc(4);
	private headLength = 0;

	push(chunk: Uint8Array): void {
		let i = 0;
		while (i < chunk.length) {
			if (this.remaining > 0) {
				const step = Math.min(this.remaining, chunk.length - i);
				this.remaining -= step;
				i += step;
				continue;
			}
			this.head[this.headLength++] = chunk[i++];
			if (this.headLength < 4) continue;
			this.headLength = 0;
			const length = mpegFrameLength(this.head);
			if (length === undefined) throw new Error(`MP3: the encoder wrote no frame header at frame ${this.frames + 1}`);
			this.firstHeader ??= Buffer.from(this.head);
			this.frames++;
			this.remaining = length - 4;
		}
	}

	/** The bit rate of the frames written (LAME's constant bit rate), once one was. */
	get bitRateKbps(): number | undefined {
		return this.firstHeader && bitRateOf(this.firstHeader);
	}
}
