import type { ILoadOptionsFunctions, INodeExecutionData, INodeParameters, INodeType } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { FaseehVoiceClone } from '../../nodes/FaseehVoiceClone/FaseehVoiceClone.node';
import { cleanupHarness, runLoadOptions } from '../harness/n8nHarness';
import type { FixtureItem, NodeRunResult } from '../harness/n8nHarness';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { bestCorrelation, decodeWithLibrary } from '../helpers/audio';
import { TEST_API_KEY, part, partNames, requestsTo, runAgainst, sha256, startSandbox, wavRecording } from '../helpers/faseeh';

const RECORDING = wavRecording(0.8, 196);
const PREVIEW_TEXT = 'مرحبا بك في فصيح، هذا صوتي الجديد';

/** Reads a canonical WAV header back. */
function wavInfo(wav: Buffer) {
	return {
		riff: wav.toString('latin1', 0, 4),
		wave: wav.toString('latin1', 8, 12),
		riffSize: wav.readUInt32LE(4),
		channels: wav.readUInt16LE(22),
		sampleRate: wav.readUInt32LE(24),
		bitsPerSample: wav.readUInt16LE(34),
		dataSize: wav.readUInt32LE(40),
	};
}

let sandbox: FaseehSandbox;
const recordingItem = (): FixtureItem => ({ json: {}, binary: { data: { data: RECORDING, fileName: 'sara.wav', mimeType: 'audio/wav' } } });
const faseeh = async (parameters: INodeParameters, items: FixtureItem[] = [{ json: {} }], options = {}) =>
	await runAgainst(sandbox, new Faseeh(), parameters, items, options);

/** Turns a node's output items into the next node's input fixtures, binaries read back from n8n. */
async function asInput(result: NodeRunResult): Promise<FixtureItem[]> {
	return await Promise.all(
		result.items.map(async (item: INodeExecutionData) => {
			const binary: FixtureItem['binary'] = {};
			for (const [field, data] of Object.entries(item.binary ?? {})) {
				binary[field] = { data: await result.binaryBuffer(item, field), fileName: data.fileName, mimeType: data.mimeType };
			}
			return { json: item.json, binary };
		}),
	);
}

beforeAll(async () => {
	sandbox = await startSandbox();
});
afterEach(() => sandbox.reset());
afterAll(async () => {
	await sandbox.stop();
	await cleanupHarness();
});

describe('Voice → Preview', () => {
	const preview = { resource: 'voice', operation: 'preview', text: PREVIEW_TEXT, similarity: 0.8, model: 'faseeh-mini-v1-preview' };

	it.each(['filesystem', 'default'] as const)('sends the documented parts and outputs a WAV plus the original (%s)', async (binaryMode) => {
		const result = await faseeh({ ...preview, options: { speed: 0.9 } }, [recordingItem()], { binaryMode });
		expect(result.error).toBeUndefined();
		const [request] = requestsTo(sandbox, 'POST', '/voices/preview');
		expect(partNames(request)).toEqual(['file', 'model_id', 'similarity', 'speed', 'text']);
		expect(request.fields).toEqual({ text: PREVIEW_TEXT, similarity: '0.8', model_id: 'faseeh-mini-v1-preview', speed: '0.9' });
		expect(part(request, 'file')).toMatchObject({ filename: 'sara.wav', contentType: 'audio/wav', sha256: sha256(RECORDING) });

		const [item] = result.items;
		expect(item.json).toMatchObject({ text: PREVIEW_TEXT, model: 'faseeh-mini-v1-preview', similarity: 0.8, speed: 0.9 });
		expect(item.binary?.voice_file).toMatchObject({ mimeType: 'audio/wav', fileName: 'sara-preview.wav' });
		const wav = await result.binaryBuffer(item, 'voice_file');
		expect(wavInfo(wav)).toEqual({ riff: 'RIFF', wave: 'WAVE', riffSize: wav.length - 8, channels: 1, sampleRate: 24000, bitsPerSample: 16, dataSize: wav.length - 44 });
		expect(item.json.durationSeconds).toBeCloseTo((wav.length - 44) / 48000, 3);
		expect(sha256(await result.binaryBuffer(item, 'reference_audio_file'))).toBe(sha256(RECORDING));
	});

	it('Output Format OGG/Opus: a voice note of the same speech, the original passed through', async () => {
		const wavRun = await faseeh(preview, [recordingItem()]);
		const wav = await wavRun.binaryBuffer(wavRun.items[0], 'voice_file');
		const pcm = new Float32Array((wav.length - 44) / 2);
		for (let i = 0; i < pcm.length; i++) pcm[i] = wav.readInt16LE(44 + 2 * i) / 32768;

		const result = await faseeh({ ...preview, outputFormat: 'oggOpus', opusBitRate: 24 }, [recordingItem()]);
		expect(result.error).toBeUndefined();
		const [item] = result.items;
		expect(item.binary?.voice_file).toMatchObject({ mimeType: 'audio/ogg', fileName: 'sara-preview.ogg' });
		const ogg = await result.binaryBuffer(item, 'voice_file');
		expect(item.json).toMatchObject({ format: 'oggOpus', mimeType: 'audio/ogg', fileName: 'sara-preview.ogg', fileSize: ogg.length, bitRateKbps: 24, sampleRate: 24000 });
		const decoded = decodeWithLibrary('ogg', ogg);
		expect(decoded.errors).toEqual([]);
		expect(Math.abs(decoded.samplesDecoded / decoded.sampleRate - pcm.length / 24000) / (pcm.length / 24000)).toBeLessThan(0.01);
		expect(Math.abs((item.json.durationSeconds as number) - pcm.length / 24000)).toBeLessThan(0.001);
		const resampled = decoded.sampleRate === 24000 ? decoded.samples : decoded.samples.filter((_, i) => i % (decoded.sampleRate / 24000) === 0);
		expect(bestCorrelation(pcm, resampled, 3000).r).toBeGreaterThan(0.9);
		expect(sha256(await result.binaryBuffer(item, 'reference_audio_file'))).toBe(sha256(RECORDING));
	});

	it('Output Format MP3 with a bit rate not offered is refused before any request', async () => {
		const result = await faseeh({ ...preview, outputFormat: 'mp3', mp3BitRate: 50 }, [recordingItem()]);
		expect(result.error).toBeInstanceOf(NodeOperationError);
		expect(result.error?.message).toMatch(/^Parameter "Bit Rate \(Kbps\)" .*\[item 0\]$/);
		expect(sandbox.requests).toHaveLength(0);
	});

	it('checks the text before sending: 3 words and 10 characters', async () => {
		const result = await faseeh({ ...preview, text: 'مرحبا بك' }, [recordingItem()]);
		expect(result.error).toBeInstanceOf(NodeOperationError);
		expect(result.error?.message).toBe('Parameter "Text" must have at least 3 words and 10 characters (it has 2 words, 8 characters) [item 0]');
		expect(sandbox.requests).toHaveLength(0);
	});

	it('checks speed before sending', async () => {
		const result = await faseeh({ ...preview, options: { speed: 1.5 } }, [recordingItem()]);
		expect(result.error?.message).toBe('Parameter "Speed" must be a number from 0.7 to 1.2, got 1.5 [item 0]');
		expect(sandbox.requests).toHaveLength(0);
	});

	it('surfaces the API’s 500 message', async () => {
		sandbox.inject({ route: 'POST /voices/preview', kind: 'status', status: 500, body: { errorCode: 50001, errorMessage: 'Failed to generate voice preview' } });
		const result = await faseeh(preview, [recordingItem()]);
		expect(result.error).toBeInstanceOf(NodeApiError);
		expect(result.error?.message).toBe('Failed to generate voice preview');
	});
});

describe('preview → clone → speak, with zero mapping', () => {
	it('clones with exactly the WAV-wrapped preview and the original, then speaks with the new voice', async () => {
		const previewRun = await faseeh(
			{ resource: 'voice', operation: 'preview', text: PREVIEW_TEXT, similarity: 0.7, model: 'faseeh-v1-preview' },
			[recordingItem()],
		);
		expect(previewRun.error).toBeUndefined();
		const previewWav = await previewRun.binaryBuffer(previewRun.items[0], 'voice_file');
		const previewPcm = requestsTo(sandbox, 'POST', '/voices/preview')[0];
		expect(previewPcm.status).toBe(200);

		// The Faseeh Voice Clone node with its defaults and the two expressions the README shows.
		const cloneRun = await runAgainst(
			sandbox,
			new FaseehVoiceClone(),
			{ text: '={{ $json.text }}', model: '={{ $json.model }}', name: 'Sara', stability: 0.5 },
			await asInput(previewRun),
		);
		expect(cloneRun.error).toBeUndefined();
		const [cloneRequest] = requestsTo(sandbox, 'POST', '/voices/clone');
		expect(part(cloneRequest, 'voice_file').sha256).toBe(sha256(previewWav));
		expect(part(cloneRequest, 'voice_file').data.subarray(0, 4).toString('latin1')).toBe('RIFF');
		expect(part(cloneRequest, 'reference_audio_file').sha256).toBe(sha256(RECORDING));
		expect(cloneRequest.fields).toMatchObject({ text: PREVIEW_TEXT, model: 'faseeh-v1-preview' });
		const voiceId = cloneRun.items[0].json.voice_id as string;
		expect(voiceId).toMatch(/^cl-/);

		const speakRun = await faseeh(
			{ resource: 'speech', operation: 'generate', voiceId: { __rl: true, mode: 'id', value: '={{ $json.voice_id }}' }, text: 'أهلا وسهلا بكم جميعا', model: 'faseeh-v1-preview', stability: 0.5 },
			await asInput(cloneRun),
		);
		expect(speakRun.error).toBeUndefined();
		expect((requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview')[0].json as { voice_id: string }).voice_id).toBe(voiceId);
		const speech = await speakRun.binaryBuffer(speakRun.items[0], 'data');
		expect(wavInfo(speech).riff).toBe('RIFF');
	});
});

describe('one-step clone (voiceSource = preview)', () => {
	it('previews the recording, then clones with that preview and the recording', async () => {
		const result = await runAgainst(
			sandbox,
			new FaseehVoiceClone(),
			{ voiceSource: 'preview', referenceBinaryPropertyName: 'data', text: PREVIEW_TEXT, similarity: 0.9, model: 'faseeh-v1-preview', name: 'One Step', stability: 0.4 },
			[recordingItem()],
		);
		expect(result.error).toBeUndefined();
		const [previewRequest] = requestsTo(sandbox, 'POST', '/voices/preview');
		const [cloneRequest] = requestsTo(sandbox, 'POST', '/voices/clone');
		expect(previewRequest.fields).toEqual({ text: PREVIEW_TEXT, similarity: '0.9', model_id: 'faseeh-v1-preview' });
		expect(part(previewRequest, 'file').sha256).toBe(sha256(RECORDING));
		const wav = await result.binaryBuffer(result.items[0], 'voice_file');
		expect(part(cloneRequest, 'voice_file').sha256).toBe(sha256(wav));
		expect(part(cloneRequest, 'reference_audio_file').sha256).toBe(sha256(RECORDING));
		expect(cloneRequest.fields).toMatchObject({ text: PREVIEW_TEXT, model: 'faseeh-v1-preview', name: 'One Step', stability: '0.4' });
		expect(result.items[0].json.name).toBe('One Step');
	});

	it('checks the preview text rule before anything is sent', async () => {
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), { voiceSource: 'preview', referenceBinaryPropertyName: 'data', text: 'قصير', model: 'faseeh-v1-preview', name: 'x' }, [recordingItem()]);
		expect(result.error?.message).toMatch(/^Parameter "Text" must have at least 3 words and 10 characters/);
		expect(sandbox.requests).toHaveLength(0);
	});
});

describe('Speech → Generate', () => {
	const speech = {
		resource: 'speech',
		operation: 'generate',
		voiceId: { __rl: true, mode: 'list', value: 'ar-najdi-male-2' },
		text: 'مرحبا بك في فصيح كيف يمكنني مساعدتك اليوم',
		model: 'faseeh-v1-preview',
		stability: 0.6,
	};

	it('sends the documented JSON and outputs the WAV', async () => {
		const result = await faseeh({ ...speech, options: { speed: 1.1 } });
		expect(result.error).toBeUndefined();
		const [request] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
		expect(request.json).toEqual({ voice_id: 'ar-najdi-male-2', text: speech.text, stability: 0.6, streaming: false, speed: 1.1 });
		const [item] = result.items;
		expect(item.binary?.data).toMatchObject({ mimeType: 'audio/wav', fileName: 'faseeh-speech-ar-najdi-male-2.wav' });
		const wav = await result.binaryBuffer(item, 'data');
		expect(wavInfo(wav)).toMatchObject({ riff: 'RIFF', wave: 'WAVE', sampleRate: 24000, channels: 1, bitsPerSample: 16 });
		expect(item.json).toMatchObject({ voice_id: 'ar-najdi-male-2', characters: [...speech.text].length, fileSize: wav.length, streaming: false });
	});

	it('collects the streaming PCM and wraps it as WAV', async () => {
		const result = await faseeh({ ...speech, binaryPropertyName: 'speech', options: { streaming: true, fileName: 'hello.wav' } });
		expect(result.error).toBeUndefined();
		const [request] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
		expect((request.json as { streaming: boolean }).streaming).toBe(true);
		const wav = await result.binaryBuffer(result.items[0], 'speech');
		const info = wavInfo(wav);
		expect(info).toMatchObject({ riff: 'RIFF', sampleRate: 24000, channels: 1, bitsPerSample: 16, dataSize: wav.length - 44 });
		expect(info.dataSize % 2).toBe(0);
		expect(result.items[0].binary?.speech.fileName).toBe('hello.wav');
	});

	it('sends sample rate and dialect only when set', async () => {
		await faseeh({ ...speech, options: { sampleRate: 16000, dialect: 'fusha' } });
		const [request] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
		expect(request.json).toEqual({ voice_id: 'ar-najdi-male-2', text: speech.text, stability: 0.6, streaming: false, sample_rate: 16000, dialect: 'fusha' });
	});

	it('an unknown voice gets the API’s 404 message', async () => {
		const result = await faseeh({ ...speech, voiceId: { __rl: true, mode: 'id', value: 'no-such-voice' } });
		expect(result.error).toBeInstanceOf(NodeApiError);
		expect(result.error?.message).toBe('Voice not found: no-such-voice');
		expect((result.error as NodeApiError).httpCode).toBe('404');
	});

	it('a 200 that is not audio is an error, not a file', async () => {
		sandbox.inject({ route: 'POST /text-to-speech/:model', kind: 'raw', status: 200, contentType: 'text/html', body: '<html>maintenance</html>' });
		const result = await faseeh(speech);
		expect(result.error).toBeInstanceOf(NodeApiError);
		expect(result.error?.message).toMatch(/^Faseeh answered HTTP 200 without audio \(content type: text\/html/);
	});
});

describe('lists', () => {
	it('Voice → Get Many returns one item per voice, with a limit', async () => {
		const all = await faseeh({ resource: 'voice', operation: 'getMany', returnAll: true });
		expect(all.items.map((item) => item.json.voice_id)).toEqual(sandbox.voices().map((voice) => voice.voice_id));
		const limited = await faseeh({ resource: 'voice', operation: 'getMany', returnAll: false, limit: 2 });
		expect(limited.items).toHaveLength(2);
	});

	it('Voice → Get Many explains a host without the voice list', async () => {
		const noVoices = await startSandbox({ voicesRoute: false });
		try {
			const result = await runAgainst(noVoices, new Faseeh(), { resource: 'voice', operation: 'getMany', returnAll: true }, [{ json: {} }]);
			expect(result.error).toBeInstanceOf(NodeApiError);
			expect(result.error?.message).toBe('This Faseeh host does not offer the voice list (GET /voices answered 404)');
		} finally {
			await noVoices.stop();
		}
	});

	it('Model → Get Many returns one item per model', async () => {
		const result = await faseeh({ resource: 'model', operation: 'getMany' });
		expect(result.items.map((item) => item.json.model_id)).toEqual(['faseeh-v1-preview', 'faseeh-mini-v1-preview', 'faseeh-sandbox-only-v0']);
		expect(result.items[0].json).toHaveProperty('cost');
	});

	it('the voice picker searches the voice list by name or ID', async () => {
		// runLoadOptions drives loadOptions methods; the list search runs in the same real context.
		const faseehNode = new Faseeh();
		const node: INodeType = {
			description: faseehNode.description,
			methods: {
				loadOptions: {
					async searchNajdi(this: ILoadOptionsFunctions) {
						return (await faseehNode.methods.listSearch.searchVoices.call(this, 'NAJDI')).results;
					},
				},
			},
		};
		const results = await runLoadOptions({
			nodeType: node,
			method: 'searchNajdi',
			credentials: { faseehApi: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
			credentialTypes: [new FaseehApi()],
		});
		const expected = sandbox.voices().filter((voice) => `${voice.name} ${voice.voice_id} ${voice.dialect.join('/')}`.toLowerCase().includes('najdi'));
		expect(expected.length).toBeGreaterThan(0);
		expect(results.map((result) => result.value).sort()).toEqual(expected.map((voice) => voice.voice_id).sort());
		expect(String(results[0].name)).toContain(' · ');
	});
});
