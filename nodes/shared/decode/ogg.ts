/**
 * Reads Opus packets out of an Ogg stream (RFC 3533, RFC 7845) as its bytes arrive: pages are
 * checked (capture pattern, version, CRC-32, page sequence), packets are put together across
 * pages, and the OpusHead header gives the channels, pre-skip and gain. Logical streams that are
 * not Opus (a Theora video beside it) are skipped.
 */
import { oggCrcUpdate as crcUpdate } from '../encode/ogg';
import { corrupt, unsupported, byteAt } from './problems';

export interface OpusHead {
	channels: number;
	/** Samples at 48 kHz the decoder must drop from the start. */
	preSkip: number;
	/** Output gain, Q7.8 dB. */
	gain: number;
	inputSampleRate: number;
}

/** OpusHead (RFC 7845 §5.1), or why it cannot be used. */
export function parseOpusHead(packet: Uint8Array, where: string): OpusHead {
	const bytes = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
	if (bytes.length < 19 || bytes.toString('latin1', 0, 8) !== 'OpusHead') throw corrupt(`its Opus stream has no valid OpusHead header (${where})`);
	if (bytes[8] >> 4 !== 0) throw unsupported(`its Opus header has version ${bytes[8]}, which no decoder knows`);
	const channels = bytes[9];
	const family = bytes[18];
	if (channels === 0) throw corrupt('its Opus header says 0 channels');
	if (family !== 0 || channels > 2) throw unsupported(`it is multichannel Opus (${channels} channels, mapping family ${family}); voice notes are mono or stereo`);
	return { channels, preSkip: bytes.readUInt16LE(10), inputSampleRate: bytes.readUInt32LE(12), gain: bytes.readInt16LE(16) };
}

const EMPTY = Buffer.alloc(0);

export class OggOpusReader {
	/** Bytes received and not yet read; `base` is the file offset of pending[0]. */
	private pending: Buffer = EMPTY;
	private base = 0;
	private serial?: number;
	private sequence = -1;
	private packetParts: Buffer[] = [];
	private headers = 0;
	private bosSeen = false;
	private ended = false;
	head?: OpusHead;
	/** Granule position of the last page with a packet ending on it (48 kHz samples). */
	lastGranule = -1;
	/** Codec names of other logical streams seen (for a clear message when no Opus stream is found). */
	private otherCodecs: string[] = [];

	/** Feeds bytes; returns the audio packets completed by them, in order. */
	push(chunk: Buffer): Buffer[] {
		const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
		const packets: Buffer[] = [];
		let offset = 0;
		while (data.length - offset >= 27) {
			const at = this.base + offset;
			if (data[offset] !== 0x4f || data[offset + 1] !== 0x67 || data[offset + 2] !== 0x67 || data[offset + 3] !== 0x53) {
				throw corrupt(`at ${byteAt(at)} there are bytes that are not an Ogg page (no "OggS" capture pattern)`);
			}
			if (data[offset + 4] !== 0) throw corrupt(`the Ogg page at ${byteAt(at)} has an unknown structure version`);
			const segments = data[offset + 26];
			if (data.length - offset < 27 + segments) break;
			let bodyLength = 0;
			for (let i = 0; i < segments; i++) bodyLength += data[offset + 27 + i];
			const pageLength = 27 + segments + bodyLength;
			if (data.length - offset < pageLength) break;
			this.readPage(data, offset, segments, pageLength, packets);
			offset += pageLength;
		}
		this.pending = offset === data.length ? EMPTY : data.subarray(offset);
		this.base += offset;
		return packets;
	}

	/** Checks that the stream ended where it should; throws if it was cut short or never had Opus. */
	end(): void {
		if (this.pending.length > 0) {
			throw corrupt(`it ends in the middle of an Ogg page (${this.pending.length} bytes from ${byteAt(this.base)} on): the file is cut short`);
		}
		if (this.serial === undefined) {
			if (!this.bosSeen) throw corrupt('it holds no Ogg pages');
			if (this.otherCodecs.length > 0) throw unsupported(`its Ogg stream holds ${this.otherCodecs.join(' and ')}, not Opus`);
			throw unsupported('its Ogg stream holds no Opus audio');
		}
		if (this.headers < 2) throw corrupt('it ends before its Opus headers are complete: the file is cut short');
		if (this.packetParts.length > 0 && !this.ended) throw corrupt('it ends in the middle of an Opus packet: the file is cut short');
	}

	private readPage(data: Buffer, offset: number, segments: number, pageLength: number, packets: Buffer[]): void {
		const at = this.base + offset;
		const flags = data[offset + 5];
		const serial = data.readUInt32LE(offset + 14);
		const sequence = data.readUInt32LE(offset + 18);
		const stored = data.readUInt32LE(offset + 22);
		let crc = crcUpdate(0, data, offset, offset + 22);
		crc = crcUpdate(crc, ZERO_CRC, 0, 4);
		crc = crcUpdate(crc, data, offset + 26, offset + pageLength);
		if (crc !== stored) throw corrupt(`the Ogg page at ${byteAt(at)} fails its checksum (CRC-32): the file is damaged`);
		const bos = (flags & 0x02) !== 0;
		if (bos) this.bosSeen = true;
		if (this.serial === undefined) {
			if (!bos) {
				if (!this.bosSeen) throw corrupt(`its first Ogg page (at ${byteAt(at)}) does not begin a stream`);
				return;
			}
			const first = data.subarray(offset + 27 + segments, offset + 27 + segments + Math.min(8, pageLength - 27 - segments));
			const magic = first.toString('latin1');
			if (magic !== 'OpusHead') {
				this.otherCodecs.push(codecName(first));
				return;
			}
			this.serial = serial;
		} else if (serial !== this.serial) {
			if (bos && this.headers >= 2 && this.ended) throw unsupported('it is a chained Ogg file (several recordings one after another)');
			return;
		}
		if (this.ended) throw corrupt(`it goes on after the Ogg stream's last page (at ${byteAt(at)})`);
		if (this.sequence >= 0 && sequence !== this.sequence + 1) {
			throw corrupt(`an Ogg page is missing before ${byteAt(at)} (page ${this.sequence + 1} expected, page ${sequence} found)`);
		}
		this.sequence = sequence;
		const continued = (flags & 0x01) !== 0;
		if (continued !== this.packetParts.length > 0) {
			throw corrupt(`the Ogg page at ${byteAt(at)} ${continued ? 'continues a packet that was never begun' : 'drops the end of a packet'}`);
		}
		const granule = Number(data.readBigInt64LE(offset + 6));
		let body = offset + 27 + segments;
		let packetStart = body;
		let completed = 0;
		for (let i = 0; i < segments; i++) {
			const lacing = data[offset + 27 + i];
			body += lacing;
			if (lacing < 255) {
				const piece = data.subarray(packetStart, body);
				const packet = this.packetParts.length > 0 ? Buffer.concat([...this.packetParts, piece]) : piece;
				this.packetParts = [];
				completed++;
				this.takePacket(packet, at, packets);
				packetStart = body;
			}
		}
		if (packetStart < body || (segments > 0 && data[offset + 27 + segments - 1] === 255)) this.packetParts.push(data.subarray(packetStart, body));
		if (completed > 0 && granule >= 0) this.lastGranule = granule;
		if (flags & 0x04) this.ended = true;
	}

	private takePacket(packet: Buffer, at: number, packets: Buffer[]): void {
		if (this.headers === 0) {
			this.head = parseOpusHead(packet, `page at ${byteAt(at)}`);
			this.headers++;
			return;
		}
		if (this.headers === 1) {
			if (packet.toString('latin1', 0, 8) !== 'OpusTags') throw corrupt(`its second Opus header is not OpusTags (page at ${byteAt(at)})`);
			this.headers++;
			return;
		}
		packets.push(packet);
	}
}

const ZERO_CRC = new Uint8Array(4);

function codecName(first: Buffer): string {
	const text = first.toString('latin1');
	if (text.startsWith('\x01vorbis')) return 'Vorbis';
	if (text.startsWith('\x7fFLAC')) return 'FLAC';
	if (text.startsWith('Speex')) return 'Speex';
	if (text.startsWith('\x80theora')) return 'Theora video';
	return 'an unknown codec';
}

/** Samples at 48 kHz in an Opus packet, from its TOC byte (RFC 6716 §3.1); 0 for an empty packet. */
export function opusPacketSamples(packet: Uint8Array): number {
	if (packet.length === 0) return 0;
	const toc = packet[0];
	const config = toc >> 3;
	const frame48k = config < 12 ? [480, 960, 1920, 2880][config & 3] : config < 16 ? [480, 960][config & 1] : [120, 240, 480, 960][config & 3];
	const code = toc & 3;
	const frames = code === 0 ? 1 : code === 3 ? (packet.length > 1 ? packet[1] & 0x3f : 0) : 2;
	return frames * frame48k;
}
