/**
 * An independent meter and decoder for the tests: Debian's ffmpeg (its `ebur128` filter measures
 * BS.1770 loudness and the true peak; `silencedetect` finds the pauses). Installed with apt-get
 * when missing, by the voice-note helpers' one install (test/helpers/voiceNotes.ts).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ensureFfmpeg as installFfmpeg } from './voiceNotes';

/**
 * ffmpeg on PATH, installing Debian's package first if it is missing: the voice-note helpers'
 * install (one lock for every test file that needs it, so parallel Jest workers never race apt).
 */
export function ensureFfmpeg(): string {
	installFfmpeg();
	return 'ffmpeg';
}

function withFile<T>(audio: Buffer, extension: string, use: (file: string) => T): T {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-ffmpeg-'));
	try {
		const file = path.join(dir, `in.${extension}`);
		fs.writeFileSync(file, audio);
		return use(file);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

/** ffmpeg's input options for a file: raw PCM needs its layout. */
function inputArgs(file: string, extension: string, pcmRate?: number): string[] {
	return extension === 'pcm' ? ['-f', 's16le', '-ar', String(pcmRate ?? 24000), '-ac', '1', '-i', file] : ['-i', file];
}

function runFfmpeg(args: string[]): string {
	const result = spawnSync(ensureFfmpeg(), ['-hide_banner', '-nostats', ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000 });
	if (result.status !== 0) throw new Error(`ffmpeg ${args.join(' ')} failed: ${result.stderr.slice(-2000)}`);
	return result.stderr;
}

export interface Loudness {
	/** Integrated loudness, LUFS (ffmpeg prints one decimal). */
	integrated: number;
	/** True peak, dBTP (ffmpeg oversamples to 192 kHz). */
	truePeak: number;
}

/**
 * BS.1770 loudness of an audio file by ffmpeg's ebur128 filter; `from`/`to` (seconds) measure a
 * stretch only. `extension` is the container (wav, mp3, ogg, or pcm for 16-bit mono raw PCM).
 */
export function ffmpegLoudness(audio: Buffer, extension: string, options: { from?: number; to?: number; pcmRate?: number } = {}): Loudness {
	return withFile(audio, extension, (file) => {
		const trim = options.from !== undefined || options.to !== undefined ? `atrim=start=${options.from ?? 0}${options.to !== undefined ? `:end=${options.to}` : ''},asetpts=PTS-STARTPTS,` : '';
		const log = runFfmpeg([...inputArgs(file, extension, options.pcmRate), '-af', `${trim}ebur128=peak=true`, '-f', 'null', '-']);
		const summary = log.slice(log.lastIndexOf('Summary:'));
		const integrated = /I:\s+(-?[\d.]+|-inf) LUFS/.exec(summary)?.[1];
		const peak = /Peak:\s+(-?[\d.]+|-inf) dBFS/.exec(summary)?.[1];
		if (integrated === undefined || peak === undefined) throw new Error(`no ebur128 summary in: ${summary.slice(0, 500)}`);
		const number = (text: string) => (text === '-inf' ? -Infinity : Number(text));
		return { integrated: number(integrated), truePeak: number(peak) };
	});
}

export interface Silence {
	start: number;
	end: number;
}

/** Stretches of silence (below `noiseDb` for at least `minSeconds`) by ffmpeg's silencedetect. */
export function ffmpegSilences(audio: Buffer, extension: string, options: { noiseDb?: number; minSeconds?: number; pcmRate?: number } = {}): Silence[] {
	return withFile(audio, extension, (file) => {
		const log = runFfmpeg([...inputArgs(file, extension, options.pcmRate), '-af', `silencedetect=noise=${options.noiseDb ?? -50}dB:d=${options.minSeconds ?? 0.1}`, '-f', 'null', '-']);
		const silences: Silence[] = [];
		for (const line of log.split('\n')) {
			const start = /silence_start: (-?[\d.]+)/.exec(line);
			if (start) silences.push({ start: Number(start[1]), end: Infinity });
			const end = /silence_end: (-?[\d.]+)/.exec(line);
			if (end && silences.length > 0) silences[silences.length - 1].end = Number(end[1]);
		}
		return silences;
	});
}

/** Decodes any file ffmpeg reads to 16-bit mono PCM at `rate`. */
export function ffmpegDecode(audio: Buffer, extension: string, rate = 24000): Buffer {
	return withFile(audio, extension, (file) => {
		const out = `${file}.raw`;
		runFfmpeg(['-i', file, '-f', 's16le', '-ac', '1', '-ar', String(rate), out]);
		return fs.readFileSync(out);
	});
}

/** Encodes 16-bit mono PCM with ffmpeg (for a test's own reference files). */
export function ffmpegEncode(pcm: Buffer, rate: number, extension: string, codecArgs: string[] = []): Buffer {
	return withFile(pcm, 'pcm', (file) => {
		const out = `${file}.${extension}`;
		runFfmpeg(['-f', 's16le', '-ar', String(rate), '-ac', '1', '-i', file, ...codecArgs, out]);
		return fs.readFileSync(out);
	});
}
