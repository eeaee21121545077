/**
 * One decoding measurement in a process of its own (scripts/bench/voiceNotes.ts starts it), so its
 * peak RSS is this decoding's alone:
 *
 *   node -r ts-node/register/transpile-only scripts/bench/voiceNotesChild.ts <ogg|mp3> <file> <warm-file>
 *
 * Decodes `file` with decodeToWav (nodes/shared/decode), reading it in 64 KiB chunks from disk as
 * n8n's filesystem binary store streams it, after decoding `warm-file` once (the decoder's one-time
 * WebAssembly compile falls before the baseline and is reported apart). Prints one JSON line.
 */
import * as fs from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { decodeToWav } from '../../nodes/shared/decode/convert';

async function* chunks(file: string): AsyncGenerator<Buffer> {
	for await (const chunk of fs.createReadStream(file, { highWaterMark: 64 * 1024 })) yield chunk as Buffer;
}

async function main() {
	const [format, file, warmFile] = process.argv.slice(2);
	const firstUseStart = performance.now();
	await decodeToWav(chunks(warmFile), format, 7200, 'bench');
	const firstUseMs = performance.now() - firstUseStart;

	const histogram = monitorEventLoopDelay({ resolution: 5 });
	let longestGapMs = 0;
	let lastTick = performance.now();
	const probe = setInterval(() => {
		const now = performance.now();
		longestGapMs = Math.max(longestGapMs, now - lastTick);
		lastTick = now;
	}, 5);
	await new Promise((resolve) => setTimeout(resolve, 50));
	const baseRssKb = process.resourceUsage().maxRSS;
	histogram.enable();
	lastTick = performance.now();
	longestGapMs = 0;
	const cpuStart = process.cpuUsage();
	const started = performance.now();
	const wav = await decodeToWav(chunks(file), format, 7200, 'bench');
	const wallMs = performance.now() - started;
	const cpu = process.cpuUsage(cpuStart);
	histogram.disable();
	clearInterval(probe);
	const peakRssKb = process.resourceUsage().maxRSS;
	process.stdout.write(
		`${JSON.stringify({
			format,
			inputBytes: fs.statSync(file).size,
			durationSeconds: wav.durationSeconds,
			wavBytes: wav.size,
			wallMs,
			cpuMs: (cpu.user + cpu.system) / 1000,
			firstUseMs,
			longestGapMs,
			loopDelayMaxMs: histogram.max / 1e6,
			rssGrowthMiB: (peakRssKb - baseRssKb) / 1024,
			peakRssMiB: peakRssKb / 1024,
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
