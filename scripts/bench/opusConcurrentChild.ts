/**
 * OGG/Opus items encoding at once in one process (issue 22.1), each its own measurement process:
 *
 *   node -r ts-node/register/transpile-only scripts/bench/opusConcurrentChild.ts <items> <seconds>
 *
 * Starts `items` encoders together (createEncoder, as Speech → Generate does for concurrent items)
 * and feeds each `seconds` of speech-like 24 kHz PCM in 32 KiB chunks, all interleaved on one event
 * loop (Promise.all; every encoder yields between its slices). Item i starts at its own offset in
 * the signal and uses its own bit rate, so outputs differ. Afterwards every output is decoded by an
 * independent libopus build (test/helpers/decodeAudio.mjs, ogg-opus-decoder) and compared with its
 * own input and with the next item's input: it must match its own (correlation > 0.9) better than
 * any other. Prints one JSON line.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { createEncoder } from '../../nodes/shared/encode';
import { liveOpusEncoders } from '../../nodes/shared/encode/opusNative';
import { SPEECH_RATE, speechLikeBlock } from './speechSignal';

const CHUNK_BYTES = 32 * 1024;
const BIT_RATES = [16, 24, 32, 48];
const DECODER = path.resolve(__dirname, '..', '..', 'test', 'helpers', 'decodeAudio.mjs');

function inputOf(block: Buffer, item: number, seconds: number): Buffer {
	const bytes = seconds * SPEECH_RATE * 2;
	const start = ((item * 5 * SPEECH_RATE) % (block.length / 2)) * 2;
	const out = Buffer.alloc(bytes);
	for (let at = 0; at < bytes; ) {
		const from = (start + at) % block.length;
		const take = Math.min(bytes - at, block.length - from);
		block.copy(out, at, from, from + take);
		at += take;
	}
	return out;
}

function correlation(a: Float32Array, b: Float32Array, maxLag: number): number {
	let best = -1;
	const n = Math.min(a.length, b.length) - maxLag;
	for (let lag = 0; lag <= maxLag; lag++) {
		let ab = 0;
		let aa = 0;
		let bb = 0;
		for (let i = 0; i < n; i++) {
			const x = a[i + lag];
			const y = b[i];
			ab += x * y;
			aa += x * x;
			bb += y * y;
		}
		best = Math.max(best, aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0);
	}
	return best;
}

/** Decodes with ogg-opus-decoder in a child process; channel 0 at 24 kHz (every 2nd of 48 kHz). */
function decode(file: Buffer, dir: string, name: string): { samples: Float32Array; errors: string[]; seconds: number } {
	const input = path.join(dir, `${name}.ogg`);
	const output = path.join(dir, `${name}.f32`);
	fs.writeFileSync(input, file);
	const meta = JSON.parse(execFileSync(process.execPath, [DECODER, 'ogg', input, output], { encoding: 'utf8' })) as { sampleRate: number; samplesDecoded: number; errors: string[] };
	const raw = fs.readFileSync(output);
	const at48 = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
	const step = meta.sampleRate / SPEECH_RATE;
	const samples = Float32Array.from({ length: Math.floor(at48.length / step) }, (_u, i) => at48[Math.floor(i * step)]);
	return { samples, errors: meta.errors, seconds: meta.samplesDecoded / meta.sampleRate };
}

async function main() {
	const items = Number(process.argv[2]);
	const seconds = Number(process.argv[3]);
	const block = speechLikeBlock();
	const inputs = Array.from({ length: items }, (_u, i) => inputOf(block, i, seconds));
	// Warm: the first encoder of a process compiles libopus; not part of the measured time.
	const warm = await createEncoder({ format: 'oggOpus', sampleRate: SPEECH_RATE });
	await warm.write(inputs[0].subarray(0, SPEECH_RATE * 2));
	await warm.end();

	let longestGapMs = 0;
	let lastTick = performance.now();
	const probe = setInterval(() => {
		const now = performance.now();
		longestGapMs = Math.max(longestGapMs, now - lastTick);
		lastTick = now;
	}, 5);
	const cpuStart = process.cpuUsage();
	const started = performance.now();
	let mostAlive = 0;
	const outputs = await Promise.all(
		inputs.map(async (input, i) => {
			const encoder = await createEncoder({ format: 'oggOpus', sampleRate: SPEECH_RATE, bitRateKbps: BIT_RATES[i % BIT_RATES.length] });
			const chunks: Buffer[] = [];
			for (let at = 0; at < input.length; at += CHUNK_BYTES) {
				chunks.push(await encoder.write(Buffer.from(input.subarray(at, at + CHUNK_BYTES))));
				mostAlive = Math.max(mostAlive, liveOpusEncoders());
			}
			chunks.push(await encoder.end());
			return Buffer.concat(chunks);
		}),
	);
	const wallMs = performance.now() - started;
	const cpu = process.cpuUsage(cpuStart);
	clearInterval(probe);

	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-bench-opus-'));
	const checks: Array<{ item: number; own: number; other: number; seconds: number; errors: number }> = [];
	try {
		const reference = (i: number) => Float32Array.from({ length: Math.min(seconds, 10) * SPEECH_RATE }, (_u, n) => inputs[i].readInt16LE(n * 2) / 32768);
		for (const [i, output] of outputs.entries()) {
			const decoded = decode(output, dir, `item-${i}`);
			const head = decoded.samples.subarray(0, Math.min(seconds, 10) * SPEECH_RATE);
			const other = items > 1 ? correlation(head, reference((i + 1) % items), 40) : 0;
			checks.push({ item: i, own: correlation(head, reference(i), 40), other, seconds: decoded.seconds, errors: decoded.errors.length });
		}
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
	process.stdout.write(
		`${JSON.stringify({
			items,
			seconds,
			wallMs,
			cpuMs: (cpu.user + cpu.system) / 1000,
			longestGapMs,
			mostAlive,
			leftAlive: liveOpusEncoders(),
			checks,
		})}\n`,
	);
}

main().then(
	() => process.exit(0),
	(error: Error) => {
		process.stderr.write(`${error.stack ?? error.message}\n`);
		process.exit(1);
	},
);
