/**
 * A minimal Ogg muxer for one logical stream (RFC 3533) and the Ogg Opus headers (RFC 7845).
 */

/** Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0, no final XOR. */
const CRC_TABLE = (() => {
	const table = new Uint32Array(256);
	for (let i = 0; i < 256; i++) {
		let r = i << 24;
		for (let bit = 0; bit < 8; bit++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
		table[i] = r >>> 0;
	}
	return table;
})();

export function oggCrc(bytes: Uint8Array): number {
	return oggCrcUpdate(0, bytes, 0, bytes.length);
}

/** Continues an Ogg CRC-32 over bytes[from..to) (the decoder checks a page in parts). */
export function oggCrcUpdate(crc: number, bytes: Uint8Array, from: number, to: number): number {
	for (let i = from; i < to; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ bytes[i]) & 0xff]) >>> 0;
	return crc >>> 0;
}

const EMPTY = Buffer.alloc(0);
const FLAG_CONTINUED = 0x01;
const FLAG_BOS = 0x02;
const FLAG_EOS = 0x04;
/** Packets per audio page: 50 × 20 ms = one second, a page of a few kB at voice bit rates. */
const PACKETS_PER_PAGE = 50;

/** Builds pages; packets never span pages (each Opus packet is far below 255 × 255 bytes). */
export class OggStream {
	private sequence = 0;
	private pending: Buffer[] = [];
	private pendingSegments = 0;
	private lastGranule = BigInt(0);
	private audioPages = 0;

	constructor(private readonly serial: number) {}

	/** One page with exactly these packets. */
	page(packets: Buffer[], granule: bigint, flags: number): Buffer {
		const lacing: number[] = [];
		for (const packet of packets) {
			let left = packet.length;
			while (left >= 255) {
				lacing.push(255);
				left -= 255;
			}
			lacing.push(left);
		}
		if (lacing.length > 255) throw new Error(`an Ogg page holds at most 255 segments, not ${lacing.length}`);
		const header = Buffer.alloc(27 + lacing.length);
		header.write('OggS', 0, 'latin1');
		header[4] = 0; // stream structure version
		header[5] = flags;
		header.writeBigInt64LE(granule, 6);
		header.writeUInt32LE(this.serial, 14);
		header.writeUInt32LE(this.sequence++, 18);
		header.writeUInt32LE(0, 22); // CRC, filled below
		header[26] = lacing.length;
		Buffer.from(lacing).copy(header, 27);
		const page = Buffer.concat([header, ...packets]);
		page.writeUInt32LE(oggCrc(page), 22);
		return page;
	}

	/**
	 * Queues an audio packet; returns the page it completes, if any (else an empty buffer). A page
	 * is closed only when the next packet arrives, so the last page always has packets for `end()`.
	 * The first audio page holds one packet: decoders that apply pre-skip only from the second audio
	 * page on (ogg-opus-decoder 1.7) then still play short clips at their exact length.
	 */
	add(packet: Buffer, granuleAfter: bigint): Buffer {
		const segments = Math.floor(packet.length / 255) + 1;
		let out: Buffer = EMPTY;
		const full = this.pending.length >= (this.audioPages === 0 ? 1 : PACKETS_PER_PAGE);
		if (this.pending.length > 0 && (full || this.pendingSegments + segments > 255)) out = this.flush(this.lastGranule, 0);
		this.pending.push(packet);
		this.pendingSegments += segments;
		this.lastGranule = granuleAfter;
		return out;
	}

	/** Writes the queued packets as one page (empty buffer when none are queued and not EOS). */
	flush(granule: bigint, flags: number): Buffer {
		if (this.pending.length === 0 && !(flags & FLAG_EOS)) return EMPTY;
		const page = this.page(this.pending, granule, flags);
		this.audioPages++;
		this.pending = [];
		this.pendingSegments = 0;
		return page;
	}

	/** The last page: the queued packets, end-trimmed to `finalGranule`, with the EOS flag. */
	end(finalGranule: bigint): Buffer {
		return this.flush(finalGranule, FLAG_EOS);
	}
}

export const OGG_FLAGS = { CONTINUED: FLAG_CONTINUED, BOS: FLAG_BOS, EOS: FLAG_EOS };

/** The identification header (RFC 7845 §5.1): version 1, mono, channel mapping family 0. */
export function opusHead(preSkip: number, inputSampleRate: number): Buffer {
	const head = Buffer.alloc(19);
	head.write('OpusHead', 0, 'latin1');
	head[8] = 1; // version
	head[9] = 1; // channels
	head.writeUInt16LE(preSkip, 10);
	head.writeUInt32LE(inputSampleRate, 12);
	head.writeInt16LE(0, 16); // output gain
	head[18] = 0; // mapping family
	return head;
}

/** The comment header (RFC 7845 §5.2). */
export function opusTags(vendor: string, comments: string[]): Buffer {
	const parts: Buffer[] = [Buffer.from('OpusTags', 'latin1')];
	const lengthPrefixed = (text: string) => {
		const bytes = Buffer.from(text, 'utf8');
		const length = Buffer.alloc(4);
		length.writeUInt32LE(bytes.length, 0);
		parts.push(length, bytes);
	};
	lengthPrefixed(vendor);
	const count = Buffer.alloc(4);
	count.writeUInt32LE(comments.length, 0);
	parts.push(count);
	for (const comment of comments) lengthPrefixed(comment);
	return Buffer.concat(parts);
}
