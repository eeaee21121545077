/**
 * Shared fixtures and tools of the reliability suite (docs/reliability.md): items, parameters,
 * node runners against the sandbox, console capture and the serialisations searched for the key.
 */
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { inspect, format } from 'node:util';

import type { INodeParameters } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { FaseehVoiceClone } from '../../nodes/FaseehVoiceClone/FaseehVoiceClone.node';
import type { FixtureItem, NodeRunResult } from '../harness/n8nHarness';
import type { RunOptions } from '../helpers/faseeh';
import { runAgainst, serialised, wavRecording } from '../helpers/faseeh';
import { wrapWav } from '../sandbox/audio';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';

/** Short recordings keep 100-item batches fast; distinct tones so the two files differ. */
export const PREVIEW_WAV = wavRecording(0.05, 330);
export const ORIGINAL_WAV = wavRecording(0.08, 220);
export const PNG = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(64, 7)]);

/** A valid WAV file of exactly `bytes` bytes (44-byte header + silence), built without a second copy. */
export function wavOfSize(bytes: number): Buffer {
	const file = Buffer.alloc(bytes);
	const dataSize = (bytes - 44) & ~1;
	wrapWav(Buffer.alloc(0)).copy(file);
	file.writeUInt32LE(36 + dataSize, 4);
	file.writeUInt32LE(dataSize, 40);
	return file;
}

export const PREVIEW_TEXT = 'مرحبا بك في فصيح، هذا صوتي الجديد';

export function cloneItem(json: FixtureItem['json'] = {}): FixtureItem {
	return {
		json,
		binary: {
			voice_file: { data: PREVIEW_WAV, fileName: 'preview.wav', mimeType: 'audio/wav' },
			reference_audio_file: { data: ORIGINAL_WAV, fileName: 'original.wav', mimeType: 'audio/wav' },
		},
	};
}

export function recordingItem(json: FixtureItem['json'] = {}): FixtureItem {
	return { json, binary: { data: { data: ORIGINAL_WAV, fileName: 'sara.wav', mimeType: 'audio/wav' } } };
}

export const CLONE_PARAMETERS: INodeParameters = {
	text: 'نص المعاينة هنا',
	stability: 0.5,
	name: 'صوت سارة',
	model: 'faseeh-v1-preview',
};

export const PREVIEW_PARAMETERS: INodeParameters = {
	resource: 'voice',
	operation: 'preview',
	text: PREVIEW_TEXT,
	similarity: 0.75,
	model: 'faseeh-mini-v1-preview',
};

export const SPEECH_PARAMETERS: INodeParameters = {
	resource: 'speech',
	operation: 'generate',
	voiceId: { __rl: true, mode: 'id', value: 'ar-najdi-male-2' },
	text: 'مرحبا بك في فصيح',
	model: 'faseeh-mini-v1-preview',
	stability: 0.5,
};

export const TRANSCRIBE_PARAMETERS: INodeParameters = { resource: 'audio', operation: 'transcribe' };

export async function runTranscribe(
	sandbox: FaseehSandbox,
	parameters: INodeParameters = {},
	items: FixtureItem[] = [recordingItem()],
	options: RunOptions = {},
): Promise<NodeRunResult> {
	return await runAgainst(sandbox, new Faseeh(), { ...TRANSCRIBE_PARAMETERS, ...parameters }, items, options);
}

export async function runClone(
	sandbox: FaseehSandbox,
	parameters: INodeParameters = {},
	items: FixtureItem[] = [cloneItem()],
	options: RunOptions = {},
): Promise<NodeRunResult> {
	return await runAgainst(sandbox, new FaseehVoiceClone(), { ...CLONE_PARAMETERS, ...parameters }, items, options);
}

export async function runPreview(
	sandbox: FaseehSandbox,
	parameters: INodeParameters = {},
	items: FixtureItem[] = [recordingItem()],
	options: RunOptions = {},
): Promise<NodeRunResult> {
	return await runAgainst(sandbox, new Faseeh(), { ...PREVIEW_PARAMETERS, ...parameters }, items, options);
}

export async function runSpeech(
	sandbox: FaseehSandbox,
	parameters: INodeParameters = {},
	items: FixtureItem[] = [{ json: {} }],
	options: RunOptions = {},
): Promise<NodeRunResult> {
	return await runAgainst(sandbox, new Faseeh(), { ...SPEECH_PARAMETERS, ...parameters }, items, options);
}

/**
 * Everything of a run that n8n shows, stores or logs, as text: the error as the node threw it
 * (every own property, the cause chain included), as n8n persists it (`toJSON`), as the console
 * prints it (`util.inspect` with hidden properties), the whole `IRun` (runData keeps a spread copy
 * of the error), and every output item.
 */
export function everythingOf(result: NodeRunResult): string {
	const parts = [serialised(result.outputs), serialised(result.run)];
	const error = result.error;
	if (error) {
		parts.push(
			error.message,
			String((error as { description?: unknown }).description ?? ''),
			serialised((error as { context?: unknown }).context),
			serialised(error.cause),
			serialised(error),
			JSON.stringify(error),
			inspect(error, { depth: 12, showHidden: true }),
		);
	}
	return parts.join('\n');
}

export interface ConsoleCapture {
	/** Everything written to stdout, stderr or console.* since the capture started. */
	text(): string;
	restore(): void;
}

/**
 * Captures (and silences) what is written to process.stdout/stderr, console._stdout/_stderr
 * (where winston's console transport writes) and console.*, until restore() is called.
 */
export function captureConsole(): ConsoleCapture {
	const chunks: string[] = [];
	const restores: Array<() => void> = [];
	const record = (chunk: unknown) => chunks.push(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));

	const consoleStreams = console as unknown as { _stdout?: NodeJS.WritableStream; _stderr?: NodeJS.WritableStream };
	const streams = new Set<NodeJS.WritableStream>([process.stdout, process.stderr]);
	if (consoleStreams._stdout) streams.add(consoleStreams._stdout);
	if (consoleStreams._stderr) streams.add(consoleStreams._stderr);
	for (const stream of streams) {
		const original = stream.write;
		stream.write = ((chunk: unknown, ...rest: unknown[]) => {
			record(chunk);
			const callback = rest.find((argument) => typeof argument === 'function') as (() => void) | undefined;
			callback?.();
			return true;
		}) as typeof stream.write;
		restores.push(() => {
			stream.write = original;
		});
	}

	const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
	for (const method of methods) {
		const original = console[method];
		console[method] = (...args: unknown[]) => {
			record(format(...args));
		};
		restores.push(() => {
			console[method] = original;
		});
	}

	return {
		text: () => chunks.join(''),
		restore: () => {
			for (const restore of restores.reverse()) restore();
		},
	};
}

/**
 * Binary-data files of the harness (n8n's filesystem store) this process still has open, read
 * from /proc/self/fd. Undefined where /proc is not available (not Linux): the check is skipped.
 */
export function openBinaryFiles(): string[] | undefined {
	if (!existsSync('/proc/self/fd')) return undefined;
	const open: string[] = [];
	for (const fd of readdirSync('/proc/self/fd')) {
		try {
			const target = readlinkSync(`/proc/self/fd/${fd}`);
			if (target.includes('n8n-harness-') && target.includes('/binary_data/')) open.push(target);
		} catch {
			// The descriptor closed while we were listing.
		}
	}
	return open;
}

/** Waits (up to 1 s) until no binary-data file is open; returns what is still open. */
export async function binaryFilesLeftOpen(): Promise<string[]> {
	for (let waited = 0; ; waited += 20) {
		const open = openBinaryFiles() ?? [];
		if (open.length === 0 || waited >= 1000) return open;
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}
