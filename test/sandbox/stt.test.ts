/* eslint-disable @typescript-eslint/no-explicit-any -- the JSON answers are read field by field */
/**
 * The sandbox's Munsit speech-to-text over real HTTP: field names, models, flags, the envelope and
 * its bare variant, the error answers, and transcripts that give back the text of the sandbox's
 * own speech.
 */
import { FaseehSandbox } from './FaseehSandbox';
import { buildMultipart, sha256, TEXT, wav, type RawPart } from './testKit';

const filePart = (data: Buffer = wav(0.5, 300), filename = 'note.wav', contentType = 'audio/wav'): RawPart => ({
	name: 'file',
	filename,
	contentType,
	data,
});
const text = (name: string, value: string): RawPart => ({ name, data: value });

describe('FaseehSandbox speech-to-text', () => {
	const sb = new FaseehSandbox();
	let base = '';
	const post = async (path: string, parts: RawPart[], key = sb.apiKey) => {
		const { body, contentType } = buildMultipart(parts);
		const res = await fetch(`${base}${path}`, {
			method: 'POST',
			headers: { 'x-api-key': key, 'content-type': contentType },
			body: new Uint8Array(body),
		});
		return { status: res.status, body: (await res.json()) as Record<string, any> };
	};

	beforeAll(async () => {
		base = await sb.start();
	});
	afterAll(() => sb.stop());
	beforeEach(() => sb.reset());

	test('transcribe answers the envelope with a deterministic transcript, timestamps on by default for munsit', async () => {
		const audio = wav(0.8, 410);
		const first = await post('/audio/transcribe', [text('model', 'munsit'), filePart(audio)]);
		const again = await post('/audio/transcribe', [filePart(audio)]);
		expect(first.status).toBe(200);
		expect(first.body).toMatchObject({ statusCode: 200, message: 'Success' });
		const data = first.body.data;
		expect(data.transcription).toBe(sb.transcriptFor(sha256(audio)));
		expect(data.transcription.split(' ').length).toBeGreaterThanOrEqual(3);
		expect(data.duration).toBeCloseTo(0.8, 2);
		expect(data.timestamps.map((w: { word: string }) => w.word).join(' ')).toBe(data.transcription);
		expect(data.timestamps[0]).toEqual({ word: expect.any(String), start: 0, end: expect.any(Number) });
		expect(data.stats).toMatchObject({ fileName: 'note.wav', mimeType: 'audio/wav' });
		expect(again.body.data.transcription).toBe(data.transcription);
		expect(sb.transcripts().get(sha256(audio))).toBe(data.transcription);
	});

	test('the sandbox’s own speech is transcribed as the text that produced it (tags left out)', async () => {
		const tts = await fetch(`${base}/text-to-speech/faseeh-v1-preview`, {
			method: 'POST',
			headers: { 'x-api-key': sb.apiKey, 'content-type': 'application/json' },
			body: JSON.stringify({ voice_id: 'ar-najdi-male-2', text: `${TEXT} <break time="300ms"/> شكرا`, stability: 0.5, streaming: false }),
		});
		const speech = Buffer.from(await tts.arrayBuffer());
		const answer = await post('/audio/transcribe', [filePart(speech, 'answer.wav')]);
		expect(answer.body.data.transcription).toBe(`${TEXT} شكرا`);
	});

	test('each flag adds its field; all off leaves only the transcript, and munsit-en-ar defaults timestamps off', async () => {
		const on = await post('/audio/transcribe', [
			text('model', 'munsit'),
			text('return_timestamps', 'true'),
			text('return_confidence', 'true'),
			text('return_turns', 'true'),
			text('return_gender', 'true'),
			text('return_sentiment', 'true'),
			text('hotwords', 'فصيح,منصت'),
			filePart(),
		]);
		expect(on.status).toBe(200);
		expect(on.body.data.timestamps[0]).toEqual({ word: expect.any(String), start: 0, end: expect.any(Number), confidence: expect.any(Number) });
		expect(on.body.data.turns[0]).toMatchObject({ speaker: 'SPEAKER_00', sandbox: true });
		expect(on.body.data.analysis).toEqual({ sandbox: true, gender: expect.any(Object), sentiment: expect.any(Object) });

		const off = await post('/audio/transcribe', [
			...['return_timestamps', 'return_confidence', 'return_turns', 'return_gender', 'return_sentiment'].map((f) => text(f, 'false')),
			filePart(),
		]);
		expect(Object.keys(off.body.data).sort()).toEqual(['audioUrl', 'duration', 'stats', 'transcription', 'transcriptionId']);
		const enAr = await post('/audio/transcribe', [text('model', 'munsit-en-ar'), filePart()]);
		expect(enAr.body.data.timestamps).toBeUndefined();
	});

	test('diarization nests the transcript and gives speaker segments, not in order', async () => {
		const audio = wav(4, 250);
		const res = await post('/audio/diarization/transcribe', [text('model', 'munsit'), filePart(audio)]);
		expect(res.status).toBe(200);
		const data = res.body.data;
		expect(typeof data.transcription).toBe('object');
		expect(data.transcription.transcription).toBe(sb.transcriptFor(sha256(audio)));
		expect(data.merged.map((s: { speaker: string }) => s.speaker)).toContain('SPEAKER_00');
		expect(data.diarization.segments).toHaveLength(data.merged.length);
		const starts = data.merged.map((s: { start: number }) => s.start);
		if (starts.length > 2) expect(starts).not.toEqual([...starts].sort((a: number, b: number) => a - b));
		// Flags are not documented for diarization: refused.
		const flagged = await post('/audio/diarization/transcribe', [text('return_turns', 'true'), filePart(audio)]);
		expect(flagged).toEqual({ status: 400, body: { errorCode: 40001, errorMessage: 'Unknown field: return_turns' } });
	});

	test.each([
		['unknown model', [text('model', 'whisper-1'), filePart()], 'Model not found: whisper-1'],
		['flag not a boolean string', [text('return_turns', 'yes'), filePart()], 'return_turns must be "true" or "false"'],
		['hotwords with munsit-en-ar', [text('model', 'munsit-en-ar'), text('hotwords', 'a'), filePart()], 'hotwords is not supported with munsit-en-ar'],
		['unknown field', [text('language', 'ar'), filePart()], 'Unknown field: language'],
		['a text field after the file', [filePart(), text('model', 'munsit')], 'model must be sent before the file parts (it came after file; sandbox strict mode)'],
		['no file', [text('model', 'munsit')], 'file is required and must be of audio type'],
		['an mp4', [filePart(wav(), 'clip.mp4', 'video/mp4')], expect.stringMatching(/^Unsupported audio format "\.mp4"\. Supported formats: \.aac, /)],
	])('400 / 40001 for %s', async (_name, parts, message) => {
		expect(await post('/audio/transcribe', parts as RawPart[])).toEqual({ status: 400, body: { errorCode: 40001, errorMessage: message } });
	});

	test('415 for a file part that is not of audio type, 401 for a wrong key, and a mislabelled file gives an empty transcript', async () => {
		expect(await post('/audio/transcribe', [filePart(wav(), 'note.wav', 'image/png')])).toEqual({
			status: 415,
			body: { errorCode: 41501, errorMessage: 'Unsupported media type "image/png": the file must be of audio type' },
		});
		expect((await post('/audio/transcribe', [filePart()], 'wrong')).status).toBe(401);
		const mislabelled = await post('/audio/transcribe', [filePart(wav(), 'note.mp3', 'audio/mpeg')]);
		expect(mislabelled.status).toBe(200);
		expect(mislabelled.body.data.transcription).toBe('');
	});
});

describe('FaseehSandbox speech-to-text options', () => {
	const post = async (sb: FaseehSandbox, path: string) => {
		const { body, contentType } = buildMultipart([filePart()]);
		const res = await fetch(`${sb.baseUrl}${path}`, {
			method: 'POST',
			headers: { 'x-api-key': sb.apiKey, 'content-type': contentType },
			body: new Uint8Array(body),
		});
		return { status: res.status, body: (await res.json()) as Record<string, any> };
	};

	test('bare body and 201', async () => {
		const sb = new FaseehSandbox({ sttBareBody: true, sttSuccessStatus: 201 });
		await sb.start();
		try {
			const res = await post(sb, '/audio/transcribe');
			expect(res.status).toBe(201);
			expect(res.body.statusCode).toBeUndefined();
			expect(typeof res.body.transcription).toBe('string');
		} finally {
			await sb.stop();
		}
	});

	test('a Faseeh-only host answers 404 for both STT paths, 413 over the body limit, 429 at the plan limit', async () => {
		const sb = new FaseehSandbox({ sttRoutes: false });
		await sb.start();
		try {
			for (const path of ['/audio/transcribe', '/audio/diarization/transcribe']) {
				expect(await post(sb, path)).toEqual({ status: 404, body: { errorCode: 40401, errorMessage: 'Not found' } });
			}
		} finally {
			await sb.stop();
		}
		const small = new FaseehSandbox({ maxBodyBytes: 1000 });
		await small.start();
		try {
			expect(await post(small, '/audio/transcribe')).toEqual({ status: 413, body: { errorCode: 41301, errorMessage: 'Payload too large' } });
		} finally {
			await small.stop();
		}
		const limited = new FaseehSandbox({ maxConcurrent: 1, latencyMs: 300 });
		await limited.start();
		try {
			const answers = await Promise.all([post(limited, '/audio/transcribe'), post(limited, '/audio/transcribe')]);
			expect(answers.map((a) => a.status).sort()).toEqual([200, 429]);
			expect(answers.find((a) => a.status === 429)?.body).toEqual({
				errorCode: 42901,
				errorMessage: 'Concurrency limit exceeded. Current: 1, Maximum: 1',
			});
		} finally {
			await limited.stop();
		}
	});
});
