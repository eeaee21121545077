/**
 * Speech → Generate decides what Faseeh answered by its content (issue 17, items 6, 7 and 13): a
 * real container keeps its type and extension, only true headerless PCM is wrapped, a WAV is read
 * by its chunks, and streaming PCM is taken at the rate the answer names, else Faseeh's documented
 * 24 kHz, and resampled to Options → Sample Rate (issue 22.8).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { INodeParameters } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { parseWav } from '../../nodes/shared/audio';
import { cleanupHarness } from '../harness/n8nHarness';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { synthesize } from '../sandbox/catalog';
import { decodeWithLibrary } from '../helpers/audio';
import { requestsTo, runAgainst, startSandbox } from '../helpers/faseeh';

const TEXT = 'مرحبا بك في فصيح كيف يمكنني مساعدتك اليوم';
const speech = (extra: INodeParameters = {}): INodeParameters => ({
	resource: 'speech',
	operation: 'generate',
	voiceId: { __rl: true, mode: 'id', value: 'ar-najdi-male-2' },
	text: TEXT,
	model: 'faseeh-v1-preview',
	stability: 0.5,
	...extra,
});

const sandboxes: FaseehSandbox[] = [];
const servers: http.Server[] = [];
afterAll(async () => {
	for (const sandbox of sandboxes) await sandbox.stop();
	await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
	await cleanupHarness();
});

/** A loopback "Faseeh" whose TTS answers these bytes with this content type. */
async function answering(body: Buffer, contentType: string) {
	const server = http.createServer((req, res) => {
		req.resume();
		req.on('end', () => res.writeHead(200, { 'content-type': contentType }).end(body));
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	servers.push(server);
	return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
}

async function run(body: Buffer, contentType: string, parameters: INodeParameters = speech()) {
	const sandbox = await startSandbox();
	sandboxes.push(sandbox);
	const baseUrl = await answering(body, contentType);
	const result = await runAgainst(sandbox, new Faseeh(), parameters, [{ json: {} }], { baseUrl });
	return { result, item: result.items[0], data: result.items[0] ? await result.binaryBuffer(result.items[0], 'data') : undefined };
}

/** A WAV whose header is not the canonical 44 bytes: a LIST chunk before `data`, WAVE_FORMAT_EXTENSIBLE. */
function extensibleWavWithList(pcm: Buffer, sampleRate: number): Buffer {
	const fmt = Buffer.alloc(8 + 40);
	fmt.write('fmt ', 0, 'latin1');
	fmt.writeUInt32LE(40, 4);
	fmt.writeUInt16LE(0xfffe, 8);
	fmt.writeUInt16LE(1, 10);
	fmt.writeUInt32LE(sampleRate, 12);
	fmt.writeUInt32LE(sampleRate * 2, 16);
	fmt.writeUInt16LE(2, 20);
	fmt.writeUInt16LE(16, 22);
	fmt.writeUInt16LE(22, 24);
	fmt.writeUInt16LE(16, 26);
	fmt.writeUInt32LE(4, 28);
	fmt.writeUInt16LE(1, 32); // sub-format PCM
	const list = Buffer.concat([Buffer.from('LIST', 'latin1'), Buffer.from([9, 0, 0, 0]), Buffer.from('INFOabcde\0', 'latin1')]);
	const data = Buffer.concat([Buffer.from('data', 'latin1'), Buffer.alloc(4), pcm]);
	data.writeUInt32LE(pcm.length, 4);
	const riff = Buffer.concat([Buffer.from('RIFF', 'latin1'), Buffer.alloc(4), Buffer.from('WAVE', 'latin1'), fmt, list, data]);
	riff.writeUInt32LE(riff.length - 8, 4);
	return riff;
}

describe('what Faseeh answered decides the file', () => {
	it('an MP3 answer labelled audio/wav stays an MP3: audio/mpeg, .mp3, its bytes unchanged', async () => {
		const mp3 = Buffer.concat([Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1'), Buffer.alloc(400, 0x55)]);
		const { result, item, data } = await run(mp3, 'audio/wav');
		expect(result.error).toBeUndefined();
		expect(item.binary?.data).toMatchObject({ mimeType: 'audio/mpeg', fileName: 'faseeh-speech-ar-najdi-male-2.mp3' });
		expect(item.json).toMatchObject({ mimeType: 'audio/mpeg', fileName: 'faseeh-speech-ar-najdi-male-2.mp3', fileSize: mp3.length });
		expect(data?.equals(mp3)).toBe(true);
	});

	it('headerless PCM labelled audio/wav or application/octet-stream is wrapped, not stored headerless or refused', async () => {
		const pcm = synthesize('x', TEXT, 24000);
		for (const label of ['audio/wav', 'application/octet-stream']) {
			const { result, item, data } = await run(pcm, label);
			expect(result.error).toBeUndefined();
			const info = parseWav(data as Buffer);
			expect(info).toMatchObject({ pcm: true, sampleRate: 24000, channels: 1, bitsPerSample: 16, dataLength: pcm.length });
			expect((data as Buffer).subarray(info!.dataOffset).equals(pcm)).toBe(true);
			expect(item.json.durationSeconds).toBeCloseTo(pcm.length / 2 / 24000, 3);
			expect(item.json.mimeType).toBe('audio/wav');
		}
	});

	it('a WAV labelled raw PCM is read as a WAV (its header is not taken for samples)', async () => {
		const pcm = synthesize('y', TEXT, 16000);
		const wav = extensibleWavWithList(pcm, 16000);
		const { result, item, data } = await run(wav, 'audio/raw;codec=pcm16;rate=24000;channels=1');
		expect(result.error).toBeUndefined();
		const info = parseWav(data as Buffer);
		expect(info).toMatchObject({ sampleRate: 16000, dataLength: pcm.length });
		expect((data as Buffer).subarray(info!.dataOffset).equals(pcm)).toBe(true);
		// The duration comes from the chunks, not from a 44-byte header guess.
		expect(item.json.durationSeconds).toBeCloseTo(pcm.length / 2 / 16000, 3);
		expect(item.json.sampleRate).toBe(16000);
	});

	it('bytes known not to be audio are refused, naming what they are', async () => {
		const png = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(64)]);
		const { result } = await run(png, 'audio/wav');
		expect(result.error).toBeInstanceOf(NodeApiError);
		expect(result.error?.message).toMatch(/answered audio\/wav, but the answer is image\/png, not audio/);
	});
});

describe('streaming with a sample rate (issue 22.8)', () => {
	const streamed = (extra: INodeParameters = {}) => speech({ options: { streaming: true, sampleRate: 16000 }, ...extra });
	/** The sandbox's voice is a pure tone, so its 16 kHz synthesis is what 24 kHz resampled to 16 kHz must be. */
	const at16k = () => synthesize(`tts\nfaseeh-v1-preview\nar-najdi-male-2\n${TEXT}`, TEXT, 16000);
	const floats = (pcm: Buffer) => Float32Array.from({ length: pcm.length / 2 }, (_u, i) => pcm.readInt16LE(i * 2) / 32768);

	// 'ignoredUnnamed' is the case the bytes cannot reveal: Faseeh streams 24 kHz whatever sample_rate
	// asks and names no rate. Before, the node took the PCM for the 16 kHz it asked: a WAV labelled
	// 16 kHz holding 24 kHz samples, played 1.5 times too long and a fifth lower.
	it.each(['fixed', 'named', 'unnamed', 'ignoredUnnamed'] as const)(
		'sandbox streaming %s: sample_rate is not sent, the 24 kHz PCM is resampled, the WAV is 16 kHz speech of the right length',
		async (mode) => {
			const sandbox = await startSandbox({ streamingSampleRate: mode });
			sandboxes.push(sandbox);
			const result = await runAgainst(sandbox, new Faseeh(), streamed(), [{ json: {} }]);
			expect(result.error).toBeUndefined();
			const [request] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
			expect(request.json).toMatchObject({ streaming: true });
			expect(request.json).not.toHaveProperty('sample_rate');
			const wav = await result.binaryBuffer(result.items[0], 'data');
			const info = parseWav(wav)!;
			expect(info.sampleRate).toBe(16000);
			const expected = at16k();
			const got = wav.subarray(info.dataOffset);
			// ceil(n × 16000 / 24000) samples against the sandbox's round(seconds × 16000): within one.
			expect(Math.abs(got.length - expected.length)).toBeLessThanOrEqual(2);
			const [a, b] = [floats(got), floats(expected)];
			const n = Math.min(a.length, b.length);
			let error = 0;
			for (let i = 32; i < n - 32; i++) error = Math.max(error, Math.abs(a[i] - b[i]));
			// The same tone at the same times (no speed change): every sample within 1 % of full scale.
			expect(error).toBeLessThan(0.01);
			expect(result.items[0].json).toMatchObject({ sampleRate: 16000, streaming: true });
			expect(result.items[0].json.durationSeconds).toBeCloseTo(expected.length / 2 / 16000, 2);
		},
	);

	it('MP3 and OGG/Opus: encoded at the asked rate from the resampled PCM, decoded to the right length', async () => {
		const sandbox = await startSandbox({ streamingSampleRate: 'ignoredUnnamed' });
		sandboxes.push(sandbox);
		const expected = at16k().length / 2;
		for (const format of ['mp3', 'oggOpus'] as const) {
			const result = await runAgainst(sandbox, new Faseeh(), streamed({ outputFormat: format }), [{ json: {} }]);
			expect(result.error).toBeUndefined();
			const file = await result.binaryBuffer(result.items[0], 'data');
			expect(result.items[0].json).toMatchObject({ format, sampleRate: 16000 });
			const decoded = decodeWithLibrary(format === 'mp3' ? 'mp3' : 'ogg', file);
			expect(decoded.errors).toEqual([]);
			// mpg123 at the MP3's 16 kHz, libopus always at 48 kHz.
			expect(decoded.sampleRate).toBe(format === 'mp3' ? 16000 : 48000);
			expect(Math.abs(decoded.samplesDecoded / decoded.sampleRate - expected / 16000)).toBeLessThan(0.002);
		}
	});

	it('without Sample Rate, streaming is as before: 24 kHz as Faseeh streams it, nothing resampled', async () => {
		const sandbox = await startSandbox({ streamingSampleRate: 'ignoredUnnamed' });
		sandboxes.push(sandbox);
		const result = await runAgainst(sandbox, new Faseeh(), speech({ options: { streaming: true } }), [{ json: {} }]);
		const wav = await result.binaryBuffer(result.items[0], 'data');
		const info = parseWav(wav)!;
		expect(info.sampleRate).toBe(24000);
		expect(wav.subarray(info.dataOffset).equals(synthesize(`tts\nfaseeh-v1-preview\nar-najdi-male-2\n${TEXT}`, TEXT, 24000))).toBe(true);
	});

	it('a complete (non-streaming) answer still asks Faseeh for the rate: its WAV header says what it is', async () => {
		const sandbox = await startSandbox();
		sandboxes.push(sandbox);
		const result = await runAgainst(sandbox, new Faseeh(), speech({ options: { sampleRate: 16000 } }), [{ json: {} }]);
		const [request] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
		expect(request.json).toMatchObject({ streaming: false, sample_rate: 16000 });
		const wav = await result.binaryBuffer(result.items[0], 'data');
		expect(wav.subarray(parseWav(wav)!.dataOffset).equals(at16k())).toBe(true);
	});
});
