/** Writes large valid WAV files without holding them in memory. */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

import { makePcm16, wrapWav } from '../../test/sandbox/audio';

const CHUNK_BYTES = 1024 * 1024;
// 375 Hz at 24 kHz is a 64-sample (128-byte) period, so 1 MiB chunks join without a click.
const TONE = makePcm16(CHUNK_BYTES / 2 / 24000, 24000, 375);

/**
 * A mono 16-bit 24 kHz WAV of exactly `totalBytes` bytes (the 44-byte header included), written
 * 1 MiB at a time with backpressure. Returns its sha256, computed while writing.
 */
export async function writeWavFile(file: string, totalBytes: number): Promise<string> {
	const pcmBytes = totalBytes - 44;
	if (pcmBytes <= 0 || pcmBytes % 2 !== 0) throw new Error(`WAV size ${totalBytes} leaves no whole 16-bit samples`);
	// wrapWav of an empty buffer gives the header; patch the sizes for the real PCM length.
	const header = Buffer.from(wrapWav(Buffer.alloc(0)));
	header.writeUInt32LE(36 + pcmBytes, 4);
	header.writeUInt32LE(pcmBytes, 40);

	const hash = createHash('sha256');
	const out = fs.createWriteStream(file);
	const write = (chunk: Buffer) =>
		new Promise<void>((resolve, reject) => {
			hash.update(chunk);
			const flushed = out.write(chunk, (error) => (error ? reject(error) : undefined));
			if (flushed) resolve();
			else out.once('drain', resolve);
		});
	await write(header);
	for (let written = 0; written < pcmBytes; ) {
		const size = Math.min(CHUNK_BYTES, pcmBytes - written);
		await write(size === CHUNK_BYTES ? TONE : TONE.subarray(0, size));
		written += size;
	}
	await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
	return hash.digest('hex');
}
