/**
 * Tests of the Faseeh sandbox over real HTTP on 127.0.0.1: global fetch/FormData/Blob for what
 * clients normally send, hand-built multipart bodies and raw sockets for what fetch cannot
 * produce (missing filename, repeated fields, chunk framing).
 */
import * as http from 'node:http';
import { KNOWN_MODELS } from '../../nodes/shared/methods/loadOptions';
import { FaseehSandbox, PCM_CONTENT_TYPE } from './FaseehSandbox';
import { sniffAudio, wrapWav } from './audio';
import {
	asTextPart,
	blob,
	buildMultipart,
	cloneParts,
	decodeChunked,
	MODEL,
	parseWav,
	patch,
	previewParts,
	rawExchange,
	type RawPart,
	sha256,
	TEXT,
	ttsBody,
	waitFor,
	wav,
	withFields,
	without,
} from './testKit';

describe('FaseehSandbox', () => {
	const sb = new FaseehSandbox();
	let base = '';
	const auth = () => ({ 'x-api-key': sb.apiKey });
	const get = (p: string, headers: Record<string, string> = auth()) => fetch(`${base}${p}`, { headers });
	const postRaw = (p: string, body: Buffer | string, contentType: string, headers: Record<string, string> = auth()) =>
		fetch(`${base}${p}`, {
			method: 'POST',
			headers: { ...headers, 'content-type': contentType },
			body: typeof body === 'string' ? body : new Uint8Array(body),
		});
	const postForm = (p: string, parts: RawPart[]) => {
		const { body, contentType } = buildMultipart(parts);
		return postRaw(p, body, contentType);
	};
	const postJson = (p: string, json: unknown) => postRaw(p, JSON.stringify(json), 'application/json');
	const expectError = async (res: Response, status: number, code: number, message: string) => {
		expect({ status: res.status, body: await res.json() }).toEqual({
			status,
			body: { errorCode: code, errorMessage: message },
		});
		expect(res.headers.get('content-type')).toMatch(/^application\/json/);
	};

	beforeAll(async () => {
		base = await sb.start();
	});
	afterAll(() => sb.stop());
	beforeEach(() => sb.reset());

	test('start() resolves the base URL on 127.0.0.1', () => {
		expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
		expect(sb.baseUrl).toBe(base);
		expect(sb.apiKey).toBe('sandbox-key');
	});

	describe('listing and auth', () => {
		test('GET /models lists the two known models and one the nodes\' fallback list does not know', async () => {
			const res = await get('/models');
			expect(res.status).toBe(200);
			expect(res.headers.get('content-type')).toMatch(/^application\/json/);
			const models = (await res.json()) as Array<Record<string, unknown>>;
			expect(models.map((m) => [m.model_id, m.model_name, m.cost])).toEqual([
				['faseeh-v1-preview', 'Faseeh V1 Preview', 0.0001],
				['faseeh-mini-v1-preview', 'Faseeh Mini V1 Preview', 0.00005],
				['faseeh-sandbox-only-v0', 'Faseeh Sandbox-Only V0', 0.00002],
			]);
			expect(KNOWN_MODELS.map((m) => m.value)).not.toContain('faseeh-sandbox-only-v0');
			for (const m of models) {
				expect(m.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
				expect(Object.keys(m).sort()).toEqual(['cost', 'description', 'id', 'model_id', 'model_name']);
			}
		});

		test('GET /voices lists the stock voices with the clone-response shape', async () => {
			const res = await get('/voices');
			expect(res.status).toBe(200);
			const voices = (await res.json()) as Array<Record<string, unknown>>;
			expect(voices.map((v) => v.voice_id)).toEqual([
				'ar-najdi-male-2',
				'ar-hijazi-female-2',
				'ar-uae-male-1',
				'ar-hijazi-female-1',
			]);
			expect(voices[0]).toMatchObject({ name: 'Fahad', gender: 'male', dialect: ['najdi'], type: 'neural' });
			expect(voices[2]).toMatchObject({ dialect: ['emirati'] });
			expect(voices[3]).toMatchObject({ name: 'Lama', gender: 'female' });
			for (const v of voices) {
				expect(Object.keys(v).sort()).toEqual(
					[
						'age',
						'avatar_url',
						'description',
						'dialect',
						'gender',
						'id',
						'languages',
						'name',
						'sample_url',
						'stability',
						'type',
						'voice_id',
					].sort(),
				);
				expect(v.sample_url).toBe(`${base}/samples/${String(v.voice_id)}.wav`);
			}
		});

		test.each([
			['missing', {}],
			['wrong', { 'x-api-key': 'wrong-key' }],
			['empty', { 'x-api-key': '' }],
			['case-different', { 'x-api-key': 'SANDBOX-KEY' }],
		])('401 on a %s key', async (_label, headers: Record<string, string>) => {
			await expectError(await get('/models', headers), 401, 40101, 'Invalid or missing API key');
			expect(sb.requests[0].status).toBe(401);
		});

		test('401 also for POST routes, before any validation', async () => {
			await expectError(await postRaw('/voices/clone', 'x', 'text/plain', {}), 401, 40101, 'Invalid or missing API key');
		});

		test.each([
			['unknown route', 'GET', '/nope'],
			['wrong method on /models', 'POST', '/models'],
			['wrong method on /voices/clone', 'GET', '/voices/clone'],
			['trailing slash', 'GET', '/models/'],
			['TTS without model', 'POST', '/text-to-speech'],
		])('404 for %s', async (_label, method, p) => {
			await expectError(await fetch(`${base}${p}`, { method, headers: auth() }), 404, 40401, 'Not found');
		});

		test('404 outside /api/v1, even with a key', async () => {
			const res = await fetch(base.replace('/api/v1', '/models'), { headers: auth() });
			await expectError(res, 404, 40401, 'Not found');
		});
	});

	describe('recording', () => {
		test('records method, path, query, headers, content length and body size', async () => {
			await postJson('/text-to-speech/faseeh-v1-preview?trace=1', ttsBody());
			const [rec] = sb.requests;
			const body = JSON.stringify(ttsBody());
			expect(rec).toMatchObject({
				method: 'POST',
				path: '/api/v1/text-to-speech/faseeh-v1-preview',
				query: { trace: '1' },
				contentLength: Buffer.byteLength(body),
				bodySize: Buffer.byteLength(body),
				chunked: false,
				json: ttsBody(),
				status: 200,
			});
			expect(rec.headers['x-api-key']).toBe('sandbox-key');
			expect(rec.headers['content-type']).toBe('application/json');
			expect(rec.aborted).toBeUndefined();
		});

		test('records chunked uploads', async () => {
			const { port } = new URL(base);
			const status = await new Promise<number>((resolve, reject) => {
				const req = http.request(
					{ port, host: '127.0.0.1', method: 'POST', path: '/api/v1/text-to-speech/faseeh-v1-preview', headers: { ...auth(), 'content-type': 'application/json' } },
					(res) => {
						res.resume();
						res.on('end', () => resolve(res.statusCode ?? 0));
					},
				);
				req.on('error', reject);
				const body = JSON.stringify(ttsBody());
				req.write(body.slice(0, 10));
				req.end(body.slice(10));
			});
			expect(status).toBe(200);
			expect(sb.requests[0]).toMatchObject({ chunked: true, bodySize: Buffer.byteLength(JSON.stringify(ttsBody())) });
			expect(sb.requests[0].contentLength).toBeUndefined();
		});

		test('records multipart parts with size, sha256, data and text fields', async () => {
			const parts = cloneParts();
			await postForm('/voices/clone', parts);
			const rec = sb.requests[0];
			expect(rec.parts?.map((p) => [p.name, p.filename, p.contentType, p.size])).toEqual(
				parts.map((p) => [p.name, p.filename, p.contentType, Buffer.byteLength(p.data)]),
			);
			const file = parts.findIndex((p) => p.filename !== undefined);
			expect(rec.parts?.[file].sha256).toBe(sha256(parts[file].data as Buffer));
			expect(rec.parts?.[file].data.equals(parts[file].data as Buffer)).toBe(true);
			expect(rec.fields).toEqual({ text: TEXT, stability: '0.5', name: 'My Voice', model: MODEL });
		});

		test('reset() clears requests, faults, clones and maxInFlight', async () => {
			await postForm('/voices/clone', cloneParts());
			sb.inject({ kind: 'status', status: 500 });
			expect(sb.voices()).toHaveLength(5);
			sb.reset();
			expect(sb.requests).toHaveLength(0);
			expect(sb.maxInFlight).toBe(0);
			expect(sb.voices()).toHaveLength(4);
			expect((await get('/models')).status).toBe(200);
		});
	});

	describe('POST /voices/clone', () => {
		test('a valid clone via FormData + Blob succeeds and is listed in voices', async () => {
			const form = new FormData();
			form.append('text', TEXT);
			form.append('stability', '0.7');
			form.append('name', 'صوتي');
			form.append('model', MODEL);
			form.append('description', 'A test voice');
			form.append('gender', 'female');
			form.append('age', 'middle');
			form.append('languages', 'ar,en');
			form.append('dialects', 'najdi,hijazi');
			form.append('avatar_url', 'https://example.com/a.png');
			form.append('voice_file', blob(wav(0.2, 300), 'audio/wav'), 'preview.wav');
			form.append('reference_audio_file', blob(wav(0.4, 210), 'audio/mpeg'), 'original.wav');
			const res = await fetch(`${base}/voices/clone`, { method: 'POST', headers: auth(), body: form });
			expect(res.status).toBe(200);
			expect(res.headers.get('content-type')).toMatch(/^application\/json/);
			const voice = (await res.json()) as Record<string, unknown>;
			expect(voice).toEqual({
				id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
				voice_id: expect.stringMatching(/^cl-[A-Za-z0-9]{20}$/),
				name: 'صوتي',
				description: 'A test voice',
				gender: 'female',
				age: 'middle',
				languages: ['ar', 'en'],
				dialect: ['najdi', 'hijazi'],
				type: 'cloned',
				sample_url: `${base}/samples/${String(voice.voice_id)}.wav`,
				avatar_url: 'https://example.com/a.png',
				stability: 0.7,
			});

			const listed = (await (await get('/voices')).json()) as Array<Record<string, unknown>>;
			expect(listed).toHaveLength(5);
			expect(listed[4]).toEqual(voice);
			expect(sb.voices()[4]).toEqual(voice);

			// The cloned voice is usable for speech, and its sample needs no key.
			expect((await postJson(`/text-to-speech/${MODEL}`, ttsBody({ voice_id: voice.voice_id }))).status).toBe(200);
			const sample = await fetch(String(voice.sample_url));
			expect(sample.status).toBe(200);
			expect(sample.headers.get('content-type')).toBe('audio/wav');
			expect(sniffAudio(Buffer.from(await sample.arrayBuffer()))).toBe('wav');
		});

		test('a text field after a file part is refused (strict mode: text fields first)', async () => {
			const filesFirst = [...cloneParts().filter((p) => p.filename !== undefined), ...cloneParts().filter((p) => p.filename === undefined)];
			await expectError(
				await postForm('/voices/clone', filesFirst),
				400,
				40001,
				'text must be sent before the file parts (it came after voice_file; sandbox strict mode)',
			);
			await expectError(
				await postForm('/voices/preview', [...previewParts(), { name: 'speed', data: '1' }]),
				400,
				40001,
				'speed must be sent before the file parts (it came after file; sandbox strict mode)',
			);
		});

		test('optional fields absent => nulls and empty lists', async () => {
			const res = await postForm('/voices/clone', cloneParts());
			expect(res.status).toBe(200);
			expect(await res.json()).toMatchObject({
				description: null,
				gender: null,
				age: null,
				avatar_url: null,
				languages: [],
				dialect: [],
				stability: 0.5,
			});
		});

		const base6 = cloneParts;
		test.each<[string, () => RawPart[], string]>([
			['missing name', () => without(base6(), 'name'), 'name is required'],
			['missing stability', () => without(base6(), 'stability'), 'stability is required'],
			['missing model', () => without(base6(), 'model'), 'model is required'],
			['missing text', () => without(base6(), 'text'), 'text is required'],
			['missing voice_file', () => without(base6(), 'voice_file'), 'voice_file is required and must be of audio type'],
			[
				'missing reference_audio_file',
				() => without(base6(), 'reference_audio_file'),
				'reference_audio_file is required and must be of audio type',
			],
			['extra part', () => withFields(base6(), { name: 'foo', data: 'bar' }), 'Unknown field: foo'],
			['model_id instead of model', () => withFields(without(base6(), 'model'), { name: 'model_id', data: MODEL }), 'Unknown field: model_id'],
			[
				'repeated languages',
				() => withFields(base6(), { name: 'languages', data: 'ar' }, { name: 'languages', data: 'en' }),
				'languages must be sent once, as a comma-separated string',
			],
			['repeated name', () => withFields(base6(), { name: 'name', data: 'again' }), 'name must be sent once'],
			['stability "abc"', () => patch(base6(), 'stability', { data: 'abc' }), 'stability must be a number between 0 and 1'],
			['stability 1.5', () => patch(base6(), 'stability', { data: '1.5' }), 'stability must be a number between 0 and 1'],
			['stability "1e-1"', () => patch(base6(), 'stability', { data: '1e-1' }), 'stability must be a number between 0 and 1'],
			['stability " 0.5"', () => patch(base6(), 'stability', { data: ' 0.5' }), 'stability must be a number between 0 and 1'],
			['blank name', () => patch(base6(), 'name', { data: '   ' }), 'name is required'],
			['blank text', () => patch(base6(), 'text', { data: '' }), 'text is required'],
			['unknown model', () => patch(base6(), 'model', { data: 'nope' }), 'Model not found: nope'],
			[
				'voice_file without filename',
				() => asTextPart(base6(), 'voice_file'),
				'voice_file is required and must be of audio type',
			],
			[
				'voice_file with filename=""',
				() => patch(base6(), 'voice_file', { filename: '' }),
				'voice_file is required and must be of audio type',
			],
			[
				'reference file typed application/json',
				() => patch(base6(), 'reference_audio_file', { contentType: 'application/json' }),
				'reference_audio_file is required and must be of audio type',
			],
			[
				'file part without Content-Type',
				() => patch(base6(), 'reference_audio_file', { contentType: undefined }),
				'reference_audio_file is required and must be of audio type',
			],
			[
				'file with non-audio bytes',
				() => patch(base6(), 'voice_file', { data: Buffer.from('{"not":"audio"}') }),
				'voice_file is required and must be of audio type',
			],
			['empty file', () => patch(base6(), 'voice_file', { data: Buffer.alloc(0) }), 'voice_file is required and must be of audio type'],
			['text sent with a filename', () => patch(base6(), 'text', { filename: 'text.txt' }), 'text must be a text field, not a file'],
			['name not UTF-8', () => patch(base6(), 'name', { data: Buffer.from([0x41, 0xff, 0x42]) }), 'name must be UTF-8 text'],
			[
				'languages with a space',
				() => withFields(base6(), { name: 'languages', data: 'ar, en' }),
				'languages must be a comma-separated list without spaces or empty entries',
			],
			[
				'dialects with an empty entry',
				() => withFields(base6(), { name: 'dialects', data: 'najdi,,hijazi' }),
				'dialects must be a comma-separated list without spaces or empty entries',
			],
			['empty optional field', () => withFields(base6(), { name: 'gender', data: '' }), 'gender must not be empty (omit the field instead)'],
			['avatar_url not http(s)', () => withFields(base6(), { name: 'avatar_url', data: 'ftp://x/a.png' }), 'avatar_url must be an http(s) URL'],
			['avatar_url not a URL', () => withFields(base6(), { name: 'avatar_url', data: 'avatar.png' }), 'avatar_url must be an http(s) URL'],
		])('400 for %s', async (_label, parts, message) => {
			await expectError(await postForm('/voices/clone', parts()), 400, 40001, message);
			expect(sb.voices()).toHaveLength(4);
		});

		test('400 for a non-multipart body', async () => {
			const res = await postJson('/voices/clone', { name: 'x' });
			await expectError(res, 400, 40001, 'Content-Type must be multipart/form-data');
		});

		test('400 for a malformed multipart body (no final boundary)', async () => {
			const { body, contentType } = buildMultipart(cloneParts());
			const res = await postRaw('/voices/clone', body.subarray(0, body.length - 10), contentType);
			expect(res.status).toBe(400);
			const json = (await res.json()) as { errorCode: number; errorMessage: string };
			expect(json.errorCode).toBe(40001);
			expect(json.errorMessage).toMatch(/^Malformed multipart body: /);
			expect(sb.requests[0].parseError).toBeDefined();
		});
	});

	describe('POST /voices/preview', () => {
		test('returns chunked PCM16 with the documented headers, deterministic per text', async () => {
			const form = new FormData();
			form.append('text', TEXT);
			form.append('similarity', '0.8');
			form.append('model_id', MODEL);
			form.append('speed', '1');
			form.append('file', blob(wav(0.5, 180), 'audio/wav'), 'me.wav');
			const res = await fetch(`${base}/voices/preview`, { method: 'POST', headers: auth(), body: form });
			expect(res.status).toBe(200);
			expect(res.headers.get('content-type')).toBe(PCM_CONTENT_TYPE);
			expect(res.headers.get('cache-control')).toBe('no-cache');
			expect(res.headers.get('content-length')).toBeNull();
			const pcm = Buffer.from(await res.arrayBuffer());
			expect(pcm.length % 2).toBe(0);
			// 0.3 s + 0.02 s per code point at 24 kHz, 2 bytes per sample.
			expect(pcm.length).toBe(Math.round((0.3 + 0.02 * Array.from(TEXT).length) * 24000) * 2);
			expect(sniffAudio(pcm)).toBeUndefined();

			const again = Buffer.from(await (await postForm('/voices/preview', previewParts())).arrayBuffer());
			expect(again.equals(pcm)).toBe(true);
			const other = Buffer.from(await (await postForm('/voices/preview', previewParts('نص آخر مختلف تماما هنا'))).arrayBuffer());
			expect(other.equals(pcm.subarray(0, other.length))).toBe(false);
		});

		test.each<[string, () => RawPart[], string]>([
			['2 words', () => patch(previewParts(), 'text', { data: 'مرحبا بالجميع' }), 'text must contain at least 3 words and 10 characters'],
			['3 words but 5 characters', () => patch(previewParts(), 'text', { data: 'a b c' }), 'text must contain at least 3 words and 10 characters'],
			['missing text', () => without(previewParts(), 'text'), 'text is required'],
			['missing similarity', () => without(previewParts(), 'similarity'), 'similarity is required'],
			['missing model_id', () => without(previewParts(), 'model_id'), 'model_id is required'],
			['missing file', () => without(previewParts(), 'file'), 'file is required and must be of audio type'],
			['similarity 1.5', () => patch(previewParts(), 'similarity', { data: '1.5' }), 'similarity must be a number between 0 and 1'],
			['similarity ".5"', () => patch(previewParts(), 'similarity', { data: '.5' }), 'similarity must be a number between 0 and 1'],
			['speed 1.5', () => withFields(previewParts(), { name: 'speed', data: '1.5' }), 'speed must be a number between 0.7 and 1.2'],
			['speed "fast"', () => withFields(previewParts(), { name: 'speed', data: 'fast' }), 'speed must be a number between 0.7 and 1.2'],
			['unknown model', () => patch(previewParts(), 'model_id', { data: 'nope' }), 'Model not found: nope'],
			['model instead of model_id', () => [...without(previewParts(), 'model_id'), { name: 'model', data: MODEL }], 'Unknown field: model'],
			['repeated text', () => withFields(previewParts(), { name: 'text', data: TEXT }), 'text must be sent once'],
			['file typed text/plain', () => patch(previewParts(), 'file', { contentType: 'text/plain' }), 'file is required and must be of audio type'],
			['file without filename', () => asTextPart(previewParts(), 'file'), 'file is required and must be of audio type'],
			['similarity sent as a file', () => patch(previewParts(), 'similarity', { filename: 's.txt' }), 'similarity must be a text field, not a file'],
		])('400 for %s', async (_label, parts, message) => {
			await expectError(await postForm('/voices/preview', parts()), 400, 40001, message);
		});

		test('clone checks the text against a remembered preview', async () => {
			const pcm = Buffer.from(await (await postForm('/voices/preview', previewParts())).arrayBuffer());
			const previewWav = wrapWav(pcm);
			const withPreview = (text: string) =>
				patch(patch(cloneParts(), 'voice_file', { data: previewWav }), 'text', { data: text });

			await expectError(
				await postForm('/voices/clone', withPreview('نص مختلف عن نص المعاينة')),
				400,
				40001,
				'text must match the text used for the preview',
			);
			expect((await postForm('/voices/clone', withPreview(TEXT))).status).toBe(200);
			// Headerless PCM has no audio signature, so it is refused as voice_file.
			await expectError(
				await postForm('/voices/clone', patch(withPreview(TEXT), 'voice_file', { data: pcm, contentType: 'audio/raw' })),
				400,
				40001,
				'voice_file is required and must be of audio type',
			);
		});
	});

	describe('POST /text-to-speech/:model_id', () => {
		test('streaming:false returns a valid WAV with Content-Length', async () => {
			const res = await postJson(`/text-to-speech/${MODEL}`, ttsBody());
			expect(res.status).toBe(200);
			expect(res.headers.get('content-type')).toBe('audio/wav');
			expect(res.headers.get('cache-control')).toBe('no-cache');
			const out = Buffer.from(await res.arrayBuffer());
			expect(Number(res.headers.get('content-length'))).toBe(out.length);
			const h = parseWav(out);
			expect(h).toMatchObject({ riff: 'RIFF', wave: 'WAVE', fmt: 'fmt ', format: 1, channels: 1, sampleRate: 24000, bits: 16, blockAlign: 2, byteRate: 48000, data: 'data' });
			expect(h.riffSize).toBe(out.length - 8);
			expect(h.dataSize).toBe(out.length - 44);
			expect(h.dataSize).toBeGreaterThan(0);
		});

		test('streaming:false honours sample_rate', async () => {
			const res = await postJson('/text-to-speech/faseeh-mini-v1-preview', ttsBody({ sample_rate: 16000, speed: 1.1, dialect: 'fusha' }));
			expect(res.status).toBe(200);
			const h = parseWav(Buffer.from(await res.arrayBuffer()));
			expect([h.sampleRate, h.byteRate]).toEqual([16000, 32000]);
		});

		test('streaming:true returns chunked raw PCM with odd-sized chunks', async () => {
			const body = JSON.stringify(ttsBody({ streaming: true }));
			const request = Buffer.from(
				`POST /api/v1/text-to-speech/${MODEL} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: ${sb.apiKey}\r\n` +
					`Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
			);
			const { head, sizes, payload } = decodeChunked(await rawExchange(base, request));
			expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
			expect(head.toLowerCase()).toContain('transfer-encoding: chunked');
			expect(head.toLowerCase()).toContain(`content-type: ${PCM_CONTENT_TYPE}`);
			expect(sizes.length).toBeGreaterThan(2);
			expect(sizes.some((s) => s % 2 === 1)).toBe(true);
			expect(payload.length % 2).toBe(0);

			// Same bytes through fetch.
			const res = await postJson(`/text-to-speech/${MODEL}`, ttsBody({ streaming: true }));
			expect(res.headers.get('content-type')).toBe(PCM_CONTENT_TYPE);
			expect(Buffer.from(await res.arrayBuffer()).equals(payload)).toBe(true);
		});

		test('unknown voice => 404 Voice not found', async () => {
			await expectError(await postJson(`/text-to-speech/${MODEL}`, ttsBody({ voice_id: 'ghost' })), 404, 40401, 'Voice not found: ghost');
		});

		test('ttsTextMinimum: a text under 3 words or 10 characters (break tags not counted) => 400; off by default', async () => {
			const strict = new FaseehSandbox({ ttsTextMinimum: true });
			const strictBase = await strict.start();
			try {
				const post = (text: string) =>
					fetch(`${strictBase}/text-to-speech/${MODEL}`, {
						method: 'POST',
						headers: { 'x-api-key': strict.apiKey, 'content-type': 'application/json' },
						body: JSON.stringify(ttsBody({ text })),
					});
				for (const text of ['https://example.com/a-very-long-link', 'مرحبا بكم', 'ا ب ت', 'مرحبا <break time="1s"/> بكم <break time="1s"/>']) {
					await expectError(await post(text), 400, 40001, 'text must contain at least 3 words and 10 characters');
				}
				expect((await post('مرحبا بكم في فصيح')).status).toBe(200);
			} finally {
				await strict.stop();
			}
			expect((await postJson(`/text-to-speech/${MODEL}`, ttsBody({ text: 'مرحبا' }))).status).toBe(200);
		});

		test('unknown model => 400 Model not found', async () => {
			await expectError(await postJson('/text-to-speech/nope', ttsBody()), 400, 40001, 'Model not found: nope');
		});

		test.each<[string, unknown, string]>([
			['unknown key', ttsBody({ model_id: MODEL }), 'Unknown field: model_id'],
			['stability as a string', ttsBody({ stability: '0.5' }), 'stability must be a number between 0 and 1'],
			['stability 2', ttsBody({ stability: 2 }), 'stability must be a number between 0 and 1'],
			['missing stability', { voice_id: 'ar-najdi-male-2', text: TEXT, streaming: false }, 'stability is required'],
			['missing streaming', { voice_id: 'ar-najdi-male-2', text: TEXT, stability: 0.5 }, 'streaming is required'],
			['streaming as a string', ttsBody({ streaming: 'false' }), 'streaming must be a boolean'],
			['empty text', ttsBody({ text: '  ' }), 'text must be a non-empty string'],
			['voice_id as a number', ttsBody({ voice_id: 7 }), 'voice_id must be a non-empty string'],
			['speed 1.5', ttsBody({ speed: 1.5 }), 'speed must be a number between 0.7 and 1.2'],
			['speed null', ttsBody({ speed: null }), 'speed must be a number between 0.7 and 1.2'],
			['fractional sample_rate', ttsBody({ sample_rate: 22050.5 }), 'sample_rate must be an integer between 8000 and 48000'],
			['sample_rate 96000', ttsBody({ sample_rate: 96000 }), 'sample_rate must be an integer between 8000 and 48000'],
			['dialect masri', ttsBody({ dialect: 'masri' }), 'dialect must be one of auto, emirati, fusha'],
			['an array body', [ttsBody()], 'Request body must be a JSON object'],
		])('400 for %s', async (_label, json, message) => {
			await expectError(await postJson(`/text-to-speech/${MODEL}`, json), 400, 40001, message);
		});

		test('400 for invalid JSON and for a non-JSON content type', async () => {
			await expectError(await postRaw(`/text-to-speech/${MODEL}`, '{"voice_id":', 'application/json'), 400, 40001, 'Invalid JSON body');
			await expectError(
				await postRaw(`/text-to-speech/${MODEL}`, JSON.stringify(ttsBody()), 'text/plain'),
				400,
				40001,
				'Content-Type must be application/json',
			);
		});
	});

	describe('samples', () => {
		test('stock sample WAV without a key; unknown voice 404', async () => {
			const res = await fetch(`${base}/samples/ar-uae-male-1.wav`);
			expect(res.status).toBe(200);
			expect(parseWav(Buffer.from(await res.arrayBuffer())).sampleRate).toBe(24000);
			await expectError(await fetch(`${base}/samples/ghost.wav`), 404, 40401, 'Voice not found: ghost');
		});
	});

	describe('faults', () => {
		test('status: one-shot, default documented body, only on the matching route', async () => {
			sb.inject({ route: 'POST /text-to-speech/:model_id', kind: 'status', status: 402 });
			expect((await get('/models')).status).toBe(200);
			await expectError(
				await postJson(`/text-to-speech/${MODEL}`, ttsBody()),
				402,
				40201,
				'Insufficient wallet balance. Required: $0.05, Available: $0.02',
			);
			expect((await postJson(`/text-to-speech/${MODEL}`, ttsBody())).status).toBe(200);
		});

		test('status: times, custom JSON body, string body, headers', async () => {
			sb.inject({ route: 'GET /models', kind: 'status', status: 503, body: { message: 'down' }, headers: { 'x-trace': 't1' }, times: 2 });
			for (let i = 0; i < 2; i++) {
				const res = await get('/models');
				expect(res.status).toBe(503);
				expect(res.headers.get('x-trace')).toBe('t1');
				expect(await res.json()).toEqual({ message: 'down' });
			}
			expect((await get('/models')).status).toBe(200);

			sb.inject({ kind: 'status', status: 500, body: 'upstream exploded', contentType: 'text/html' });
			const res = await get('/voices');
			expect([res.status, res.headers.get('content-type'), await res.text()]).toEqual([500, 'text/html', 'upstream exploded']);
		});

		test('status: applies before auth and validation, body still recorded', async () => {
			sb.inject({ route: 'POST /voices/clone', kind: 'status', status: 500 });
			const { body, contentType } = buildMultipart(without(cloneParts(), 'name'));
			await expectError(await postRaw('/voices/clone', body, contentType, {}), 500, 50001, 'Internal server error');
			expect(sb.requests[0].parts).toHaveLength(5);
			expect(sb.requests[0].fields?.text).toBe(TEXT);
		});

		test('hang: never answers; an aborting client frees the slot', async () => {
			sb.inject({ route: 'POST /text-to-speech/:model_id', kind: 'hang' });
			const controller = new AbortController();
			const pending = fetch(`${base}/text-to-speech/${MODEL}`, {
				method: 'POST',
				headers: { ...auth(), 'content-type': 'application/json' },
				body: JSON.stringify(ttsBody()),
				signal: controller.signal,
			});
			await waitFor(() => sb.requests.length === 1 && sb.requests[0].bodySize > 0);
			await new Promise((r) => setTimeout(r, 100));
			expect(sb.inFlight).toBe(1);
			expect(sb.requests[0].status).toBeUndefined();
			controller.abort();
			await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
			await waitFor(() => sb.requests[0].aborted === true);
			expect(sb.inFlight).toBe(0);
			expect(sb.requests[0].json).toEqual(ttsBody());
		});

		test('reset: immediately on headers', async () => {
			sb.inject({ route: 'GET /models', kind: 'reset' });
			await expect(get('/models')).rejects.toThrow();
			await waitFor(() => sb.requests[0]?.aborted === true);
			expect(sb.requests[0].status).toBeUndefined();
			expect((await get('/models')).status).toBe(200);
		});

		test('reset: after some body bytes', async () => {
			sb.inject({ route: 'POST /voices/clone', kind: 'reset', afterBytes: 1000 });
			const { body, contentType } = buildMultipart(patch(cloneParts(), 'reference_audio_file', { data: wav(3) }));
			await expect(postRaw('/voices/clone', body, contentType)).rejects.toThrow();
			await waitFor(() => sb.requests[0]?.aborted === true);
			expect(sb.requests[0].bodySize).toBeGreaterThanOrEqual(1000);
			expect(sb.requests[0].contentLength).toBe(body.length);
		});

		test('redirect: 307 with Location; fetch follows it', async () => {
			sb.inject({ route: 'GET /models', kind: 'redirect', location: `${base}/voices` });
			const manual = await fetch(`${base}/models`, { headers: auth(), redirect: 'manual' });
			expect([manual.status, manual.headers.get('location')]).toEqual([307, `${base}/voices`]);

			sb.inject({ route: 'GET /models', kind: 'redirect', location: `${base}/voices`, status: 302 });
			const followed = await get('/models');
			expect(followed.status).toBe(200);
			expect(((await followed.json()) as Array<{ voice_id: string }>)[0].voice_id).toBe('ar-najdi-male-2');
			expect(sb.requests.map((r) => [r.path, r.status])).toEqual([
				['/api/v1/models', 307],
				['/api/v1/models', 302],
				['/api/v1/voices', 200],
			]);
		});

		test('raw: exact status, content type and body', async () => {
			sb.inject({ route: 'GET /voices', kind: 'raw', status: 200, contentType: 'text/html', body: '<html>proxy page</html>' });
			const res = await get('/voices');
			expect([res.status, res.headers.get('content-type'), await res.text()]).toEqual([200, 'text/html', '<html>proxy page</html>']);
		});
	});
});

// ------------------------------------------------------------------ sandboxes with options

describe('FaseehSandbox options', () => {
	const started: FaseehSandbox[] = [];
	async function startSandbox(options: ConstructorParameters<typeof FaseehSandbox>[0]): Promise<[FaseehSandbox, string]> {
		const sandbox = new FaseehSandbox(options);
		started.push(sandbox);
		return [sandbox, await sandbox.start()];
	}
	afterEach(async () => {
		await Promise.all(started.splice(0).map((s) => s.stop()));
	});

	test('latency delays answers and maxInFlight counts overlapping requests', async () => {
		const [sandbox, url] = await startSandbox({ latencyMs: 200 });
		const t0 = Date.now();
		const statuses = await Promise.all([1, 2, 3].map(() => fetch(`${url}/models`, { headers: { 'x-api-key': 'sandbox-key' } }).then((r) => r.status)));
		expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
		expect(statuses).toEqual([200, 200, 200]);
		expect(sandbox.maxInFlight).toBe(3);
		expect(sandbox.inFlight).toBe(0);
	});

	test('answerWithinLatency makes the same answers, still after the latency, errors included', async () => {
		const speak = async (url: string, model: string) => {
			const t0 = Date.now();
			const res = await fetch(`${url}/text-to-speech/${model}`, {
				method: 'POST',
				headers: { 'x-api-key': 'sandbox-key', 'content-type': 'application/json' },
				body: JSON.stringify(ttsBody()),
			});
			const bytes = Buffer.from(await res.arrayBuffer());
			return { status: res.status, bytes, ms: Date.now() - t0 };
		};
		const [, after] = await startSandbox({ latencyMs: 200 });
		const [within, withinUrl] = await startSandbox({ latencyMs: 200, answerWithinLatency: true });
		const [a, b] = await Promise.all([speak(after, MODEL), speak(withinUrl, MODEL)]);
		expect(b.status).toBe(200);
		expect(b.ms).toBeGreaterThanOrEqual(190);
		expect(sha256(b.bytes)).toBe(sha256(a.bytes));
		const refused = await speak(withinUrl, 'no-such-model');
		expect(refused.status).toBe(400);
		expect(refused.ms).toBeGreaterThanOrEqual(190);
		expect(JSON.parse(refused.bytes.toString()).errorMessage).toBe('Model not found: no-such-model');
		expect(within.inFlight).toBe(0);
	});

	test('maxConcurrent answers 429 with Retry-After; 429s count in maxInFlight, not in maxAdmitted', async () => {
		const [sandbox, url] = await startSandbox({ latencyMs: 300, maxConcurrent: 2, retryAfterSeconds: 7 });
		const responses = await Promise.all(
			[1, 2, 3, 4].map(async () => {
				const res = await fetch(`${url}/models`, { headers: { 'x-api-key': 'sandbox-key' } });
				return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
			}),
		);
		const ok = responses.filter((r) => r.status === 200);
		const limited = responses.filter((r) => r.status === 429);
		expect([ok.length, limited.length]).toEqual([2, 2]);
		for (const r of limited) {
			expect(r.retryAfter).toBe('7');
			expect(JSON.parse(r.body)).toEqual({ errorCode: 42901, errorMessage: 'Concurrency limit exceeded. Current: 2, Maximum: 2' });
		}
		expect(ok[0].retryAfter).toBeNull();
		expect(sandbox.maxInFlight).toBe(4);
		expect(sandbox.maxAdmitted).toBe(2); // the 429s are not admitted
		expect(sandbox.inFlight).toBe(0);
		// Slots are free again.
		expect((await fetch(`${url}/models`, { headers: { 'x-api-key': 'sandbox-key' } })).status).toBe(200);
	});

	test('errorCodeAsString sends string codes', async () => {
		const [, url] = await startSandbox({ errorCodeAsString: true });
		expect(await (await fetch(`${url}/models`)).json()).toEqual({ errorCode: '40101', errorMessage: 'Invalid or missing API key' });
		const res = await fetch(`${url}/text-to-speech/x`, {
			method: 'POST',
			headers: { 'x-api-key': 'sandbox-key', 'content-type': 'application/json' },
			body: JSON.stringify(ttsBody()),
		});
		expect(await res.json()).toEqual({ errorCode: '40001', errorMessage: 'Model not found: x' });
	});

	test('voicesRoute:false => GET /voices is 404, the rest works', async () => {
		const [, url] = await startSandbox({ voicesRoute: false, apiKey: 'k' });
		const res = await fetch(`${url}/voices`, { headers: { 'x-api-key': 'k' } });
		expect([res.status, await res.json()]).toEqual([404, { errorCode: 40401, errorMessage: 'Not found' }]);
		expect((await fetch(`${url}/models`, { headers: { 'x-api-key': 'k' } })).status).toBe(200);
	});

	test('bodies over the limit are drained and answered 413', async () => {
		const [sandbox, url] = await startSandbox({ maxBodyBytes: 1024 });
		const big = JSON.stringify(ttsBody({ text: 'ا'.repeat(3000) }));
		const res = await fetch(`${url}/text-to-speech/${MODEL}`, {
			method: 'POST',
			headers: { 'x-api-key': 'sandbox-key', 'content-type': 'application/json' },
			body: big,
		});
		expect([res.status, await res.json()]).toEqual([413, { errorCode: 41301, errorMessage: 'Payload too large' }]);
		expect(sandbox.requests[0].bodySize).toBe(Buffer.byteLength(big));
		expect(sandbox.requests[0].json).toBeUndefined();
	});

	test('textFieldsFirst:false accepts text fields after the files', async () => {
		const [, url] = await startSandbox({ textFieldsFirst: false });
		const parts = cloneParts();
		const { body, contentType } = buildMultipart([...parts.filter((p) => p.filename), ...parts.filter((p) => !p.filename)]);
		const res = await fetch(`${url}/voices/clone`, {
			method: 'POST',
			headers: { 'x-api-key': 'sandbox-key', 'content-type': contentType },
			body: new Uint8Array(body),
		});
		expect(res.status).toBe(200);
	});

	test('keepPartData:false keeps size and sha256 but not the bytes', async () => {
		const [sandbox, url] = await startSandbox({ keepPartData: false });
		const parts = cloneParts();
		const { body, contentType } = buildMultipart(parts);
		const res = await fetch(`${url}/voices/clone`, {
			method: 'POST',
			headers: { 'x-api-key': 'sandbox-key', 'content-type': contentType },
			body: new Uint8Array(body),
		});
		expect(res.status).toBe(200);
		const recorded = sandbox.requests[0].parts ?? [];
		const file = parts.findIndex((p) => p.name === 'voice_file');
		expect(recorded[file]).toMatchObject({ size: (parts[file].data as Buffer).length, sha256: sha256(parts[file].data as Buffer) });
		expect(recorded[file].data.length).toBe(0);
		expect(sandbox.requests[0].fields?.name).toBe('My Voice');
	});

	test('stop() ends hung requests', async () => {
		const [sandbox, url] = await startSandbox({});
		sandbox.inject({ kind: 'hang' });
		const pending = fetch(`${url}/models`, { headers: { 'x-api-key': 'sandbox-key' } });
		await waitFor(() => sandbox.requests.length === 1);
		// Without it, stop() would wait for the hung request for good (the test's timeout).
		await sandbox.stop();
		await expect(pending).rejects.toThrow();
	});

	test('the API key never appears in a response', async () => {
		const key = 'sk-live-SECRET-9f8e7d6c';
		const wrong = 'WRONG-KEY-4b3a2918';
		const [sandbox, url] = await startSandbox({ apiKey: key, maxBodyBytes: 64 * 1024 });
		const seen: string[] = [];
		const call = async (p: string, init: RequestInit = {}) => {
			const res = await fetch(`${url}${p}`, { ...init, headers: { 'x-api-key': key, ...(init.headers as Record<string, string>) } });
			seen.push(`${res.status} ${JSON.stringify([...res.headers])} ${Buffer.from(await res.arrayBuffer()).toString('latin1')}`);
			return res;
		};
		const form = (parts: RawPart[]) => {
			const { body, contentType } = buildMultipart(parts);
			return { method: 'POST', headers: { 'content-type': contentType }, body: new Uint8Array(body) };
		};
		const json = (value: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });

		await call('/models');
		await call('/models', { headers: { 'x-api-key': wrong } });
		await call('/voices', { headers: { 'x-api-key': '' } });
		await call('/nope');
		const preview = await call('/voices/preview', form(previewParts()));
		expect(preview.status).toBe(200);
		await call('/voices/preview', form(patch(previewParts(), 'text', { data: 'x y' })));
		const clone = await call('/voices/clone', form(cloneParts()));
		expect(clone.status).toBe(200);
		await call('/voices/clone', form(withFields(cloneParts(), { name: 'x-api-key', data: key })));
		await call('/voices');
		await call(`/text-to-speech/${MODEL}`, json(ttsBody()));
		await call(`/text-to-speech/${MODEL}`, json(ttsBody({ streaming: true })));
		await call(`/text-to-speech/${MODEL}`, json({ ...ttsBody(), api_key: key }));
		await call(`/text-to-speech/${MODEL}`, json(ttsBody({ text: 'x'.repeat(70000) })));
		await call('/samples/ar-najdi-male-2.wav');
		sandbox.inject({ kind: 'status', status: 429 });
		await call('/models');
		sandbox.inject({ kind: 'redirect', location: `${url}/models` });
		await call('/voices', { redirect: 'manual' });

		expect(seen).toHaveLength(16);
		for (const text of seen) {
			expect(text).not.toContain(key);
			expect(text).not.toContain(wrong);
		}
	});
});
