/**
 * The "speech" section, encoding part: how fast the streaming encoders (nodes/shared/encode) turn
 * speech-like 24 kHz PCM into MP3, OGG/Opus and WAV, how long they keep n8n's event loop busy,
 * and what a one-hour output costs in memory. Each measurement runs in its own process
 * (scripts/bench/speechChild.ts) so its peak RSS is its own.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

import type { Figure } from './common';
import { fmt, log, median } from './common';

export const SPEECH_FORMATS = ['mp3', 'oggOpus', 'wav'] as const;
type SpeechFormat = (typeof SPEECH_FORMATS)[number];
export const SPEECH_SHORT_SECONDS = 60;
export const SPEECH_LONG_SECONDS = 3600;
/** What a Faseeh stream's socket typically hands over at a time. */
export const SPEECH_CHUNK_BYTES = 32 * 1024;
export const TARGET_REALTIME = 20;
export const TARGET_BLOCK_MS = 50;
export const TARGET_MEMORY = { outputFactor: 1.5, plusMiB: 50 };

export interface SpeechRun {
	format: SpeechFormat;
	seconds: number;
	durationSeconds: number;
	outputSampleRate: number;
	wallMs: number;
	cpuMs: number;
	outputBytes: number;
	inputBytes: number;
	longestGapMs: number;
	loopDelayMaxMs: number;
	loopDelayP99Ms: number;
	baseRssMiB: number;
	peakRssMiB: number;
	rssGrowthMiB: number;
	heapGrowthMiB: number;
	peakExternalMiB: number;
	/** Normalised runs: wall time inside the normaliser, and its summary. */
	normalizeMs?: number;
	loudness?: { integratedLufs: number | null; truePeakDbtp: number | null };
}

/** One run of scripts/bench/opusConcurrentChild.ts. */
export interface OpusConcurrentRun {
	items: number;
	seconds: number;
	wallMs: number;
	cpuMs: number;
	longestGapMs: number;
	mostAlive: number;
	leftAlive: number;
	checks: Array<{ item: number; own: number; other: number; seconds: number; errors: number }>;
}
export const OPUS_CONCURRENT_ITEMS = 10;
export const OPUS_CONCURRENT_SECONDS = 30;

export interface SpeechResult {
	shortReps: number;
	runs: SpeechRun[];
	/** A 1 h MP3 brought to Podcast loudness on the way (the encoding's own run is in `runs`). */
	normalized?: SpeechRun;
	concurrent: OpusConcurrentRun[];
	figures: Figure[];
	loadAverage: { before: number; after: number };
}

const CHILD = path.join(__dirname, 'speechChild.ts');
const CONCURRENT_CHILD = path.join(__dirname, 'opusConcurrentChild.ts');
const REPO = path.resolve(__dirname, '..', '..');

/**
 * warm: one short encoding before the baseline (the encoder's one-time load is not counted);
 * normalize: Podcast loudness on the way (speechChild.ts).
 */
function runChild(format: SpeechFormat, seconds: number, warm: boolean, normalize = false): Promise<SpeechRun> {
	return new Promise((resolve, reject) => {
		execFile(
			process.execPath,
			['-r', 'ts-node/register/transpile-only', CHILD, format, String(seconds), String(SPEECH_CHUNK_BYTES), '1', warm ? '1' : '0', normalize ? '1' : '0'],
			{ cwd: REPO, timeout: 20 * 60_000, maxBuffer: 1024 * 1024 },
			(error, stdout, stderr) => {
				if (error) return reject(new Error(`${format} ${seconds} s: ${error.message} ${stderr.trim().split('\n').slice(-3).join(' ')}`));
				try {
					resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as SpeechRun);
				} catch {
					reject(new Error(`${format} ${seconds} s: no result in "${stdout.slice(0, 200)}"`));
				}
			},
		);
	});
}

function runConcurrentChild(items: number, seconds: number): Promise<OpusConcurrentRun> {
	return new Promise((resolve, reject) => {
		execFile(
			process.execPath,
			['-r', 'ts-node/register/transpile-only', CONCURRENT_CHILD, String(items), String(seconds)],
			{ cwd: REPO, timeout: 20 * 60_000, maxBuffer: 1024 * 1024 },
			(error, stdout, stderr) => {
				if (error) return reject(new Error(`${items} OGG/Opus items at once: ${error.message} ${stderr.trim().split('\n').slice(-3).join(' ')}`));
				resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as OpusConcurrentRun);
			},
		);
	});
}

const realtime = (run: SpeechRun) => run.durationSeconds / (run.wallMs / 1000);
const MiB = 1024 * 1024;

export async function runSpeech(shortReps: number): Promise<SpeechResult> {
	const os = await import('node:os');
	const before = os.loadavg()[0];
	const runs: SpeechRun[] = [];
	for (let rep = 0; rep < shortReps; rep++) {
		for (const format of SPEECH_FORMATS) {
			const run = await runChild(format, SPEECH_SHORT_SECONDS, false);
			log(`speech: ${format} ${SPEECH_SHORT_SECONDS} s ×${fmt(realtime(run), 0)} realtime, longest block ${fmt(run.longestGapMs, 1)} ms`);
			runs.push(run);
		}
	}
	for (const format of SPEECH_FORMATS) {
		const run = await runChild(format, SPEECH_LONG_SECONDS, true);
		log(`speech: ${format} ${SPEECH_LONG_SECONDS / 60} min ×${fmt(realtime(run), 0)} realtime, longest block ${fmt(run.longestGapMs, 1)} ms, RSS +${fmt(run.rssGrowthMiB, 0)} MiB for ${fmt(run.outputBytes / MiB, 1)} MiB out`);
		runs.push(run);
	}
	for (const run of runs) {
		if (Math.abs(run.durationSeconds - run.seconds) > 1e-6) throw new Error(`${run.format}: encoded ${run.durationSeconds} s of ${run.seconds} s`);
	}
	const normalized = await runChild('mp3', SPEECH_LONG_SECONDS, true, true);
	log(`speech: mp3 ${SPEECH_LONG_SECONDS / 60} min at Podcast loudness, ${fmt(normalized.wallMs / 1000, 1)} s wall (normaliser ${fmt((normalized.normalizeMs ?? 0) / 1000, 1)} s), longest block ${fmt(normalized.longestGapMs, 1)} ms`);
	const concurrent: OpusConcurrentRun[] = [];
	for (const items of [1, OPUS_CONCURRENT_ITEMS]) {
		const run = await runConcurrentChild(items, OPUS_CONCURRENT_SECONDS);
		log(`speech: ${items} OGG/Opus item(s) at once, ${fmt(run.wallMs / 1000, 2)} s, longest block ${fmt(run.longestGapMs, 1)} ms`);
		concurrent.push(run);
	}
	const after = os.loadavg()[0];
	return {
		shortReps,
		runs,
		normalized,
		concurrent,
		figures: [...speechFigures(runs), ...loudnessFigures(runs, normalized), ...concurrentFigures(concurrent)],
		loadAverage: { before, after },
	};
}

/** Podcast loudness on a 1 h MP3 (issue 25.2) against the same encoding without it. */
function loudnessFigures(runs: SpeechRun[], normalized: SpeechRun): Figure[] {
	const plain = runs.find((run) => run.format === 'mp3' && run.seconds === SPEECH_LONG_SECONDS);
	if (!plain) return [];
	const cpuExtra = (normalized.cpuMs - plain.cpuMs) / plain.cpuMs;
	const wallExtra = (normalized.wallMs - plain.wallMs) / plain.wallMs;
	const outputMiB = normalized.outputBytes / MiB;
	const limit = TARGET_MEMORY.outputFactor * outputMiB + TARGET_MEMORY.plusMiB;
	return [
		{
			section: 'speech',
			figure: 'Loudness (Podcast, −16 LUFS, −1 dBTP) on a 1 h MP3: extra time over encoding alone (CPU; wall)',
			measured: `+${fmt(cpuExtra * 100, 1)} % CPU (${fmt(normalized.cpuMs / 1000, 1)} s vs ${fmt(plain.cpuMs / 1000, 1)} s); wall ${wallExtra >= 0 ? '+' : ''}${fmt(wallExtra * 100, 1)} % (${fmt(normalized.wallMs / 1000, 1)} s vs ${fmt(plain.wallMs / 1000, 1)} s, ${fmt((normalized.normalizeMs ?? 0) / 1000, 1)} s inside the normaliser)`,
			target: '≤ 10 % of encoding time',
			pass: cpuExtra <= 0.1,
		},
		{
			section: 'speech',
			figure: 'peak RSS growth for a 1 h normalised MP3 held in memory (60 s pieces)',
			measured: `${fmt(normalized.rssGrowthMiB, 1)} MiB (output ${fmt(outputMiB, 1)} MiB; without loudness ${fmt(plain.rssGrowthMiB, 1)} MiB)`,
			target: `≤ ${fmt(limit, 1)} MiB (1.5 × output + 50)`,
			pass: normalized.rssGrowthMiB <= limit,
		},
		{
			section: 'speech',
			figure: 'longest event-loop block while normalising and encoding 1 h (5 ms interval\'s largest gap)',
			measured: `${fmt(normalized.longestGapMs, 1)} ms (without loudness ${fmt(plain.longestGapMs, 1)} ms)`,
			target: `≤ ${TARGET_BLOCK_MS} ms`,
			pass: normalized.longestGapMs <= TARGET_BLOCK_MS,
		},
		{
			section: 'speech',
			figure: 'the normalised 1 h before encoding (the normaliser\'s own summary)',
			measured: `${fmt(normalized.loudness?.integratedLufs ?? NaN, 2)} LUFS, true peak ${fmt(normalized.loudness?.truePeakDbtp ?? NaN, 2)} dBTP`,
			target: 'info',
			pass: undefined,
		},
	];
}

/** 10 OGG/Opus items encoding at once against one (issue 22.1). */
function concurrentFigures(runs: OpusConcurrentRun[]): Figure[] {
	const one = runs.find((run) => run.items === 1);
	const many = runs.find((run) => run.items === OPUS_CONCURRENT_ITEMS);
	if (!one || !many) return [];
	const throughput = (run: OpusConcurrentRun) => (run.items * run.seconds) / (run.wallMs / 1000);
	const good = many.checks.filter((check) => check.errors === 0 && Math.abs(check.seconds - many.seconds) < 0.001 && check.own > 0.9 && check.own > check.other);
	const worst = Math.min(...many.checks.map((check) => check.own));
	const bestOther = Math.max(...many.checks.map((check) => check.other));
	return [
		{
			section: 'speech',
			figure: `${many.items} OGG/Opus items at once (${many.seconds} s each, 16-48 kbps): outputs that decode (libopus) to their own input`,
			measured: `${good.length} of ${many.items} (correlation with own input ≥ ${fmt(worst, 3)}, with another item's ≤ ${fmt(bestOther, 3)}; ${many.mostAlive} encoders alive at once, ${many.leftAlive} left after)`,
			target: `${many.items} of ${many.items}, 0 left`,
			pass: good.length === many.items && many.leftAlive === 0,
		},
		{
			section: 'speech',
			figure: `${many.items} OGG/Opus items at once: throughput against 1 item (audio seconds per wall second)`,
			measured: `${fmt(throughput(many) / throughput(one), 2)}× (${fmt(throughput(many), 0)}× realtime in all, against ${fmt(throughput(one), 0)}× for 1 item; ${fmt(many.wallMs / 1000, 2)} s wall, ${fmt(many.cpuMs / 1000, 2)} s CPU)`,
			target: 'info',
			pass: undefined,
		},
		{
			section: 'speech',
			figure: `${many.items} OGG/Opus items at once: longest event-loop block (5 ms interval's largest gap)`,
			measured: `${fmt(many.longestGapMs, 1)} ms (1 item: ${fmt(one.longestGapMs, 1)} ms)`,
			target: `≤ ${TARGET_BLOCK_MS} ms`,
			pass: many.longestGapMs <= TARGET_BLOCK_MS,
		},
	];
}

function speechFigures(runs: SpeechRun[]): Figure[] {
	const figures: Figure[] = [];
	const of = (format: SpeechFormat, seconds: number) => runs.filter((run) => run.format === format && run.seconds === seconds);
	const label = (seconds: number) => (seconds >= 3600 ? `${seconds / 3600} h` : `${seconds} s`);
	for (const seconds of [SPEECH_SHORT_SECONDS, SPEECH_LONG_SECONDS]) {
		for (const format of SPEECH_FORMATS) {
			const group = of(format, seconds);
			if (group.length === 0) continue;
			const factor = median(group.map(realtime));
			const targeted = format !== 'wav';
			figures.push({
				section: 'speech',
				figure: `encoding speed, ${format}, ${label(seconds)} of 24 kHz speech (× realtime${group.length > 1 ? `, median of ${group.length}` : ''})`,
				measured: `${fmt(factor, 0)}× (${fmt(median(group.map((run) => run.wallMs)) / 1000, 2)} s wall, ${fmt(median(group.map((run) => run.cpuMs)) / 1000, 2)} s CPU)`,
				target: targeted ? `≥ ${TARGET_REALTIME}×` : 'info',
				pass: targeted ? factor >= TARGET_REALTIME : undefined,
			});
		}
	}
	for (const format of SPEECH_FORMATS) {
		const group = runs.filter((run) => run.format === format);
		const longest = Math.max(...group.map((run) => run.longestGapMs));
		const hour = of(format, SPEECH_LONG_SECONDS)[0];
		figures.push({
			section: 'speech',
			figure: `longest event-loop block while encoding, ${format} (5 ms interval's largest gap, all runs)`,
			measured: `${fmt(longest, 1)} ms${hour ? ` (1 h run: ${fmt(hour.longestGapMs, 1)} ms; perf_hooks max delay ${fmt(hour.loopDelayMaxMs, 1)} ms, p99 ${fmt(hour.loopDelayP99Ms, 1)} ms)` : ''}`,
			target: `≤ ${TARGET_BLOCK_MS} ms`,
			pass: longest <= TARGET_BLOCK_MS,
		});
	}
	for (const format of SPEECH_FORMATS) {
		const hour = of(format, SPEECH_LONG_SECONDS)[0];
		if (!hour) continue;
		const outputMiB = hour.outputBytes / MiB;
		const limit = TARGET_MEMORY.outputFactor * outputMiB + TARGET_MEMORY.plusMiB;
		const targeted = format !== 'wav';
		figures.push({
			section: 'speech',
			figure: `peak RSS growth for a 1 h ${format} output held in memory, fed in ${SPEECH_CHUNK_BYTES / 1024} KiB chunks`,
			measured: `${fmt(hour.rssGrowthMiB, 1)} MiB (output ${fmt(outputMiB, 1)} MiB, PCM ${fmt(hour.inputBytes / MiB, 1)} MiB; heap +${fmt(hour.heapGrowthMiB, 1)} MiB)`,
			target: targeted ? `≤ ${fmt(limit, 1)} MiB (1.5 × output + 50)` : 'info',
			pass: targeted ? hour.rssGrowthMiB <= limit : undefined,
		});
	}
	for (const format of SPEECH_FORMATS) {
		const cold = of(format, SPEECH_SHORT_SECONDS);
		if (cold.length === 0) continue;
		figures.push({
			section: 'speech',
			figure: `peak RSS growth of the first ${format} encoding in a process (${label(SPEECH_SHORT_SECONDS)}, nothing loaded before: the encoder's one-time cost)`,
			measured: `${fmt(median(cold.map((run) => run.rssGrowthMiB)), 1)} MiB (output ${fmt(median(cold.map((run) => run.outputBytes)) / MiB, 2)} MiB)`,
			target: 'info',
			pass: undefined,
		});
	}
	return figures;
}

export const SPEECH_START = '<!-- speech:start -->';
export const SPEECH_END = '<!-- speech:end -->';

/** The "Speech" part of docs/benchmarks.md, between markers so `--only speech` can replace it. */
export function speechMarkdown(result: SpeechResult | undefined, error: string | undefined, startedAt: Date, markdownTable: (figures: Figure[]) => string): string {
	const out = [SPEECH_START, '## Speech (encoding)', '', `Run: ${startedAt.toISOString()}.${result ? ` Machine load (1-minute load average, all processes) ${fmt(result.loadAverage.before, 2)} before and ${fmt(result.loadAverage.after, 2)} after.` : ''}`, ''];
	if (result) {
		const missed = result.figures.filter((figure) => figure.pass === false).length;
		out.push(markdownTable(result.figures), '', missed === 0 ? 'All targets met.' : `Missed targets: ${missed}.`, '');
	}
	if (error) out.push(`The section failed to run: ${error}`, '');
	out.push(
		'### Method',
		'',
		`- The encoders of nodes/shared/encode (docs/design.md, "Audio encoders") at their defaults: MP3 64 kbps CBR (LAME, wasm-media-encoders), OGG/Opus 32 kbps VBR at 24 kHz (libopus, opusscript, own Ogg muxer), WAV. Each run is its own Node process (scripts/bench/speechChild.ts, TypeScript via ts-node) started one after the other.`,
		`- Input: speech-like 24 kHz mono PCM16 (voiced stretches with a gliding 90–220 Hz pitch and six harmonics, 4 syllables a second, a pause every 6 s, noise in the unvoiced parts), 60 s generated once and fed in a loop, in ${SPEECH_CHUNK_BYTES / 1024} KiB chunks, each a fresh Buffer as from a socket, each write awaited. ${SPEECH_SHORT_SECONDS} s: ${result?.shortReps ?? 'n'} runs per format (median); ${SPEECH_LONG_SECONDS / 60} min: one run per format.`,
		'- Speed: audio seconds / wall time from createEncoder to the last byte of endInParts() (the time the slices spend yielding included). CPU: the process\'s user + system time over the same span.',
		'- Event loop: a 5 ms setInterval in the same process records its largest gap between two ticks (what another execution would have waited, at worst), and perf_hooks.monitorEventLoopDelay (resolution 5 ms) gives its max and p99.',
		'- Loudness: the 1 h MP3 run again with Podcast loudness on the way (speechChild.ts `normalize`): the same signal fed as 60 s pieces (a 1000-character piece is about a minute of speech), a 250 ms pause before each but the first, each through LoudnessNormalizer.apply and then the encoder. Extra time = this run\'s CPU (and wall) time over the plain 1 h MP3 run\'s; the pass is judged on CPU time, which another process\'s load on this shared machine disturbs less than wall time.',
		`- Items at once (scripts/bench/opusConcurrentChild.ts): ${OPUS_CONCURRENT_ITEMS} OGG/Opus encoders started together in one process and fed ${OPUS_CONCURRENT_SECONDS} s each (their own offsets in the signal, bit rates 16/24/32/48 kbps) in 32 KiB chunks, interleaved on one event loop, after one warm-up encoding; then each output is decoded by ogg-opus-decoder (an independent libopus build) and correlated (lags 0-40) with its own input and with the next item's, over the first 10 s. Throughput = audio seconds encoded / wall time, against the same run with 1 item.`,
		'- Memory: the encoded output is kept in memory (an array of the chunks write() and endInParts() returned, as SpeechOutput hands them to n8n\'s in-memory binary mode), the PCM is not. Peak RSS growth = the process\'s maxRSS after end() − maxRSS just before createEncoder (the 60 s input block and ts-node are in the baseline). The 1 h runs first encode 2 s and drop them, so the baseline holds what an n8n process pays once for its first encoding of that format (loading the encoder\'s WebAssembly: V8 compiling libopus with its optimizing tier alone peaks ~16 MiB, measured with and without `--liftoff-only`); that one-time cost is its own row, from the cold 60 s runs. Heap: the largest heapUsed sampled every 50 ms − heapUsed before.',
		'',
		SPEECH_END,
	);
	return out.join('\n');
}

export function replaceSpeechSection(docs: string, section: string): string {
	const start = docs.indexOf(SPEECH_START);
	const end = docs.indexOf(SPEECH_END);
	if (start >= 0 && end > start) return `${docs.slice(0, start)}${section}${docs.slice(end + SPEECH_END.length)}`;
	return `${docs.trimEnd()}\n\n${section}\n`;
}
