/**
 * `npm run bench -- --only voicenotes`: decoding voice notes in (Convert Input to WAV). One hour of
 * OGG/Opus and of MP3, made once by ffmpeg from the bench's speech-like signal (cached under
 * ~/.cache/n8n-nodes-faseeh/bench-voicenotes), each decoded to 24 kHz mono WAV by the package's
 * decoder in a child process of its own (scripts/bench/voiceNotesChild.ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ensureFfmpeg } from '../../test/helpers/voiceNotes';
import type { Figure } from './common';
import { fmt, log, median, MiB } from './common';
import { SPEECH_RATE, speechLikeBlock } from './speechSignal';

export const SECTION_START = '<!-- voicenotes:start -->';
export const SECTION_END = '<!-- voicenotes:end -->';
const HOUR = 3600;
const TARGET_REALTIME = 50;
const TARGET_BLOCK_MS = 50;
const MEMORY_ROOM_MIB = 50;

interface Inputs {
	ogg: string;
	mp3: string;
	warmOgg: string;
	warmMp3: string;
}

const INPUTS = {
	ogg: { label: 'OGG/Opus (mono, 24 kbps, as a WhatsApp or Telegram note)', args: ['-c:a', 'libopus', '-b:a', '24k'], extension: 'ogg' },
	mp3: { label: 'MP3 (44.1 kHz stereo, 128 kbps: resampled and mixed down)', args: ['-ar', '44100', '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '128k'], extension: 'mp3' },
} as const;

interface ChildResult {
	format: string;
	inputBytes: number;
	durationSeconds: number;
	wavBytes: number;
	wallMs: number;
	cpuMs: number;
	firstUseMs: number;
	longestGapMs: number;
	loopDelayMaxMs: number;
	rssGrowthMiB: number;
	/** The longest gap of the same 5 ms timer in the idle parent process meanwhile: what the machine's load alone causes. */
	controlGapMs?: number;
}

export interface VoiceNotesResult {
	reps: number;
	rows: Array<{ format: keyof typeof INPUTS; runs: ChildResult[] }>;
	figures: Figure[];
}

/** The hour-long inputs (and 2 s ones for warming up), made once with ffmpeg and kept in the cache. */
function prepareInputs(): Inputs {
	ensureFfmpeg();
	const cache = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'n8n-nodes-faseeh', 'bench-voicenotes');
	fs.mkdirSync(cache, { recursive: true });
	const pcmFile = path.join(cache, 'speech-1h.pcm');
	const files: Partial<Inputs> = {};
	for (const [format, spec] of Object.entries(INPUTS) as Array<[keyof typeof INPUTS, (typeof INPUTS)[keyof typeof INPUTS]]>) {
		const file = path.join(cache, `speech-1h.${spec.extension}`);
		const warm = path.join(cache, `speech-2s.${spec.extension}`);
		if (!fs.existsSync(file) || !fs.existsSync(warm)) {
			if (!fs.existsSync(pcmFile)) {
				log('voicenotes: writing one hour of speech-like PCM (once)');
				const block = speechLikeBlock();
				const fd = fs.openSync(pcmFile, 'w');
				for (let minute = 0; minute < HOUR / 60; minute++) fs.writeSync(fd, block);
				fs.closeSync(fd);
			}
			log(`voicenotes: encoding one hour of ${format} with ffmpeg (once)`);
			const input = ['-hide_banner', '-loglevel', 'error', '-y', '-f', 's16le', '-ar', String(SPEECH_RATE), '-ac', '1'];
			execFileSync('ffmpeg', [...input, '-i', pcmFile, ...spec.args, `${file}.part.${spec.extension}`]);
			fs.renameSync(`${file}.part.${spec.extension}`, file);
			execFileSync('ffmpeg', [...input, '-t', '2', '-i', pcmFile, ...spec.args, warm]);
		}
		if (format === 'ogg') Object.assign(files, { ogg: file, warmOgg: warm });
		else Object.assign(files, { mp3: file, warmMp3: warm });
	}
	return files as Inputs;
}

function runChild(format: string, file: string, warm: string): Promise<ChildResult> {
	const child = path.join(__dirname, 'voiceNotesChild.ts');
	// A control: this process only waits meanwhile; its own 5 ms timer's longest gap is what the
	// machine's load alone does to an event loop (other processes on the same cores).
	let controlGapMs = 0;
	let last = performance.now();
	const control = setInterval(() => {
		const now = performance.now();
		controlGapMs = Math.max(controlGapMs, now - last);
		last = now;
	}, 5);
	return new Promise<ChildResult>((resolve, reject) => {
		execFile(process.execPath, ['-r', 'ts-node/register/transpile-only', child, format, file, warm], { cwd: path.resolve(__dirname, '..', '..'), timeout: 20 * 60_000, maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
			if (error) reject(new Error(`decoding child failed: ${stderr || error.message}`));
			else resolve({ ...(JSON.parse(stdout.trim().split('\n').pop() as string) as ChildResult), controlGapMs });
		});
	}).finally(() => clearInterval(control));
}

export async function runVoiceNotes(reps: number): Promise<VoiceNotesResult> {
	const inputs = prepareInputs();
	const rows: VoiceNotesResult['rows'] = [];
	const figures: Figure[] = [];
	for (const format of ['ogg', 'mp3'] as const) {
		const runs: ChildResult[] = [];
		for (let rep = 0; rep < reps; rep++) {
			const run = await runChild(format, format === 'ogg' ? inputs.ogg : inputs.mp3, format === 'ogg' ? inputs.warmOgg : inputs.warmMp3);
			log(`voicenotes: ${format} 1 h decoded in ${fmt(run.wallMs / 1000)} s (${fmt(run.durationSeconds / (run.wallMs / 1000), 0)}× realtime), RSS +${fmt(run.rssGrowthMiB, 0)} MiB, longest block ${fmt(run.longestGapMs)} ms`);
			runs.push(run);
		}
		rows.push({ format, runs });
		const realtime = median(runs.map((run) => run.durationSeconds / (run.wallMs / 1000)));
		const growth = median(runs.map((run) => run.rssGrowthMiB));
		const wavMiB = runs[0].wavBytes / MiB;
		const block = Math.max(...runs.map((run) => run.longestGapMs));
		const name = format === 'ogg' ? 'OGG/Opus' : 'MP3';
		figures.push(
			{ section: 'voicenotes', figure: `Decode 1 h of ${name} to 24 kHz WAV: speed`, measured: `${fmt(realtime, 0)}× realtime (${fmt(median(runs.map((run) => run.wallMs)) / 1000)} s)`, target: `≥ ${TARGET_REALTIME}× realtime`, pass: realtime >= TARGET_REALTIME },
			{ section: 'voicenotes', figure: `Decode 1 h of ${name}: memory (RSS growth)`, measured: `${fmt(growth, 0)} MiB (WAV ${fmt(wavMiB, 0)} MiB)`, target: `≤ ${fmt(2 * wavMiB + MEMORY_ROOM_MIB, 0)} MiB (2 × WAV + ${MEMORY_ROOM_MIB})`, pass: growth <= 2 * wavMiB + MEMORY_ROOM_MIB },
			{ section: 'voicenotes', figure: `Decode 1 h of ${name}: longest event-loop block`, measured: `${fmt(block)} ms`, target: `≤ ${TARGET_BLOCK_MS} ms`, pass: block <= TARGET_BLOCK_MS },
			{ section: 'voicenotes', figure: `… control: longest gap of an idle process's 5 ms timer meanwhile (machine load)`, measured: `${fmt(Math.max(...runs.map((run) => run.controlGapMs ?? 0)))} ms`, target: '–' },
			{ section: 'voicenotes', figure: `${name} decoder's first use in a process (2 s note, WebAssembly compile included)`, measured: `${fmt(median(runs.map((run) => run.firstUseMs)), 0)} ms`, target: '–' },
		);
	}
	return { reps, rows, figures };
}

export function voiceNotesMarkdown(result: VoiceNotesResult | undefined, error: string | undefined, startedAt: Date, table: (figures: Figure[]) => string): string {
	const lines = [SECTION_START, '## Voice notes in (Convert Input to WAV)', ''];
	if (!result) {
		lines.push(`Not measured${error ? `: ${error}` : ''}.`, '', SECTION_END);
		return lines.join('\n');
	}
	lines.push(
		`Measured ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench\` (\`--only voicenotes\` reruns this section alone), ${result.reps} run(s) per row.`,
		'',
		table(result.figures),
		'',
		'- Setup: one hour of the bench\'s speech-like signal (24 kHz mono), encoded once by Debian\'s ffmpeg; each decoding runs in a process of its own (`scripts/bench/voiceNotesChild.ts`) through `decodeToWav` (`nodes/shared/decode/convert.ts`), the code Voice Clone, Voice → Preview and Transcribe use, reading the file in 64 KiB chunks as n8n\'s filesystem binary store streams it. The output is the 24 kHz mono 16-bit WAV the upload sends, held in 1 MiB blocks.',
		`- Inputs: ${Object.values(INPUTS).map((input) => input.label).join('; ')}.`,
		'- Memory: the growth of the process\'s peak RSS over its baseline (after a 2 s warm-up decoding), against the decoded WAV\'s size. Longest block: the largest gap of a 5 ms interval timer while decoding (the decoders work in slices of at most 10 ms on the encoders\' run queue); the *control* row is the same timer in the bench\'s own idle process meanwhile, i.e. the gaps the machine\'s load causes by itself (on a shared 2-core machine both include time the process was not scheduled).',
		'',
		SECTION_END,
	);
	return lines.join('\n');
}

export function replaceVoiceNotesSection(docs: string, section: string): string {
	const start = docs.indexOf(SECTION_START);
	const end = docs.indexOf(SECTION_END);
	if (start >= 0 && end > start) return `${docs.slice(0, start)}${section}${docs.slice(end + SECTION_END.length)}`;
	return `${docs.trimEnd()}\n\n${section}\n`;
}
