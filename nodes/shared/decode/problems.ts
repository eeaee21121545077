/**
 * What can be wrong with a recording the node reads, as plain errors the demuxers throw. The
 * caller (convert.ts) turns them into a NodeOperationError that names the parameter, the binary
 * field and the item; a decoder's own stack trace never reaches the user.
 */
export type AudioProblemKind =
	/** Cut short, bytes that are no part of the format, a bad checksum, a packet libopus refuses. */
	| 'corrupt'
	/** A codec or layout the node has no decoder for (Vorbis in Ogg, AAC in WebM, 6 channels …). */
	| 'unsupported'
	/** A container with no audio in it (a WebM with only a video track). */
	| 'noAudio'
	/** Longer than the operation takes. */
	| 'tooLong';

export class AudioProblem extends Error {
	constructor(
		readonly kind: AudioProblemKind,
		message: string,
	) {
		super(message);
		this.name = 'AudioProblem';
	}
}

export const corrupt = (message: string) => new AudioProblem('corrupt', message);
export const unsupported = (message: string) => new AudioProblem('unsupported', message);

/** 48 213 → "48,213": byte offsets in messages. */
export function byteAt(offset: number): string {
	return `byte ${offset.toLocaleString('en-US')}`;
}

/** 3725.4 → "62 min 5 s"; 42.3 → "42.3 s". */
export function describeSeconds(seconds: number): string {
	if (seconds < 60) return `${Math.round(seconds * 10) / 10} s`;
	const minutes = Math.floor(seconds / 60);
	const rest = Math.round(seconds - minutes * 60);
	return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
}
