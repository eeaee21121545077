/**
 * Walks an MP3 (MPEG audio) file frame by frame as its bytes arrive: an ID3v2 tag at the start is
 * skipped, then each frame must begin exactly where the previous one ended, with the same version,
 * layer and sample rate, up to the end or to the tags that may close a file (ID3v1, APEv2,
 * Lyrics3). Anything else is garbage in the file, and the frames are refused rather than let the
 * decoder skip over it silently.
 */
import { byteAt, corrupt, unsupported } from './problems';

const BIT_RATES: Record<string, number[]> = {
	'1-3': [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
	'1-2': [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
	'1-1': [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
	'2-3': [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
	'2-2': [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
	'2-1': [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

export interface MpegFrameHeader {
	length: number;
	sampleRate: number;
	samples: number;
	/** version bits, layer bits and rate index: what every frame of one stream shares. */
	signature: number;
	channels: number;
}

export function readFrameHeader(bytes: Buffer, offset: number): MpegFrameHeader | undefined {
	if (bytes[offset] !== 0xff || (bytes[offset + 1] & 0xe0) !== 0xe0) return undefined;
	const version = (bytes[offset + 1] >> 3) & 3;
	const layerBits = (bytes[offset + 1] >> 1) & 3;
	const bitRateIndex = bytes[offset + 2] >> 4;
	const rateIndex = (bytes[offset + 2] >> 2) & 3;
	if (version === 1 || layerBits === 0 || bitRateIndex === 15 || rateIndex === 3) return undefined;
	if (bitRateIndex === 0) return { length: 0, sampleRate: 0, samples: 0, signature: -1, channels: 0 }; // free format
	const layer = 4 - layerBits;
	const padding = (bytes[offset + 2] >> 1) & 1;
	const bitRate = BIT_RATES[`${version === 3 ? 1 : 2}-${layerBits}`][bitRateIndex - 1] * 1000;
	const sampleRate = SAMPLE_RATES[version][rateIndex];
	const samples = layer === 1 ? 384 : layer === 3 && version !== 3 ? 576 : 1152;
	const length = layer === 1 ? (Math.floor((12 * bitRate) / sampleRate) + padding) * 4 : Math.floor(((samples / 8) * bitRate) / sampleRate) + padding;
	const channels = ((bytes[offset + 3] >> 6) & 3) === 3 ? 1 : 2;
	return { length, sampleRate, samples, signature: (version << 4) | (layerBits << 2) | rateIndex, channels };
}

const EMPTY = Buffer.alloc(0);

export class MpegFrameReader {
	private pending: Buffer = EMPTY;
	private base = 0;
	private id3Skip = 0;
	private startChecked = false;
	private first?: MpegFrameHeader;
	private trailer = false;
	frames = 0;
	samples = 0;

	get sampleRate(): number {
		return this.first?.sampleRate ?? 0;
	}

	/** Feeds bytes; returns the complete frames they finish, in order. */
	push(chunk: Buffer): Buffer[] {
		let data = chunk;
		if (this.id3Skip > 0) {
			const skipped = Math.min(this.id3Skip, data.length);
			this.id3Skip -= skipped;
			this.base += skipped;
			data = data.subarray(skipped);
		}
		data = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
		const frames: Buffer[] = [];
		let offset = 0;
		for (;;) {
			if (this.id3Skip > 0) {
				const skipped = Math.min(this.id3Skip, data.length - offset);
				this.id3Skip -= skipped;
				offset += skipped;
				if (this.id3Skip > 0) break;
			}
			if (this.trailer) {
				offset = data.length;
				break;
			}
			const used = this.step(data, offset, frames);
			if (used < 0) break;
			offset += used;
		}
		this.base += offset;
		this.pending = offset >= data.length ? EMPTY : data.subarray(offset);
		return frames;
	}

	end(): void {
		if (this.pending.length > 0 && !this.trailer) {
			if (!this.first) throw corrupt('no MP3 frames were found in it');
			const header = readFrameHeader(this.pending, 0);
			if (header && header.signature === this.first.signature) {
				throw corrupt(`it ends in the middle of an MP3 frame (${this.pending.length} of ${header.length} bytes, at ${byteAt(this.base)}): the file is cut short`);
			}
			if (!isTrailer(this.pending, 0, true)) throw corrupt(`it ends with ${this.pending.length} bytes that are not MP3 frames (at ${byteAt(this.base)})`);
		}
		if (!this.first) throw corrupt('no MP3 frames were found in it');
	}

	private step(data: Buffer, offset: number, frames: Buffer[]): number {
		const at = this.base + offset;
		if (!this.startChecked) {
			if (data.length - offset < 10) return -1;
			if (data.toString('latin1', offset, offset + 3) === 'ID3') {
				const size = ((data[offset + 6] & 0x7f) << 21) | ((data[offset + 7] & 0x7f) << 14) | ((data[offset + 8] & 0x7f) << 7) | (data[offset + 9] & 0x7f);
				this.id3Skip = size + (data[offset + 5] & 0x10 ? 20 : 10);
				return 0;
			}
			this.startChecked = true;
		}
		if (data.length - offset < 4) return -1;
		if (!this.first) return this.findFirst(data, offset, frames);
		const header = readFrameHeader(data, offset);
		if (!header || header.signature !== this.first.signature) {
			if (isTrailer(data, offset, false)) {
				this.trailer = true;
				return 0;
			}
			if (header && header.signature === -1) throw unsupported('it is a free-format MP3, which the decoder does not take');
			if (header) throw unsupported(`its frames change format at ${byteAt(at)} (sample rate ${this.first.sampleRate} Hz, then ${header.sampleRate} Hz)`);
			throw corrupt(`at ${byteAt(at)}, after ${this.frames} good frames, there are bytes that are not an MP3 frame: the file is damaged`);
		}
		if (data.length - offset < header.length) return -1;
		frames.push(data.subarray(offset, offset + header.length));
		this.frames++;
		this.samples += header.samples;
		return header.length;
	}

	/** The first frame: where three frames follow one another (zero padding before it is allowed). */
	private findFirst(data: Buffer, offset: number, frames: Buffer[]): number {
		let position = offset;
		while (position < data.length && data[position] === 0) position++;
		if (data.length - position < 4) return position === offset ? -1 : position - offset;
		const header = readFrameHeader(data, position);
		if (!header) throw corrupt(`at ${byteAt(this.base + position)} there are bytes that are not an MP3 frame`);
		if (header.signature === -1) throw unsupported('it is a free-format MP3, which the decoder does not take');
		const next = position + header.length;
		if (data.length < next + 4) return position === offset ? -1 : position - offset;
		const second = readFrameHeader(data, next);
		if (!second || second.signature !== header.signature) {
			if (!isTrailer(data, next, false) && next < data.length) throw corrupt(`at ${byteAt(this.base + next)}, after the first frame, there are bytes that are not an MP3 frame`);
		}
		this.first = header;
		frames.push(data.subarray(position, next));
		this.frames++;
		this.samples += header.samples;
		return next - offset;
	}
}

/** Tags that may end an MP3: ID3v1 ("TAG", 128 bytes), APEv2, Lyrics3, or an ID3v2 appended at the end. */
function isTrailer(data: Buffer, offset: number, atEnd: boolean): boolean {
	const text = data.toString('latin1', offset, offset + 8);
	if (text.startsWith('TAG') || text.startsWith('APETAGEX') || text.startsWith('LYRICSBE') || text.startsWith('ID3')) return true;
	// Zero padding after the last frame.
	if (atEnd) return data.subarray(offset).every((byte) => byte === 0);
	return false;
}
