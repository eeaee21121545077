/**
 * Reads a WAV file's samples as its bytes arrive, for *Convert Input to WAV: Always*: integer PCM
 * of 8, 16, 24 or 32 bits and 32- or 64-bit float, any channels and rate (WAVE_FORMAT_EXTENSIBLE
 * too), chunks in any order before `data`.
 */
import { byteAt, corrupt, unsupported } from './problems';

export interface WavFormat {
	channels: number;
	sampleRate: number;
	bitsPerSample: number;
	float: boolean;
	/** Bytes of sample data the header announces (cut to the file when it says 0 or too much). */
	dataBytes: number;
}

const EMPTY = Buffer.alloc(0);
/** Frames turned into floats at a time: a slice of work that stays well under a millisecond. */
const PIECE_FRAMES = 4096;

export class WavReader {
	private pending: Buffer = EMPTY;
	private base = 0;
	private skip = 0;
	private fmt?: Omit<WavFormat, 'dataBytes'>;
	private inData = false;
	private dataLeft = Number.POSITIVE_INFINITY;
	private headerChecked = false;
	format?: WavFormat;

	/** Feeds bytes; returns pieces of samples, one Float32Array per channel. */
	push(chunk: Buffer): Float32Array[][] {
		let data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
		let offset = 0;
		const out: Float32Array[][] = [];
		while (offset < data.length) {
			if (this.skip > 0) {
				const skipped = Math.min(this.skip, data.length - offset);
				this.skip -= skipped;
				offset += skipped;
				continue;
			}
			if (!this.headerChecked) {
				if (data.length - offset < 12) break;
				if (data.toString('latin1', offset, offset + 4) !== 'RIFF' || data.toString('latin1', offset + 8, offset + 12) !== 'WAVE') throw corrupt('it has no RIFF/WAVE header');
				this.headerChecked = true;
				offset += 12;
				continue;
			}
			if (this.inData && this.format) {
				const frameBytes = (this.format.bitsPerSample / 8) * this.format.channels;
				const available = Math.min(data.length - offset, this.dataLeft);
				const frames = Math.min(Math.floor(available / frameBytes), PIECE_FRAMES);
				if (frames === 0) {
					if (this.dataLeft <= available) {
						offset += available; // a partial frame at the end of the data chunk
						this.dataLeft = 0;
						this.inData = false;
						continue;
					}
					break;
				}
				out.push(toFloat(data, offset, frames, this.format));
				offset += frames * frameBytes;
				this.dataLeft -= frames * frameBytes;
				if (this.dataLeft === 0) this.inData = false;
				continue;
			}
			if (data.length - offset < 8) break;
			const id = data.toString('latin1', offset, offset + 4);
			const size = data.readUInt32LE(offset + 4);
			if (id === 'fmt ') {
				if (data.length - offset < 8 + Math.min(size, 40)) break;
				this.fmt = readFmt(data.subarray(offset + 8, offset + 8 + Math.min(size, 40)), size);
				offset += 8;
				this.skip = size + (size % 2);
				continue;
			}
			if (id === 'data') {
				if (!this.fmt) throw corrupt('its data chunk comes before its format chunk');
				if (this.format) {
					this.skip = size + (size % 2);
					offset += 8;
					continue;
				}
				this.format = { ...this.fmt, dataBytes: size };
				this.inData = true;
				this.dataLeft = size === 0 || size === 0xffffffff ? Number.POSITIVE_INFINITY : size;
				offset += 8;
				continue;
			}
			if (!/^[\x20-\x7e]{4}$/.test(id)) throw corrupt(`at ${byteAt(this.base + offset)} there are bytes that are not a WAV chunk`);
			offset += 8;
			this.skip = size + (size % 2);
		}
		this.base += offset;
		this.pending = offset >= data.length ? EMPTY : data.subarray(offset);
		data = EMPTY;
		return out;
	}

	end(): void {
		if (!this.format) throw corrupt('it has no data chunk');
		if (this.dataLeft !== Number.POSITIVE_INFINITY && this.dataLeft > 0) {
			throw corrupt(`it ends ${this.dataLeft} bytes before its data chunk does: the file is cut short`);
		}
	}
}

function readFmt(body: Buffer, size: number): Omit<WavFormat, 'dataBytes'> {
	if (size < 16) throw corrupt('its format chunk is too short');
	let tag = body.readUInt16LE(0);
	if (tag === 0xfffe && size >= 26 && body.length >= 26) tag = body.readUInt16LE(24);
	const channels = body.readUInt16LE(2);
	const sampleRate = body.readUInt32LE(4);
	const bitsPerSample = body.readUInt16LE(14);
	if (channels === 0 || sampleRate === 0) throw corrupt('its format chunk says 0 channels or 0 Hz');
	if (sampleRate < 4000 || sampleRate > 384000) throw unsupported(`its sample rate is ${sampleRate} Hz`);
	const float = tag === 3;
	if (!(tag === 1 && [8, 16, 24, 32].includes(bitsPerSample)) && !(float && (bitsPerSample === 32 || bitsPerSample === 64))) {
		throw unsupported(`its samples are format ${tag} with ${bitsPerSample} bits (the node reads integer PCM of 8 to 32 bits and float)`);
	}
	return { channels, sampleRate, bitsPerSample, float };
}

function toFloat(data: Buffer, offset: number, frames: number, format: Omit<WavFormat, 'dataBytes'>): Float32Array[] {
	const { channels, bitsPerSample, float } = format;
	const bytes = bitsPerSample / 8;
	const out = Array.from({ length: channels }, () => new Float32Array(frames));
	for (let frame = 0; frame < frames; frame++) {
		for (let channel = 0; channel < channels; channel++) {
			const at = offset + (frame * channels + channel) * bytes;
			let value: number;
			if (float) value = bytes === 4 ? data.readFloatLE(at) : data.readDoubleLE(at);
			else if (bytes === 2) value = data.readInt16LE(at) / 32768;
			else if (bytes === 1) value = (data[at] - 128) / 128;
			else if (bytes === 3) value = data.readIntLE(at, 3) / 8388608;
			else value = data.readInt32LE(at) / 2147483648;
			out[channel][frame] = value;
		}
	}
	return out;
}
