/**
 * Audio → Transcribe in n8n's real engine against the sandbox's Munsit speech-to-text: what was
 * sent (fields, flags, the file part), what the item holds, the errors, and the plan limit it
 * shares with text-to-speech.
 */
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import type { INodeParameters } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import { cleanupHarness, runNode } from '../harness/n8nHarness';
import type { FixtureItem } from '../harness/n8nHarness';
import type { FaseehSandbox, FaseehSandboxOptions } from '../sandbox/FaseehSandbox';
import { part, partNames, requestsTo, runAgainst, serialised, sha256, startSandbox, TEST_API_KEY, wavRecording } from '../helpers/faseeh';

const NOTE = wavRecording(1.2, 233);
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(64, 1)]);
const transcribe = (extra: INodeParameters = {}): INodeParameters => ({ resource: 'audio', operation: 'transcribe', ...extra });
const noteItem = (data: Buffer = NOTE, fileName = 'voice-note.wav', mimeType = 'audio/wav'): FixtureItem => ({
	json: {},
	binary: { data: { data, fileName, mimeType } },
});

let sandbox: FaseehSandbox;
const extra: FaseehSandbox[] = [];
async function sandboxWith(options: FaseehSandboxOptions): Promise<FaseehSandbox> {
	const created = await startSandbox(options);
	extra.push(created);
	return created;
}
const run = async (parameters: INodeParameters, items: FixtureItem[] = [noteItem()], on: FaseehSandbox = sandbox, options = {}) =>
	await runAgainst(on, new Faseeh(), parameters, items, options);

beforeAll(async () => {
	sandbox = await startSandbox();
});
afterEach(() => sandbox.reset());
afterAll(async () => {
	await sandbox.stop();
	for (const other of extra) await other.stop();
	await cleanupHarness();
});

describe('Audio → Transcribe', () => {
	it.each(['filesystem', 'default'] as const)('sends the model, every flag explicitly and the file; text is first in the item (%s)', async (binaryMode) => {
		const result = await run(transcribe(), [noteItem()], sandbox, { binaryMode });
		expect(result.error).toBeUndefined();
		const [request] = requestsTo(sandbox, 'POST', '/audio/transcribe');
		expect(request.headers['x-api-key']).toBe(TEST_API_KEY);
		expect(partNames(request)).toEqual(['file', 'model', 'return_confidence', 'return_gender', 'return_sentiment', 'return_timestamps', 'return_turns']);
		expect(request.fields).toEqual({
			model: 'munsit',
			return_timestamps: 'true',
			return_confidence: 'false',
			return_turns: 'false',
			return_gender: 'false',
			return_sentiment: 'false',
		});
		expect(part(request, 'file')).toMatchObject({ filename: 'voice-note.wav', contentType: 'audio/wav', size: NOTE.length, sha256: sha256(NOTE) });

		const [item] = result.items;
		const expected = sandbox.transcriptFor(sha256(NOTE));
		expect(Object.keys(item.json)[0]).toBe('text');
		expect(item.json).toMatchObject({ text: expected, mode: 'transcribe', model: 'munsit', duration: 1.2 });
		expect((item.json.timestamps as Array<{ word: string }>).map((w) => w.word).join(' ')).toBe(expected);
		// Fields the node does not know are kept as given.
		expect(item.json.stats).toMatchObject({ fileName: 'voice-note.wav', creditsConsumed: expect.any(Number) });
		expect(item.json.audioUrl).toEqual(expect.stringContaining('storage.sandbox.invalid'));
		expect(item.json.raw).toBeUndefined();
		expect(item.binary).toBeUndefined();
	});

	it('each option sets its flag: confidence, turns, gender, sentiment, hotwords, timestamps off; munsit-en-ar', async () => {
		const result = await run(
			transcribe({
				options: { returnConfidence: true, returnTurns: true, returnGender: true, returnSentiment: true, hotwords: ' فصيح , منصت ' },
			}),
		);
		expect(result.error).toBeUndefined();
		const [request] = requestsTo(sandbox, 'POST', '/audio/transcribe');
		expect(request.fields).toEqual({
			model: 'munsit',
			return_timestamps: 'true',
			return_confidence: 'true',
			return_turns: 'true',
			return_gender: 'true',
			return_sentiment: 'true',
			hotwords: 'فصيح,منصت',
		});
		const json = result.items[0].json;
		expect((json.timestamps as Array<Record<string, unknown>>)[0]).toHaveProperty('confidence');
		// Undocumented shapes pass through untouched.
		expect(json.turns).toEqual(expect.arrayContaining([expect.objectContaining({ sandbox: true })]));
		expect(json.analysis).toMatchObject({ sandbox: true, gender: expect.any(Object), sentiment: expect.any(Object) });

		sandbox.reset();
		const enAr = await run(transcribe({ sttModel: 'munsit-en-ar', options: { returnTimestamps: false } }));
		expect(enAr.error).toBeUndefined();
		expect(requestsTo(sandbox, 'POST', '/audio/transcribe')[0].fields).toMatchObject({ model: 'munsit-en-ar', return_timestamps: 'false' });
		expect(enAr.items[0].json.timestamps).toBeUndefined();
		expect(enAr.items[0].json.model).toBe('munsit-en-ar');
	});

	it('diarization: the diarization endpoint with only file and model; speakers and sorted segments, the answer kept', async () => {
		const long = wavRecording(5, 180);
		const result = await run(transcribe({ mode: 'diarize', options: { includeRawResponse: true } }), [noteItem(long, 'meeting.wav')]);
		expect(result.error).toBeUndefined();
		const [request] = requestsTo(sandbox, 'POST', '/audio/diarization/transcribe');
		expect(partNames(request)).toEqual(['file', 'model']);
		expect(requestsTo(sandbox, 'POST', '/audio/transcribe')).toHaveLength(0);
		const json = result.items[0].json;
		expect(json.text).toBe(sandbox.transcriptFor(sha256(long)));
		expect(json.speakers).toEqual(['SPEAKER_00', 'SPEAKER_01']);
		const starts = (json.segments as Array<{ start: number }>).map((s) => s.start);
		expect(starts).toEqual([...starts].sort((a, b) => a - b));
		expect((json.merged as unknown[]).length).toBe(starts.length);
		expect(json.diarization).toHaveProperty('segments');
		expect(json.raw).toMatchObject({ statusCode: 200, message: 'Success', data: { merged: json.merged } });
	});

	it('reads a bare body (no envelope) and a 201 the same way', async () => {
		const bare = await sandboxWith({ sttBareBody: true, sttSuccessStatus: 201 });
		const result = await run(transcribe({ options: { includeRawResponse: true } }), [noteItem()], bare);
		expect(result.error).toBeUndefined();
		expect(result.items[0].json).toMatchObject({ text: bare.transcriptFor(sha256(NOTE)), duration: 1.2 });
		expect((result.items[0].json.raw as Record<string, unknown>).statusCode).toBeUndefined();
		const diarized = await run(transcribe({ mode: 'diarize' }), [noteItem()], bare);
		expect(diarized.items[0].json.text).toBe(bare.transcriptFor(sha256(NOTE)));
	});

	it('gives the extension the content’s format (the server decodes by extension) and warns on an empty transcript', async () => {
		const result = await run(transcribe(), [noteItem(NOTE, 'voice note.mp3', 'audio/mpeg'), noteItem(NOTE, 'recording', 'audio/wav')]);
		expect(result.error).toBeUndefined();
		const files = requestsTo(sandbox, 'POST', '/audio/transcribe').map((r) => part(r, 'file'));
		expect(files.map((file) => [file.filename, file.contentType])).toEqual([
			['voice note.wav', 'audio/wav'],
			['recording.wav', 'audio/wav'],
		]);
		expect(result.items[0].json.text).toBe(sandbox.transcriptFor(sha256(NOTE)));

		// An undetectable body named .mp3 (here: MP3 frames the sniffer cannot see) is sent as is;
		// the sandbox, like the real API, answers a mismatch with an empty transcript.
		const opaque = Buffer.concat([Buffer.from('00000000', 'hex'), NOTE]);
		const empty = await run(transcribe(), [noteItem(opaque, 'clip.mp3', 'audio/mpeg')]);
		expect(empty.error).toBeUndefined();
		expect(empty.items[0].json).toMatchObject({ text: '', warning: expect.stringContaining('The transcript is empty') });
	});

	it('the sandbox’s own speech comes back as the text that produced it (Speech → Generate → Transcribe)', async () => {
		const text = 'مرحبا، موعدك غدا في العاشرة صباحا';
		const speech = await run({ resource: 'speech', operation: 'generate', voiceId: { mode: 'id', value: 'ar-najdi-male-2' }, text, model: 'faseeh-v1-preview', stability: 0.5 }, [{ json: {} }]);
		expect(speech.error).toBeUndefined();
		const wav = await speech.binaryBuffer(speech.items[0], 'data');
		const heard = await run(transcribe(), [noteItem(wav, 'answer.wav')]);
		expect(heard.items[0].json.text).toBe(text);
	});
});

describe('Audio → Transcribe: bad input, refused before any request', () => {
	it.each([
		['a missing binary field', transcribe({ binaryPropertyName: 'voice' }), noteItem(), /Parameter "Input Data Field Name": the input item has no binary field "voice"; binary fields on this item: data \[item 0\]/],
		['an image', transcribe(), noteItem(PNG, 'photo.png', 'image/png'), /is not audio: its content is PNG \[item 0\]/],
		['an empty file', transcribe(), noteItem(Buffer.alloc(0), 'empty.wav', 'audio/wav'), /is empty \[item 0\]/],
		['an unsupported model', transcribe({ sttModel: 'whisper-1' }), noteItem(), /Parameter "Model" must be munsit or munsit-en-ar, got "whisper-1" \[item 0\]/],
		['hotwords with munsit-en-ar', transcribe({ sttModel: 'munsit-en-ar', options: { hotwords: 'a,b' } }), noteItem(), /Parameter "Hotwords" is not supported with the Munsit EN-AR model \[item 0\]/],
		['an empty hotword', transcribe({ options: { hotwords: 'a,,b' } }), noteItem(), /Parameter "Hotwords" has an empty entry/],
		['a video file', transcribe(), noteItem(Buffer.alloc(64, 7), 'clip.mp4', 'video/mp4'), /is not audio \(MIME type video\/mp4\) \[item 0\]/],
		['a format it does not take', transcribe(), noteItem(Buffer.alloc(64, 7), 'tone.mid', 'audio/midi'), /holds "tone.mid" \(audio\/midi\), a format speech-to-text does not take \[item 0\]/],
	])('%s', async (_name, parameters, item, message) => {
		const result = await run(parameters, [item]);
		expect(result.error).toBeInstanceOf(NodeOperationError);
		expect(result.error?.message).toMatch(message);
		expect(sandbox.requests).toHaveLength(0);
	});
});

it('as an AI Agent tool (the type n8n derives, faseehTool, with JSON only): says why no recording can reach it', async () => {
	const result = await runNode({
		nodeType: new Faseeh(),
		typeName: 'n8n-nodes-faseeh.faseehTool',
		parameters: transcribe(),
		items: [{ json: { query: 'transcribe the voice note' } }],
		credentials: { faseehApi: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
		credentialTypes: [new FaseehApi()],
	});
	expect(result.error).toBeInstanceOf(NodeOperationError);
	expect(result.error?.message).toMatch(/cannot receive a recording when the node runs as an AI Agent tool/);
	expect(sandbox.requests).toHaveLength(0);
});

describe('Audio → Transcribe: errors carry the API’s message, code and a hint', () => {
	it.each([
		[401, 40101, 'Invalid or missing API key', /Check the API key/],
		[402, 40201, 'Insufficient wallet balance. Required: $0.05, Available: $0.02', /wallet balance is too low/],
		[413, 41301, 'Payload too large', /too large/],
		[415, 41501, 'Unsupported media type', /does not take this audio format/],
		[429, 42901, 'Concurrency limit exceeded. Current: 2, Maximum: 2', /plan limits concurrent requests/],
	])('HTTP %i', async (status, code, message, hint) => {
		sandbox.inject({ kind: 'status', status, route: 'POST /audio/transcribe', times: status === 429 ? 1000 : 1 });
		const result = await run(transcribe({ options: { rateLimitWait: 0 } }));
		expect(result.error).toBeInstanceOf(NodeApiError);
		const error = result.error as NodeApiError;
		expect(error.message).toBe(message);
		expect(error.description).toMatch(hint);
		expect(error.description).toContain(`(HTTP ${status}, Faseeh error code ${code})`);
		expect(error.context.errorCode).toBe(code);
		expect(serialised(error)).not.toContain(TEST_API_KEY);
	});

	it('a wrong key is answered 401 by the sandbox itself, with the key nowhere in the error', async () => {
		const result = await run(transcribe(), [noteItem()], sandbox, { apiKey: 'fsk-wrong-key-for-stt' });
		expect((result.error as NodeApiError).message).toBe('Invalid or missing API key');
		expect(serialised(result.error)).not.toContain('fsk-wrong-key-for-stt');
	});

	it('400 "Unsupported audio format" gets the format hint; an envelope with an error statusCode is an error', async () => {
		sandbox.inject({ kind: 'status', status: 400, route: 'POST /audio/transcribe', body: { errorCode: 40001, errorMessage: 'Unsupported audio format ".mp4"' } });
		const refused = await run(transcribe());
		expect(refused.error?.message).toBe('Unsupported audio format ".mp4"');
		expect((refused.error as NodeApiError).description).toMatch(/does not take this audio format/);

		sandbox.inject({ kind: 'status', status: 200, route: 'POST /audio/transcribe', body: { statusCode: 402, message: 'Insufficient credits', data: null } });
		const enveloped = await run(transcribe());
		expect(enveloped.error?.message).toBe('Insufficient credits');
		expect((enveloped.error as NodeApiError).description).toMatch(/wallet balance is too low.*\(HTTP 402\)/);
	});

	it('a host that does not serve speech-to-text (404) names the hosts that do', async () => {
		const faseehOnly = await sandboxWith({ sttRoutes: false });
		for (const mode of ['transcribe', 'diarize']) {
			const result = await run(transcribe({ mode }), [noteItem()], faseehOnly);
			expect(result.error).toBeInstanceOf(NodeApiError);
			expect(result.error?.message).toMatch(/^This host does not serve speech-to-text: http:\/\/127\.0\.0\.1:\d+\/api\/v1 answered 404 for POST \/audio\//);
			expect((result.error as NodeApiError).description).toMatch(/https:\/\/api\.munsit\.com\/api\/v1.*Choose "Munsit" as the Base URL.*The host said: Not found/);
		}
	});
});

describe('Audio → Transcribe shares the plan limit with speech', () => {
	it('TTS and STT items at once on a Basic plan: never more than 2 in flight, no 429, every item answered once', async () => {
		const limited = await sandboxWith({ maxConcurrent: 2, latencyMs: 120 });
		const notes = Array.from({ length: 6 }, (_unused, index) => noteItem(wavRecording(0.3 + index * 0.1, 300 + index * 10), `note-${index}.wav`));
		const texts = Array.from({ length: 6 }, (_unused, index) => ({ json: { text: `رسالة رقم ${index} للاختبار` } }));
		const speech = { resource: 'speech', operation: 'generate', voiceId: { mode: 'id', value: 'ar-najdi-male-2' }, text: '={{ $json.text }}', model: 'faseeh-v1-preview', stability: 0.5, options: { concurrency: 5 } };
		const [stt, tts, stt2] = await Promise.all([
			run(transcribe({ options: { concurrency: 5 } }), notes, limited, { credential: { plan: 'basic' } }),
			run(speech, texts, limited, { credential: { plan: 'basic' } }),
			run(transcribe({ mode: 'diarize', options: { concurrency: 5 } }), notes, limited, { credential: { plan: 'basic' } }),
		]);
		for (const result of [stt, tts, stt2]) expect(result.error).toBeUndefined();
		expect(limited.maxInFlight).toBe(2);
		expect(limited.requests.map((r) => r.status)).toEqual(Array(18).fill(200));
		expect(stt.items.map((item) => item.json.fileName)).toEqual(notes.map((_n, i) => `note-${i}.wav`));
		expect(requestsTo(limited, 'POST', '/audio/transcribe')).toHaveLength(6);
		expect(requestsTo(limited, 'POST', '/audio/diarization/transcribe')).toHaveLength(6);
	});
});
