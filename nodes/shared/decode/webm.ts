/**
 * Reads the Opus packets of a WebM (Matroska) file's audio track as its bytes arrive: a small EBML
 * reader for the elements a recording needs (docs/design.md, "Audio decoders": why not a
 * library).
 *
 * Browsers record WebM with MediaRecorder: a Segment and Clusters of unknown size (the length is
 * not known while recording), SimpleBlocks without lacing. Files from other muxers (ffmpeg,
 * mkvmerge) have sizes, BlockGroups, lacing, Cues and Tags. Both are read; elements the node does
 * not need are skipped without being held in memory (a video track's frames included).
 */
import type { OpusHead } from './ogg';
import { parseOpusHead } from './ogg';
import { AudioProblem, byteAt, corrupt, unsupported } from './problems';

const ID = {
	EBML: 0x1a45dfa3,
	DocType: 0x4282,
	Segment: 0x18538067,
	Info: 0x1549a966,
	Tracks: 0x1654ae6b,
	TrackEntry: 0xae,
	TrackNumber: 0xd7,
	TrackType: 0x83,
	CodecID: 0x86,
	CodecPrivate: 0x63a2,
	CodecDelay: 0x56aa,
	Audio: 0xe1,
	Channels: 0x9f,
	Cluster: 0x1f43b675,
	SimpleBlock: 0xa3,
	BlockGroup: 0xa0,
	Block: 0xa1,
	DiscardPadding: 0x75a2,
} as const;

/** Elements whose children are read. */
const MASTERS = new Set<number>([ID.EBML, ID.Segment, ID.Tracks, ID.TrackEntry, ID.Audio, ID.Cluster, ID.BlockGroup]);
/** Leaf elements whose value is read (all small). Blocks are read only for the chosen track. */
const VALUES = new Set<number>([ID.DocType, ID.TrackNumber, ID.TrackType, ID.CodecID, ID.CodecPrivate, ID.CodecDelay, ID.Channels, ID.DiscardPadding]);
/** What may appear in a Cluster (an unknown-size Cluster ends at the first element that may not). */
const CLUSTER_CHILDREN = new Set<number>([0xe7, 0xa7, 0xab, ID.SimpleBlock, ID.BlockGroup, 0xaf, 0x58d7, 0xec, 0xbf]);
/** Largest value element read into memory (CodecPrivate of audio is tiny; a cover image is not read). */
const MAX_VALUE_BYTES = 1 << 16;
/** An audio block holds a few Opus packets (at most 1275 bytes each for 20 ms). */
const MAX_BLOCK_BYTES = 1 << 20;
const UNKNOWN = -1;

interface Track {
	number: number;
	type?: number;
	codec?: string;
	codecPrivate?: Buffer;
	codecDelayNs?: number;
	channels?: number;
}

export interface WebmPacket {
	data: Buffer;
	/** Nanoseconds of padding to drop from the end of this block's audio (DiscardPadding). */
	discardNs: number;
}

interface Open {
	id: number;
	/** File offset where it ends, or UNKNOWN. */
	end: number;
}

const EMPTY = Buffer.alloc(0);

export class WebmOpusReader {
	private pending: Buffer = EMPTY;
	private base = 0;
	private readonly stack: Open[] = [];
	/** Bytes of the current element still to skip (a video frame, a cover image …). */
	private skip = 0;
	private skipFrom = 0;
	private docType?: string;
	private tracks: Track[] = [];
	private trackEntry?: Track;
	private tracksDone = false;
	private audioTrack?: Track;
	private groupBlock?: Buffer;
	private groupDiscard = 0;
	private started = false;
	head?: OpusHead;

	push(chunk: Buffer): WebmPacket[] {
		const out: WebmPacket[] = [];
		let data = chunk;
		if (this.skip > 0) {
			const skipped = Math.min(this.skip, data.length);
			this.skip -= skipped;
			this.base += skipped;
			data = data.subarray(skipped);
			if (this.skip > 0) return out;
		}
		data = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
		let offset = 0;
		for (;;) {
			const used = this.step(data, offset, out);
			if (used < 0) break;
			offset += used;
			if (this.skip > 0) {
				const skipped = Math.min(this.skip, data.length - offset);
				this.skip -= skipped;
				offset += skipped;
				if (this.skip > 0) break;
			}
		}
		this.base += offset;
		this.pending = offset >= data.length ? EMPTY : data.subarray(offset);
		return out;
	}

	/** Checks that the file ended where it should. */
	end(): WebmPacket[] {
		const out: WebmPacket[] = [];
		if (this.skip > 0) throw corrupt(`it ends inside an element that began at ${byteAt(this.skipFrom)} (${this.skip} bytes missing): the file is cut short`);
		if (this.pending.length > 0) throw corrupt(`it ends in the middle of an element (${this.pending.length} bytes from ${byteAt(this.base)} on): the file is cut short`);
		for (const open of this.stack) {
			if (open.end !== UNKNOWN && open.end > this.base) throw corrupt(`it ends before its ${nameOf(open.id)} does (${open.end - this.base} bytes missing): the file is cut short`);
		}
		this.closeTo(this.base, out);
		while (this.stack.length > 0) this.close(out);
		if (!this.started) throw corrupt('it has no EBML header: it is not a WebM file');
		if (!this.tracksDone) throw corrupt('it has no track list: the file is cut short or not a complete WebM recording');
		return out;
	}

	/** Reads one element header (and a small value) at `offset`; returns bytes used, or -1 for "need more". */
	private step(data: Buffer, offset: number, out: WebmPacket[]): number {
		const at = this.base + offset;
		this.closeTo(at, out);
		if (offset >= data.length) return -1;
		const id = readId(data, offset);
		if (id === undefined) return -1;
		if (id.value === -1) throw corrupt(`at ${byteAt(at)} there are bytes that are not a WebM element`);
		const size = readSize(data, offset + id.length);
		if (size === undefined) return -1;
		if (size.value === -2) throw corrupt(`the element at ${byteAt(at)} has an invalid size`);
		const headerLength = id.length + size.length;
		if (!this.started) {
			if (id.value !== ID.EBML) throw corrupt('it does not begin with an EBML header: it is not a WebM file');
			this.started = true;
		}
		// An element that may not sit in an unknown-size Cluster closes it.
		const top = this.stack[this.stack.length - 1];
		if (top && top.end === UNKNOWN && top.id === ID.Cluster && !CLUSTER_CHILDREN.has(id.value)) {
			this.close(out);
			return 0;
		}
		if (size.value === UNKNOWN && id.value !== ID.Segment && id.value !== ID.Cluster) {
			throw corrupt(`the ${nameOf(id.value)} at ${byteAt(at)} has an unknown size, which only a Segment or Cluster may have`);
		}
		const end = size.value === UNKNOWN ? UNKNOWN : at + headerLength + size.value;
		const parentEnd = this.stack.length > 0 ? this.stack[this.stack.length - 1].end : UNKNOWN;
		if (end !== UNKNOWN && parentEnd !== UNKNOWN && end > parentEnd) {
			throw corrupt(`the element at ${byteAt(at)} runs past the end of its ${nameOf(this.stack[this.stack.length - 1].id)}: the file is damaged`);
		}
		if (MASTERS.has(id.value)) {
			if (id.value === ID.Segment && this.docType === undefined) throw corrupt('its EBML header names no document type');
			this.open(id.value, end);
			return headerLength;
		}
		const isBlock = id.value === ID.SimpleBlock || id.value === ID.Block;
		if (isBlock && !this.tracksDone) throw corrupt(`it has audio blocks before its track list (at ${byteAt(at)})`);
		const wanted = VALUES.has(id.value) || (isBlock && this.blockIsOurs(data, offset + headerLength));
		if (wanted === undefined) return -1;
		if (isBlock && wanted && size.value > MAX_BLOCK_BYTES) throw corrupt(`the audio block at ${byteAt(at)} says it is ${size.value} bytes long: the file is damaged`);
		if (!wanted || (!isBlock && size.value > MAX_VALUE_BYTES)) {
			this.skip = size.value;
			this.skipFrom = at;
			return headerLength;
		}
		if (data.length - offset < headerLength + size.value) return -1;
		const value = data.subarray(offset + headerLength, offset + headerLength + size.value);
		this.value(id.value, value, at, out);
		return headerLength + size.value;
	}

	/** Whether a block belongs to the audio track: undefined until its track number has arrived. */
	private blockIsOurs(data: Buffer, offset: number): boolean | undefined {
		const track = readSize(data, offset);
		if (track === undefined) return undefined;
		return this.audioTrack !== undefined && track.value === this.audioTrack.number;
	}

	private value(id: number, value: Buffer, at: number, out: WebmPacket[]): void {
		const entry = this.trackEntry;
		switch (id) {
			case ID.DocType:
				this.docType = value.toString('latin1').replace(/\0+$/, '');
				if (this.docType !== 'webm' && this.docType !== 'matroska') throw unsupported(`its EBML document type is "${this.docType}", not WebM or Matroska`);
				return;
			case ID.TrackNumber:
				if (entry) entry.number = readUint(value);
				return;
			case ID.TrackType:
				if (entry) entry.type = readUint(value);
				return;
			case ID.CodecID:
				if (entry) entry.codec = value.toString('latin1').replace(/\0+$/, '');
				return;
			case ID.CodecPrivate:
				if (entry) entry.codecPrivate = Buffer.from(value);
				return;
			case ID.CodecDelay:
				if (entry) entry.codecDelayNs = readUint(value);
				return;
			case ID.Channels:
				if (entry) entry.channels = readUint(value);
				return;
			case ID.DiscardPadding:
				this.groupDiscard = readInt(value);
				return;
			case ID.SimpleBlock:
				for (const data of this.lacedFrames(value, at)) out.push({ data, discardNs: 0 });
				return;
			case ID.Block:
				this.groupBlock = Buffer.from(value);
				return;
		}
	}

	private open(id: number, end: number): void {
		this.stack.push({ id, end });
		if (id === ID.TrackEntry) this.trackEntry = { number: 0 };
		if (id === ID.BlockGroup) {
			this.groupBlock = undefined;
			this.groupDiscard = 0;
		}
		if (id === ID.Tracks && this.tracksDone) throw unsupported('it has more than one track list');
	}

	/** Closes every open element that ends at or before `at`. */
	private closeTo(at: number, out: WebmPacket[]): void {
		while (this.stack.length > 0) {
			const top = this.stack[this.stack.length - 1];
			if (top.end === UNKNOWN || top.end > at) return;
			this.close(out);
		}
	}

	private close(out: WebmPacket[]): void {
		const closed = this.stack.pop();
		if (!closed) return;
		if (closed.id === ID.TrackEntry && this.trackEntry) {
			this.tracks.push(this.trackEntry);
			this.trackEntry = undefined;
		} else if (closed.id === ID.Tracks) {
			this.chooseTrack();
		} else if (closed.id === ID.BlockGroup && this.groupBlock) {
			const frames = this.lacedFrames(this.groupBlock, this.base);
			frames.forEach((data, index) => out.push({ data, discardNs: index === frames.length - 1 ? Math.max(0, this.groupDiscard) : 0 }));
			this.groupBlock = undefined;
		}
	}

	private chooseTrack(): void {
		this.tracksDone = true;
		const audio = this.tracks.filter((track) => track.type === 2);
		if (audio.length === 0) {
			const kinds = this.tracks.map((track) => (track.type === 1 ? 'video' : track.type === 17 ? 'subtitles' : 'other')).join(', ');
			throw new AudioProblem('noAudio', `it has no audio track${kinds ? ` (its tracks: ${kinds})` : ''}`);
		}
		const opus = audio.find((track) => track.codec === 'A_OPUS');
		if (!opus) throw unsupported(`its audio is ${audio.map((track) => codecLabel(track.codec)).join(', ')}, not Opus`);
		this.audioTrack = opus;
		if (opus.codecPrivate && opus.codecPrivate.length >= 19) {
			this.head = parseOpusHead(opus.codecPrivate, 'the track’s CodecPrivate');
		} else {
			const channels = opus.channels ?? 1;
			if (channels > 2) throw unsupported(`it is multichannel Opus (${channels} channels); voice notes are mono or stereo`);
			this.head = { channels, preSkip: Math.round(((opus.codecDelayNs ?? 0) * 48000) / 1e9), gain: 0, inputSampleRate: 48000 };
		}
	}

	/** The frames of a block for the chosen track (lacing: none, Xiph, fixed-size or EBML). */
	private lacedFrames(block: Buffer, at: number): Buffer[] {
		const track = readSize(block, 0);
		if (track === undefined || track.value < 0 || block.length < track.length + 3) throw corrupt(`the block at ${byteAt(at)} is too short`);
		if (!this.audioTrack || track.value !== this.audioTrack.number) return [];
		let offset = track.length + 2;
		const flags = block[offset++];
		const lacing = (flags >> 1) & 3;
		if (lacing === 0) return [block.subarray(offset)];
		const bad = () => corrupt(`the block at ${byteAt(at)} has a damaged lacing table`);
		if (offset >= block.length) throw bad();
		const count = block[offset++] + 1;
		const sizes: number[] = [];
		if (lacing === 1) {
			for (let i = 0; i < count - 1; i++) {
				let size = 0;
				let byte: number;
				do {
					if (offset >= block.length) throw bad();
					byte = block[offset++];
					size += byte;
				} while (byte === 255);
				sizes.push(size);
			}
		} else if (lacing === 3) {
			let previous = 0;
			for (let i = 0; i < count - 1; i++) {
				const read = readSize(block, offset);
				if (read === undefined || read.value < 0) throw bad();
				offset += read.length;
				if (i === 0) previous = read.value;
				else {
					const bias = 2 ** (7 * read.length - 1) - 1;
					previous += read.value - bias;
				}
				if (previous < 0) throw bad();
				sizes.push(previous);
			}
		} else {
			const total = block.length - offset;
			if (total % count !== 0) throw bad();
			for (let i = 0; i < count - 1; i++) sizes.push(total / count);
		}
		const used = sizes.reduce((sum, size) => sum + size, 0);
		if (offset + used > block.length) throw bad();
		sizes.push(block.length - offset - used);
		const frames: Buffer[] = [];
		for (const size of sizes) {
			frames.push(block.subarray(offset, offset + size));
			offset += size;
		}
		return frames;
	}
}

/** An element ID (1-4 bytes, marker bits kept); value -1 for an invalid first byte. */
function readId(data: Buffer, offset: number): { value: number; length: number } | undefined {
	if (offset >= data.length) return undefined;
	const first = data[offset];
	const length = first >= 0x80 ? 1 : first >= 0x40 ? 2 : first >= 0x20 ? 3 : first >= 0x10 ? 4 : 0;
	if (length === 0) return { value: -1, length: 1 };
	if (data.length - offset < length) return undefined;
	let value = 0;
	for (let i = 0; i < length; i++) value = value * 256 + data[offset + i];
	return { value, length };
}

/** A variable-size integer (1-8 bytes, marker removed); UNKNOWN when all value bits are 1, -2 when invalid. */
function readSize(data: Buffer, offset: number): { value: number; length: number } | undefined {
	if (offset >= data.length) return undefined;
	const first = data[offset];
	if (first === 0) return { value: -2, length: 1 };
	let length = 1;
	while (!(first & (0x80 >> (length - 1)))) length++;
	if (data.length - offset < length) return undefined;
	let value = first & (0xff >> length);
	let allOnes = value === 0xff >> length;
	for (let i = 1; i < length; i++) {
		value = value * 256 + data[offset + i];
		if (data[offset + i] !== 0xff) allOnes = false;
	}
	return { value: allOnes ? UNKNOWN : value, length };
}

function readUint(value: Buffer): number {
	let result = 0;
	for (const byte of value) result = result * 256 + byte;
	return result;
}

function readInt(value: Buffer): number {
	if (value.length === 0) return 0;
	let result = value[0] & 0x80 ? -1 : 0;
	for (const byte of value) result = result * 256 + byte;
	return result;
}

function nameOf(id: number): string {
	const entry = Object.entries(ID).find(([, value]) => value === id);
	return entry ? entry[0] : `element 0x${id.toString(16)}`;
}

function codecLabel(codec: string | undefined): string {
	if (!codec) return 'an unnamed codec';
	const known: Record<string, string> = { A_VORBIS: 'Vorbis', A_AAC: 'AAC', A_FLAC: 'FLAC', A_MPEG_L3: 'MP3', A_PCM_INT_LIT: 'PCM' };
	return known[codec] ?? codec;
}
