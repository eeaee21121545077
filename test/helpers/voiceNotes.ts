/**
 * Real voice notes for the tests, made in the test from speech-like PCM by an independent encoder:
 * Debian's ffmpeg (libopus, libmp3lame, libvpx), installed with apt-get where it is missing (as root,
 * once per machine; CI starts from a machine without it). ffprobe reads what the nodes write.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

let checked = false;

/** ffmpeg and ffprobe on PATH, installed from Debian when missing (a lock keeps parallel test files from racing apt). */
export function ensureFfmpeg(): void {
	if (checked) return;
	const present = () => spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' }).status === 0 && spawnSync('ffprobe', ['-version'], { stdio: 'ignore' }).status === 0;
	if (!present()) {
		process.stderr.write('ffmpeg is missing: installing Debian\'s ffmpeg with apt-get (the voice-note tests encode real recordings with it)\n');
		const script = 'command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { apt-get update && apt-get install -y --no-install-recommends ffmpeg; }';
		const command = ['flock', path.join(os.tmpdir(), 'faseeh-apt.lock'), 'sh', '-c', script];
		if (process.getuid?.() !== 0) command.unshift('sudo', '-n');
		execFileSync(command[0], command.slice(1), { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
		if (!present()) throw new Error('apt-get ran but ffmpeg or ffprobe is still missing');
	}
	checked = true;
}

/**
 * Speech-like mono PCM (16-bit LE): a voiced source (harmonics of a gliding pitch, 1/k amplitudes)
 * in syllables of 150-350 ms with short pauses, as a voice note has. Deterministic for a seed.
 */
export function speechPcm(seconds: number, sampleRate = 24000, seed = 1): Buffer {
	const samples = Math.round(seconds * sampleRate);
	const pcm = Buffer.alloc(samples * 2);
	let state = seed >>> 0 || 1;
	const random = () => {
		state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
		return state / 0x100000000;
	};
	let phase = 0;
	let syllableEnd = 0;
	let syllableStart = 0;
	let voiced = true;
	let base = 120;
	for (let i = 0; i < samples; i++) {
		if (i >= syllableEnd) {
			voiced = random() > 0.2;
			syllableStart = i;
			syllableEnd = i + Math.round((voiced ? 0.15 + 0.2 * random() : 0.05 + 0.1 * random()) * sampleRate);
			base = 100 + 120 * random();
		}
		const t = i / sampleRate;
		const f0 = base * (1 + 0.08 * Math.sin(2 * Math.PI * 3 * t));
		phase += (2 * Math.PI * f0) / sampleRate;
		if (phase > 2 * Math.PI * 1000) phase -= 2 * Math.PI * 1000;
		let value = 0;
		if (voiced) {
			for (let k = 1; k <= 12 && k * f0 < sampleRate / 2.2; k++) value += Math.sin(k * phase) / k;
			const position = (i - syllableStart) / Math.max(1, syllableEnd - syllableStart);
			value *= Math.sin(Math.PI * position) * 0.25;
		}
		pcm.writeInt16LE(Math.round(value * 32767), i * 2);
	}
	return pcm;
}

export type NoteFormat = 'ogg' | 'webm' | 'webmFile' | 'mp3' | 'mp3Stereo44' | 'wav44Stereo';

/** Encodes 24 kHz mono PCM with ffmpeg into a recording of the given kind. */
export function encodeNote(pcm: Buffer, format: NoteFormat, bitRate = '48k'): Buffer {
	ensureFfmpeg();
	const input = ['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', '24000', '-ac', '1', '-i', 'pipe:0'];
	const outputs: Record<NoteFormat, string[]> = {
		// A WhatsApp- or Telegram-style voice note: Opus in Ogg.
		ogg: ['-c:a', 'libopus', '-b:a', bitRate, '-f', 'ogg'],
		// A browser recording streams: ffmpeg writing to a pipe cannot go back to fill in sizes.
		webm: ['-c:a', 'libopus', '-b:a', bitRate, '-f', 'webm'],
		// The same written to a file: sizes, Cues, BlockGroups with DiscardPadding.
		webmFile: ['-c:a', 'libopus', '-b:a', bitRate, '-f', 'webm'],
		mp3: ['-c:a', 'libmp3lame', '-b:a', '64k', '-f', 'mp3'],
		mp3Stereo44: ['-ar', '44100', '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '128k', '-f', 'mp3'],
		wav44Stereo: ['-ar', '44100', '-ac', '2', '-c:a', 'pcm_s16le', '-f', 'wav'],
	};
	// Written to a file, as a phone or ffmpeg writes them (an MP3's LAME tag is filled in at the end).
	if (format === 'webmFile' || format === 'mp3' || format === 'mp3Stereo44') {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-note-'));
		try {
			const file = path.join(dir, `note.${format === 'webmFile' ? 'webm' : 'mp3'}`);
			execFileSync('ffmpeg', [...input, ...outputs[format], file], { input: pcm });
			return fs.readFileSync(file);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	}
	return execFileSync('ffmpeg', [...input, ...outputs[format], 'pipe:1'], { input: pcm, maxBuffer: 1 << 30 });
}

/** A WebM with one second of VP8 video and no audio track. */
export function videoOnlyWebm(): Buffer {
	ensureFfmpeg();
	return execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'color=c=black:s=64x64:d=1:r=10', '-c:v', 'libvpx', '-b:v', '50k', '-f', 'webm', 'pipe:1']);
}

/** What ffprobe says about a file's first audio stream and its format. */
export function ffprobe(file: Buffer): { codec: string; channels: number; sampleRate: number; durationSeconds: number; formatName: string } {
	ensureFfmpeg();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-probe-'));
	try {
		const input = path.join(dir, 'in');
		fs.writeFileSync(input, file);
		const json = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-show_format', '-of', 'json', input], { encoding: 'utf8' })) as {
			streams: Array<{ codec_type: string; codec_name: string; channels: number; sample_rate: string }>;
			format: { format_name: string; duration: string };
		};
		const audio = json.streams.find((stream) => stream.codec_type === 'audio');
		if (!audio) throw new Error('ffprobe found no audio stream');
		return { codec: audio.codec_name, channels: audio.channels, sampleRate: Number(audio.sample_rate), durationSeconds: Number(json.format.duration), formatName: json.format.format_name };
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}

/** Decodes any file with ffmpeg to mono float samples at `rate`. */
export function decodeWithFfmpeg(file: Buffer, rate = 24000): Float32Array {
	ensureFfmpeg();
	const raw = execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-i', 'pipe:0', '-f', 'f32le', '-ac', '1', '-ar', String(rate), 'pipe:1'], { input: file, maxBuffer: 1 << 30 });
	const samples = new Float32Array(raw.length / 4);
	new Uint8Array(samples.buffer).set(raw);
	return samples;
}

/** 16-bit PCM to floats. */
export function pcmToFloat(pcm: Buffer): Float32Array {
	const out = new Float32Array(pcm.length >> 1);
	for (let i = 0; i < out.length; i++) out[i] = pcm.readInt16LE(i * 2) / 32768;
	return out;
}
