/**
 * One encoding measurement in a process of its own (scripts/bench/speech.ts starts it), so its
 * peak RSS is this encoding's alone:
 *
 *   node -r ts-node/register/transpile-only scripts/bench/speechChild.ts <format> <seconds> <chunkBytes> <keep> [warm] [normalize]
 *
 * Feeds `seconds` of speech-like 24 kHz PCM in `chunkBytes` chunks, as a Faseeh stream arrives,
 * to createEncoder (nodes/shared/encode). keep=1 holds the encoded output in memory (what n8n's
 * in-memory binary mode does; the worst case), keep=0 drops it. warm=1 encodes 2 s (dropped) before
 * the baseline, so the encoder's one-time load is not counted. normalize=1 brings the speech to
 * Podcast loudness first (nodes/shared/speech/normalize.ts), fed as pieces of NORMALIZE_PIECE_SECONDS
 * with a 250 ms pause before each but the first, as a long text's pieces arrive. Prints one JSON line.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { createEncoder } from '../../nodes/shared/encode';
import type { OutputFormat } from '../../nodes/shared/encode';
import { LoudnessNormalizer } from '../../nodes/shared/speech/normalize';
import { SPEECH_RATE, speechLikeBlock } from './speechSignal';

const RATE = SPEECH_RATE;
/** A long text's piece of 1000 characters is about a minute of speech. */
export const NORMALIZE_PIECE_SECONDS = 60;

async function main() {
	const [format, secondsText, chunkText, keepText, warmText, normalizeText] = process.argv.slice(2);
	const normalize = normalizeText === '1';
	const seconds = Number(secondsText);
	const chunkBytes = Number(chunkText);
	const keep = keepText === '1';
	const block = speechLikeBlock();
	const totalBytes = seconds * RATE * 2;

	// Event-loop probes: a 5 ms interval's largest gap (what another execution would wait), and
	// perf_hooks' histogram of the loop's delay.
	const histogram = monitorEventLoopDelay({ resolution: 5 });
	let longestGapMs = 0;
	let lastTick = performance.now();
	const probe = setInterval(() => {
		const now = performance.now();
		longestGapMs = Math.max(longestGapMs, now - lastTick);
		lastTick = now;
	}, 5);
	let peakHeap = 0;
	let peakExternal = 0;
	const sampler = setInterval(() => {
		const usage = process.memoryUsage();
		peakHeap = Math.max(peakHeap, usage.heapUsed);
		peakExternal = Math.max(peakExternal, usage.external + usage.arrayBuffers);
	}, 50);
	if (warmText === '1') {
		// One short encoding first, its output dropped: the encoder's one-time costs in a process
		// (loading and compiling its WebAssembly) fall before the baseline.
		const warm = await createEncoder({ format: format as OutputFormat, sampleRate: RATE });
		for (let at = 0; at < RATE * 2 * 2; at += chunkBytes) await warm.write(Buffer.from(block.subarray(at, at + chunkBytes)));
		await warm.end();
	}
	await new Promise((resolve) => setTimeout(resolve, 50));
	const baseRssKb = process.resourceUsage().maxRSS;
	const baseHeap = process.memoryUsage().heapUsed;
	histogram.enable();
	lastTick = performance.now();
	longestGapMs = 0;

	const cpuStart = process.cpuUsage();
	const started = performance.now();
	const encoder = await createEncoder({ format: format as OutputFormat, sampleRate: RATE });
	const kept: Buffer[] = [];
	let outputBytes = 0;
	let inputBytes = 0;
	let normalizeMs = 0;
	const take = (bytes: Buffer) => {
		outputBytes += bytes.length;
		if (keep && bytes.length > 0) kept.push(bytes);
	};
	const normalizer = normalize ? new LoudnessNormalizer({ mode: 'podcast', targetLufs: -16 }, format as OutputFormat, format === 'mp3' ? 64 : 32) : undefined;
	const pieceBytes = normalizer ? NORMALIZE_PIECE_SECONDS * RATE * 2 : chunkBytes;
	const pause = Buffer.alloc(Math.round(0.25 * RATE) * 2);
	for (let fed = 0; fed < totalBytes; ) {
		const offset = fed % block.length;
		const size = Math.min(pieceBytes, totalBytes - fed, block.length - offset);
		// A fresh Buffer per chunk, as a socket delivers them.
		let pcm: Buffer = Buffer.from(block.subarray(offset, offset + size));
		if (normalizer) {
			// A piece: its pause first (but for the first), normalised as a whole.
			if (fed > 0) pcm = Buffer.concat([pause, pcm]);
			const before = performance.now();
			pcm = await normalizer.apply(pcm, RATE);
			normalizeMs += performance.now() - before;
		}
		inputBytes += pcm.length;
		take(await encoder.write(pcm));
		fed += size;
	}
	// As SpeechOutput does: the final bytes in the parts the encoder holds them in (MP3: 1 MiB blocks).
	for (const part of await encoder.endInParts()) take(part);
	const wallMs = performance.now() - started;
	const cpu = process.cpuUsage(cpuStart);
	histogram.disable();
	clearInterval(probe);
	clearInterval(sampler);
	const peakRssKb = process.resourceUsage().maxRSS;
	process.stdout.write(
		`${JSON.stringify({
			format,
			seconds,
			durationSeconds: encoder.durationSeconds(),
			outputSampleRate: encoder.outputSampleRate,
			wallMs,
			cpuMs: (cpu.user + cpu.system) / 1000,
			outputBytes,
			keptChunks: kept.length,
			inputBytes,
			normalizeMs,
			loudness: normalizer?.summary(),
			longestGapMs,
			loopDelayMaxMs: histogram.max / 1e6,
			loopDelayP99Ms: histogram.percentile(99) / 1e6,
			baseRssMiB: baseRssKb / 1024,
			peakRssMiB: peakRssKb / 1024,
			rssGrowthMiB: (peakRssKb - baseRssKb) / 1024,
			heapGrowthMiB: (peakHeap - baseHeap) / 1024 / 1024,
			peakExternalMiB: peakExternal / 1024 / 1024,
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
