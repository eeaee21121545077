/**
 * Mono signed 16-bit little-endian PCM arriving in chunks of any length: an odd trailing byte is
 * kept for the next chunk so no sample is split or shifted.
 */
export class PcmInput {
	private carry: number | undefined;
	/** Whole samples taken so far. */
	samples = 0;

	/**
	 * The whole samples in `chunk` (plus a byte carried from the previous chunk) as Int16: a view
	 * of the caller's memory when it is 2-byte aligned (valid until the caller reuses the buffer,
	 * i.e. during the awaited write), else an aligned copy. Hosts n8n runs on are little-endian.
	 */
	take(chunk: Buffer): Int16Array {
		let bytes = chunk;
		if (this.carry !== undefined && chunk.length > 0) {
			bytes = Buffer.concat([Buffer.from([this.carry]), chunk]);
			this.carry = undefined;
		}
		const whole = bytes.length - (bytes.length % 2);
		if (whole < bytes.length) this.carry = bytes[bytes.length - 1];
		this.samples += whole / 2;
		if (bytes.byteOffset % 2 === 0) return new Int16Array(bytes.buffer, bytes.byteOffset, whole / 2);
		const samples = new Int16Array(whole / 2);
		new Uint8Array(samples.buffer).set(bytes.subarray(0, whole));
		return samples;
	}

	/** True when a lone byte is still waiting for its pair (an odd total): it is dropped at the end. */
	get hasDanglingByte(): boolean {
		return this.carry !== undefined;
	}
}

/** Int16 samples to floats in [-1, 1). */
export function toFloat(samples: Int16Array): Float32Array {
	const out = new Float32Array(samples.length);
	for (let i = 0; i < samples.length; i++) out[i] = samples[i] / 32768;
	return out;
}

/** Floats in [-1, 1] to Int16 samples, rounded and clamped. */
export function toInt16(samples: Float32Array): Int16Array {
	const out = new Int16Array(samples.length);
	for (let i = 0; i < samples.length; i++) {
		const value = Math.round(samples[i] * 32768);
		out[i] = value > 32767 ? 32767 : value < -32768 ? -32768 : value;
	}
	return out;
}

/** The bytes of `samples`, copied into memory of their own. */
export function copyBytes(samples: Int16Array): Buffer {
	return Buffer.from(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
}
