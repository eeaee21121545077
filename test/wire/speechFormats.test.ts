/**
 * Speech → Generate's Output Format (issue 15): each format written by the node in n8n's real
 * engine, against the sandbox, read back from n8n's binary store and decoded by an independent
 * decoder (mpg123 and libopus as WebAssembly): codec, rate, channels, duration within 1 % of the
 * sandbox's PCM, and the sound itself. Bad format and bit rate input is refused before any request.
 */
import type { INodeParameters } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { parseWav } from '../../nodes/shared/audio';
import { cleanupHarness } from '../harness/n8nHarness';
import type { BinaryMode } from '../harness/n8nHarness';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { synthesize } from '../sandbox/catalog';
import { bestCorrelation, decodeWithLibrary, parseInfoTag, parseMp3Frames, parseOggPages } from '../helpers/audio';
import { runAgainst, startSandbox } from '../helpers/faseeh';

const TEXT = 'مرحبا بك في فصيح، هذه رسالة صوتية قصيرة للتجربة. نتمنى لك يوما سعيدا.';
const MODEL = 'faseeh-v1-preview';
const VOICE = 'ar-najdi-male-2';
const speech = (extra: INodeParameters = {}): INodeParameters => ({
	resource: 'speech',
	operation: 'generate',
	voiceId: { __rl: true, mode: 'id', value: VOICE },
	text: TEXT,
	model: MODEL,
	stability: 0.5,
	...extra,
});
/** The PCM the sandbox speaks for TEXT at `rate`, as floats. */
function sandboxPcm(rate: number): Float32Array {
	const pcm = synthesize(`tts\n${MODEL}\n${VOICE}\n${TEXT}`, TEXT, rate);
	const out = new Float32Array(pcm.length / 2);
	for (let i = 0; i < out.length; i++) out[i] = pcm.readInt16LE(i * 2) / 32768;
	return out;
}

let sandbox: FaseehSandbox;
beforeAll(async () => {
	sandbox = await startSandbox();
});
afterEach(() => sandbox.reset());
afterAll(async () => {
	await sandbox.stop();
	await cleanupHarness();
});

describe.each(['filesystem', 'default'] as BinaryMode[])('binary mode %s', (binaryMode) => {
	it('MP3: audio/mpeg, .mp3, decodes to the sandbox’s speech at the chosen bit rate', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), speech({ outputFormat: 'mp3', mp3BitRate: 48, options: { fileName: 'news.wav' } }), [{ json: {} }], { binaryMode });
		expect(result.error).toBeUndefined();
		const item = result.items[0];
		expect(item.binary?.data).toMatchObject({ mimeType: 'audio/mpeg', fileName: 'news.mp3' });
		const file = await result.binaryBuffer(item, 'data');
		expect(item.json).toMatchObject({ format: 'mp3', mimeType: 'audio/mpeg', fileName: 'news.mp3', fileSize: file.length, bitRateKbps: 48 });
		// Every frame mono, MPEG-2 layer III at 24 kHz and 48 kbps (mpg123 itself always outputs two channels).
		const frames = parseMp3Frames(file);
		expect(new Set(frames.map((frame) => `${frame.layer} ${frame.sampleRate} ${frame.channelMode} ${frame.bitrateKbps}`))).toEqual(new Set(['3 24000 mono 48']));
		const decoded = decodeWithLibrary('mp3', file);
		expect(decoded.errors).toEqual([]);
		expect(decoded.sampleRate).toBe(24000);
		const reference = sandboxPcm(24000);
		const seconds = reference.length / 24000;
		// The Info tag in the first frame tells mpg123 LAME's delay and padding: the speech, to the sample.
		expect(parseInfoTag(file)).toMatchObject({ id: 'Info', frames: frames.length - 1, bytes: file.length, delay: 576 });
		expect(decoded.samplesDecoded).toBe(reference.length);
		expect(Math.abs((item.json.durationSeconds as number) - seconds) / seconds).toBeLessThan(0.01);
		// In place: the speech matches at lag 0 (the sandbox's voice is periodic, so other lags match too).
		expect(bestCorrelation(reference, decoded.samples, 0).r).toBeGreaterThan(0.9);
		// 48 kbps: the file is about 6 kB per second.
		expect(file.length / seconds).toBeGreaterThan(4_500);
		expect(file.length / seconds).toBeLessThan(7_500);
	});

	it('OGG/Opus: audio/ogg, .ogg, a voice note libopus decodes to the sandbox’s speech', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), speech({ outputFormat: 'oggOpus', opusBitRate: 24 }), [{ json: {} }], { binaryMode });
		expect(result.error).toBeUndefined();
		const item = result.items[0];
		expect(item.binary?.data).toMatchObject({ mimeType: 'audio/ogg', fileName: `faseeh-speech-${VOICE}.ogg` });
		const file = await result.binaryBuffer(item, 'data');
		const pages = parseOggPages(file);
		expect(pages[0].packets[0].subarray(0, 8).toString('latin1')).toBe('OpusHead');
		expect(pages[0].packets[0][9]).toBe(1); // mono
		expect(pages[1].packets[0].subarray(0, 8).toString('latin1')).toBe('OpusTags');
		expect(pages.every((page) => page.crc === page.crcComputed)).toBe(true);
		expect(pages[pages.length - 1].flags & 4).toBe(4); // end of stream
		const decoded = decodeWithLibrary('ogg', file);
		expect(decoded.errors).toEqual([]);
		expect(decoded.channels).toBe(1);
		const reference = sandboxPcm(24000);
		const seconds = reference.length / 24000;
		expect(Math.abs(decoded.samplesDecoded / decoded.sampleRate - seconds) / seconds).toBeLessThan(0.01);
		expect(item.json).toMatchObject({ format: 'oggOpus', sampleRate: 24000, bitRateKbps: 24 });
		expect(Math.abs((item.json.durationSeconds as number) - seconds) / seconds).toBeLessThan(0.01);
		// libopus decodes at 48 kHz: compare at the reference's rate.
		const step = decoded.sampleRate / 24000;
		const down = Float32Array.from({ length: Math.floor(decoded.samples.length / step) }, (_u, i) => decoded.samples[Math.round(i * step)]);
		expect(bestCorrelation(reference, down, 3000).r).toBeGreaterThan(0.8);
	});
});

it('Raw PCM: the sandbox’s samples exactly, with the rate in the JSON', async () => {
	const result = await runAgainst(sandbox, new Faseeh(), speech({ outputFormat: 'pcm', options: { sampleRate: 16000 } }), [{ json: {} }]);
	expect(result.error).toBeUndefined();
	const file = await result.binaryBuffer(result.items[0], 'data');
	expect(file.equals(synthesize(`tts\n${MODEL}\n${VOICE}\n${TEXT}`, TEXT, 16000))).toBe(true);
	expect(result.items[0].json).toMatchObject({ format: 'pcm', sampleRate: 16000, fileName: `faseeh-speech-${VOICE}.pcm` });
});

it('MP3 at 8 kHz asked at 128 kbps: the JSON gives the 64 kbps LAME writes at that rate (issue 22.4)', async () => {
	const result = await runAgainst(sandbox, new Faseeh(), speech({ outputFormat: 'mp3', mp3BitRate: 128, options: { sampleRate: 8000 } }), [{ json: {} }]);
	expect(result.error).toBeUndefined();
	const file = await result.binaryBuffer(result.items[0], 'data');
	expect(new Set(parseMp3Frames(file).map((frame) => `${frame.sampleRate} ${frame.bitrateKbps}`))).toEqual(new Set(['8000 64']));
	expect(result.items[0].json).toMatchObject({ format: 'mp3', sampleRate: 8000, bitRateKbps: 64 });
	const decoded = decodeWithLibrary('mp3', file);
	expect(decoded.samplesDecoded).toBe(sandboxPcm(8000).length);
});

it('File Name: only a known audio extension is replaced (issue 22.5)', async () => {
	const names: Array<[string, string]> = [
		['episode-2026.12.07', 'episode-2026.12.07.mp3'],
		['report.final', 'report.final.mp3'],
		['voice.WAV', 'voice.mp3'],
		['a.tar.gz', 'a.tar.gz.mp3'],
		['greeting', 'greeting.mp3'],
		['greeting.', 'greeting.mp3'],
		['news.ogg', 'news.mp3'],
		['نشرة 7.12.wav', 'نشرة 7.12.mp3'],
	];
	const result = await runAgainst(
		sandbox,
		new Faseeh(),
		speech({ outputFormat: 'mp3', options: { fileName: '={{ $json.name }}' } }),
		names.map(([name]) => ({ json: { name } })),
	);
	expect(result.error).toBeUndefined();
	expect(result.items.map((item) => [item.json.fileName, item.binary?.data.fileName])).toEqual(names.map(([, expected]) => [expected, expected]));
});

it('WAV stays the default, as before', async () => {
	const result = await runAgainst(sandbox, new Faseeh(), speech(), [{ json: {} }]);
	const file = await result.binaryBuffer(result.items[0], 'data');
	expect(parseWav(file)).toMatchObject({ pcm: true, sampleRate: 24000, channels: 1 });
	expect(result.items[0].json).toMatchObject({ format: 'wav', mimeType: 'audio/wav' });
});

describe('bad input is refused before any request', () => {
	it.each([
		['an unknown format', { outputFormat: 'flac' }, /^Parameter "Output Format" must be one of wav, mp3, oggOpus, pcm, whatsappVoice, telegramVoice, got "flac" \[item 0\]$/],
		['an MP3 bit rate not offered', { outputFormat: 'mp3', mp3BitRate: 50 }, /^Parameter "Bit Rate \(Kbps\)".*MP3 bit rate must be one of .* not 50 \[item 0\]$/],
		['an Opus bit rate out of range', { outputFormat: 'oggOpus', opusBitRate: 500 }, /^Parameter "Bit Rate \(Kbps\)".*from 8 to 128 kbps, not 500 \[item 0\]$/],
		['an empty text', { text: '   ' }, /^Parameter "Text"/],
	])('%s', async (_name, extra, message) => {
		const result = await runAgainst(sandbox, new Faseeh(), speech(extra as INodeParameters), [{ json: {} }]);
		expect(result.error?.message).toMatch(message);
		expect(sandbox.requests).toHaveLength(0);
	});
});
