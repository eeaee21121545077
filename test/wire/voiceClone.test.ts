import * as fs from 'node:fs';
import * as path from 'node:path';

import type { IExecuteFunctions, INodeExecutionData, INodeParameters } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { FaseehVoiceClone } from '../../nodes/FaseehVoiceClone/FaseehVoiceClone.node';
import { getVoices, KNOWN_VOICES } from '../../nodes/shared/methods/loadOptions';
import { INTERACTIVE_TIMEOUT_SECONDS } from '../../nodes/shared/transport';
import { binaryDataService, cleanupHarness, runLoadOptions } from '../harness/n8nHarness';
import type { FixtureItem } from '../harness/n8nHarness';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import {
	TEST_API_KEY,
	part,
	partNames,
	requestsTo,
	runAgainst,
	serialised,
	sha256,
	startSandbox,
	wavRecording,
} from '../helpers/faseeh';

const ARABIC_TEXT = 'مَرْحَبًا بِكَ فِي فَصِيح، كيف يمكنني مساعدتك اليوم؟ 🎙️';
const PREVIEW = wavRecording(0.4, 330);
const ORIGINAL = wavRecording(0.6, 220);

function cloneItem(overrides: Partial<FixtureItem> = {}): FixtureItem {
	return {
		json: { note: 'from an earlier node' },
		binary: {
			voice_file: { data: PREVIEW, fileName: 'preview.wav', mimeType: 'audio/wav' },
			reference_audio_file: { data: ORIGINAL, fileName: 'original recording.wav', mimeType: 'audio/wav' },
		},
		...overrides,
	};
}

const baseParameters: INodeParameters = {
	text: ARABIC_TEXT,
	stability: 0.65,
	name: 'صوت سارة',
	model: 'faseeh-v1-preview',
};

let sandbox: FaseehSandbox;
const clone = async (parameters: INodeParameters, items: FixtureItem[], options = {}) =>
	await runAgainst(sandbox, new FaseehVoiceClone(), { ...baseParameters, ...parameters }, items, options);

beforeAll(async () => {
	sandbox = await startSandbox();
});
afterEach(() => sandbox.reset());
afterAll(async () => {
	await sandbox.stop();
	await cleanupHarness();
});

describe.each(['filesystem', 'default'] as const)('clone in %s binary mode', (binaryMode) => {
	it('sends exactly the documented parts and outputs the created voice', async () => {
		const result = await clone({}, [cloneItem()], { binaryMode });
		expect(result.error).toBeUndefined();

		const [request] = requestsTo(sandbox, 'POST', '/voices/clone');
		expect(request.status).toBe(200);
		expect(request.headers['x-api-key']).toBe(TEST_API_KEY);
		expect(partNames(request)).toEqual(['model', 'name', 'reference_audio_file', 'stability', 'text', 'voice_file']);
		// Text fields before the files: some multipart parsers only see fields sent before files.
		expect((request.parts ?? []).map((entry) => entry.name)).toEqual(['text', 'stability', 'name', 'model', 'voice_file', 'reference_audio_file']);

		const voiceFile = part(request, 'voice_file');
		expect(voiceFile).toMatchObject({ filename: 'preview.wav', contentType: 'audio/wav', sha256: sha256(PREVIEW) });
		const reference = part(request, 'reference_audio_file');
		expect(reference).toMatchObject({
			filename: 'original recording.wav',
			contentType: 'audio/wav',
			sha256: sha256(ORIGINAL),
		});
		expect(part(request, 'text').data.equals(Buffer.from(ARABIC_TEXT, 'utf8'))).toBe(true);
		expect(request.fields).toEqual({
			text: ARABIC_TEXT,
			stability: '0.65',
			name: 'صوت سارة',
			model: 'faseeh-v1-preview',
		});
		// A known length: the body is announced, never chunked, whether streamed or buffered.
		expect(request.chunked).toBe(false);
		expect(request.contentLength).toBe(request.bodySize);

		const created = sandbox.voices().find((voice) => voice.voice_id === result.items[0].json.voice_id);
		expect(created).toBeDefined();
		expect(result.items).toHaveLength(1);
		expect(result.items[0].json).toEqual(JSON.parse(JSON.stringify(created)));
		expect(result.items[0].pairedItem).toEqual({ item: 0 });
	});
});

it('works with a credential that chose Custom URL, and refuses plain http to another host before sending', async () => {
	const custom = await clone({}, [cloneItem()], { baseUrl: 'custom', credential: { customBaseUrl: `${sandbox.baseUrl}/` } });
	expect(custom.error).toBeUndefined();
	expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(1);
	const insecure = await clone({}, [cloneItem()], { baseUrl: 'custom', credential: { customBaseUrl: 'http://faseeh.example.com/api/v1' } });
	expect(insecure.error).toBeInstanceOf(NodeOperationError);
	expect(insecure.error?.message).toBe('The Base URL in the Faseeh API credential must use https: "http://faseeh.example.com/api/v1"');
	expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(1);
});

it('sends byte-identical requests from id-backed and in-memory binaries', async () => {
	// Id-backed parts are streamed from n8n's store (test/unit/binary.test.ts shows which helper is
	// used; the memory benchmark shows the effect); in-memory ones are sent from their buffer.
	const fs = await clone({}, [cloneItem()], { binaryMode: 'filesystem' });
	const fsRequest = requestsTo(sandbox, 'POST', '/voices/clone')[0];
	sandbox.reset();
	const memory = await clone({}, [cloneItem()], { binaryMode: 'default' });
	const memoryRequest = requestsTo(sandbox, 'POST', '/voices/clone')[0];
	expect(fs.error).toBeUndefined();
	expect(memory.error).toBeUndefined();
	expect(fsRequest.parts?.map((p) => [p.name, p.sha256])).toEqual(memoryRequest.parts?.map((p) => [p.name, p.sha256]));
	expect(fsRequest.bodySize).toBe(memoryRequest.bodySize);
});

it('sends the optional fields only when set, lists as one comma-separated value', async () => {
	const result = await clone(
		{
			additionalFields: {
				description: 'صوت دافئ للقصص',
				gender: 'female',
				age: 'young',
				languages: ['ar', 'en', 'ar'],
				dialects: ['najdi', 'hijazi'],
				avatarUrl: 'https://example.com/sara.png',
			},
		},
		[cloneItem()],
	);
	expect(result.error).toBeUndefined();
	const [request] = requestsTo(sandbox, 'POST', '/voices/clone');
	expect(request.fields).toEqual({
		text: ARABIC_TEXT,
		stability: '0.65',
		name: 'صوت سارة',
		model: 'faseeh-v1-preview',
		description: 'صوت دافئ للقصص',
		gender: 'female',
		age: 'young',
		languages: 'ar,en',
		dialects: 'najdi,hijazi',
		avatar_url: 'https://example.com/sara.png',
	});
	expect(result.items[0].json).toMatchObject({ languages: ['ar', 'en'], dialect: ['najdi', 'hijazi'], gender: 'female' });
});

it('resolves expressions per item and keeps item order and pairing', async () => {
	const items = [0, 1, 2].map((index) => cloneItem({ json: { speaker: `Speaker ${index}`, stability: index / 4 } }));
	const result = await clone({ name: '={{ $json.speaker }}', stability: '={{ $json.stability }}' }, items);
	expect(result.error).toBeUndefined();
	expect(result.items.map((item) => item.json.name)).toEqual(['Speaker 0', 'Speaker 1', 'Speaker 2']);
	expect(result.items.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
	expect(requestsTo(sandbox, 'POST', '/voices/clone').map((r) => r.fields?.stability)).toEqual(['0', '0.25', '0.5']);
});

it('uses custom binary field names', async () => {
	const item: FixtureItem = {
		binary: {
			preview_audio: { data: PREVIEW, fileName: 'p.wav', mimeType: 'audio/wav' },
			data: { data: ORIGINAL, fileName: 'o.wav', mimeType: 'audio/wav' },
		},
	};
	const result = await clone({ voiceBinaryPropertyName: 'preview_audio', referenceBinaryPropertyName: 'data' }, [item]);
	expect(result.error).toBeUndefined();
	const [request] = requestsTo(sandbox, 'POST', '/voices/clone');
	expect(part(request, 'voice_file').sha256).toBe(sha256(PREVIEW));
	expect(part(request, 'reference_audio_file').sha256).toBe(sha256(ORIGINAL));
});

it('labels an octet-stream WAV with its audio type', async () => {
	const item = cloneItem();
	item.binary!.voice_file = { data: PREVIEW, fileName: 'preview.bin', mimeType: 'application/octet-stream' };
	const result = await clone({}, [item]);
	expect(result.error).toBeUndefined();
	expect(part(requestsTo(sandbox, 'POST', '/voices/clone')[0], 'voice_file').contentType).toBe('audio/wav');
});

describe('input content decides, not only the label (issue 17.13)', () => {
	it.each(['filesystem', 'default'] as const)('a WAV labelled raw PCM (audio/L16) is sent as the WAV it is, byte for byte (%s)', async (binaryMode) => {
		const item = cloneItem();
		item.binary!.voice_file = { data: PREVIEW, fileName: 'preview.pcm', mimeType: 'audio/L16;rate=24000' };
		const result = await clone({}, [item], { binaryMode });
		expect(result.error).toBeUndefined();
		const voice = part(requestsTo(sandbox, 'POST', '/voices/clone')[0], 'voice_file');
		expect(voice).toMatchObject({ sha256: sha256(PREVIEW), size: PREVIEW.length, contentType: 'audio/wav', filename: 'preview.wav' });
	});

	it('headerless PCM starting with the sample -1 (FF FF, an MPEG frame sync) is wrapped as WAV, not taken for MP3', async () => {
		const pcm = Buffer.alloc(48000);
		for (let i = 0; i < pcm.length / 2; i++) pcm.writeInt16LE(i < 8 ? -1 : Math.round(8000 * Math.sin(i / 5)), 2 * i);
		const item = cloneItem();
		item.binary!.voice_file = { data: pcm, fileName: 'voice.raw', mimeType: 'audio/pcm' };
		const result = await clone({}, [item]);
		expect(result.error).toBeUndefined();
		const voice = part(requestsTo(sandbox, 'POST', '/voices/clone')[0], 'voice_file');
		expect(voice).toMatchObject({ contentType: 'audio/wav', size: pcm.length + 44, filename: 'voice.wav' });
	});

	it('a real MP3 without ID3 sent as octet-stream is recognised by its frames', async () => {
		// MPEG-2 Layer III, 64 kbps, 24 kHz: 192-byte frames, each starting FF F3 84 C4.
		const frame = Buffer.alloc(192, 0x55);
		Buffer.from([0xff, 0xf3, 0x84, 0xc4]).copy(frame);
		const mp3 = Buffer.concat(Array.from({ length: 40 }, () => frame));
		const item = cloneItem();
		item.binary!.voice_file = { data: mp3, fileName: 'voice.bin', mimeType: 'application/octet-stream' };
		// Sent as it is (Convert Input to WAV: Never), it goes with the type of its content; Auto
		// recognises it the same way and sends it decoded, as a WAV (test/wire/voiceNotesIn.test.ts).
		const result = await clone({ options: { convertInput: 'never' } }, [item]);
		expect(result.error).toBeUndefined();
		expect(part(requestsTo(sandbox, 'POST', '/voices/clone')[0], 'voice_file').contentType).toBe('audio/mpeg');
		sandbox.reset();
		expect((await clone({}, [item])).error).toBeUndefined();
		expect(part(requestsTo(sandbox, 'POST', '/voices/clone')[0], 'voice_file')).toMatchObject({ contentType: 'audio/wav', filename: 'voice.wav' });
	});

	it('a file gone from the binary store: the parameter is named, the server path is not', async () => {
		const stored: string[] = [];
		const node = new FaseehVoiceClone();
		const original = node.execute as unknown as (this: IExecuteFunctions) => Promise<INodeExecutionData[][]>;
		// The stored file is deleted as the node starts (n8n pruned it, or another disk).
		(node as { execute: unknown }).execute = async function (this: IExecuteFunctions) {
			const binaryId = this.getInputData()[0].binary?.voice_file?.id as string;
			const file = binaryDataService().getPath(binaryId);
			stored.push(file);
			fs.rmSync(file);
			return await original.call(this);
		};
		const result = await runAgainst(sandbox, node, baseParameters, [cloneItem()], { binaryMode: 'filesystem' });
		const error = result.error as NodeOperationError;
		expect(error).toBeInstanceOf(NodeOperationError);
		expect(stored).toHaveLength(1);
		expect(error.message).toBe('Parameter "Voice File Field": could not read the binary field "voice_file" from n8n\'s binary data store [item 0]');
		expect(error.description).toMatch(/^The stored file is gone: n8n may have pruned/);
		expect(serialised(error)).not.toContain(path.dirname(stored[0]));
		expect(serialised(error)).not.toMatch(/ENOENT|\/tmp\//);
		expect(sandbox.requests).toHaveLength(0);
	});
});

describe('checks before any request is sent', () => {
	const png = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(64, 7)]);
	const cases: Array<[string, INodeParameters, () => FixtureItem, RegExp]> = [
		[
			'a missing binary field, listing the fields the item has',
			{ voiceBinaryPropertyName: 'preview' },
			() => cloneItem(),
			/^Parameter "Voice File Field": the input item has no binary field "preview"; binary fields on this item: voice_file, reference_audio_file \[item 0\]$/,
		],
		[
			'a field that holds JSON, not binary',
			{ referenceBinaryPropertyName: 'note' },
			() => cloneItem(),
			/^Parameter "Reference Audio Field": "note" holds JSON data, not a binary file; binary fields on this item: voice_file, reference_audio_file \[item 0\]$/,
		],
		[
			'an empty file',
			{},
			() => {
				const item = cloneItem();
				item.binary!.voice_file = { data: Buffer.alloc(0), fileName: 'empty.wav', mimeType: 'audio/wav' };
				return item;
			},
			/^The file in "Voice File Field" \(binary field "voice_file"\) is empty \[item 0\]$/,
		],
		[
			'a PNG where audio should be',
			{},
			() => {
				const item = cloneItem();
				item.binary!.reference_audio_file = { data: png, fileName: 'photo.png', mimeType: 'image/png' };
				return item;
			},
			/^The file in "Reference Audio Field" \(binary field "reference_audio_file"\) is not audio: its content is PNG \[item 0\]$/,
		],
		[
			'a text file where audio should be',
			{},
			() => {
				const item = cloneItem();
				item.binary!.voice_file = { data: Buffer.from('just some notes'), fileName: 'notes.txt', mimeType: 'text/plain' };
				return item;
			},
			/^The file in "Voice File Field" \(binary field "voice_file"\) is not audio: its content is TEXT \[item 0\]$/,
		],
		[
			'unrecognised bytes that are not labelled audio',
			{},
			() => {
				const item = cloneItem();
				item.binary!.voice_file = { data: Buffer.from([0x00, 0x01, 0x02, 0x03, 0x80, 0x81, 0x00, 0x00, 0xfe, 0x00]), fileName: 'blob', mimeType: 'application/octet-stream' };
				return item;
			},
			/^The file in "Voice File Field" \(binary field "voice_file"\) is not audio \(MIME type application\/octet-stream\) \[item 0\]$/,
		],
		[
			'a JSON error page saved as audio/mpeg',
			{},
			() => {
				const item = cloneItem();
				item.binary!.voice_file = { data: Buffer.from('{"statusCode":403,"message":"Forbidden"}'), fileName: 'voice.mp3', mimeType: 'audio/mpeg' };
				return item;
			},
			/^The file in "Voice File Field" \(binary field "voice_file"\) is not audio: its content is TEXT \[item 0\]$/,
		],
		[
			'an Arabic transcript saved as audio/wav',
			{},
			() => {
				const item = cloneItem();
				item.binary!.voice_file = { data: Buffer.from('مرحبا، هذا نص وليس صوتا'), fileName: 'voice.wav', mimeType: 'audio/wav' };
				return item;
			},
			/^The file in "Voice File Field" \(binary field "voice_file"\) is not audio: its content is TEXT \[item 0\]$/,
		],
		[
			'a HEIC photo labelled audio/mp4',
			{},
			() => {
				const item = cloneItem();
				const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic', 'latin1'), Buffer.alloc(64, 1)]);
				item.binary!.voice_file = { data: heic, fileName: 'voice.m4a', mimeType: 'audio/mp4' };
				return item;
			},
			/^The file in "Voice File Field" \(binary field "voice_file"\) is not audio: its content is HEIC \[item 0\]$/,
		],
		[
			'the same file in both fields',
			{},
			() => {
				const item = cloneItem();
				item.binary!.voice_file = { data: ORIGINAL, fileName: 'copy.wav', mimeType: 'audio/wav' };
				return item;
			},
			/^Parameter "Voice File Field" and "Reference Audio Field" hold the same file \("voice_file" and "reference_audio_file"\) \[item 0\]$/,
		],
		[
			'a file over the size limit',
			{ options: { maxFileSizeMb: 0.01 } },
			() => cloneItem(),
			/^The file in "Voice File Field" \(binary field "voice_file"\) is 19244 bytes \(0\.018 MB\), over the limit of 10485 bytes \(0\.010 MB\) \[item 0\]$/,
		],
		['stability above 1', { stability: '={{ 1.1 }}' }, () => cloneItem(), /^Parameter "Stability" must be a number from 0 to 1, got 1\.1 \[item 0\]$/],
		['stability below 0', { stability: '={{ -0.1 }}' }, () => cloneItem(), /^Parameter "Stability" must be a number from 0 to 1, got -0\.1 \[item 0\]$/],
		['stability "abc"', { stability: '={{ "abc" }}' }, () => cloneItem(), /^Parameter "Stability" must be a number from 0 to 1, got "abc" \[item 0\]$/],
		['empty text', { text: '   ' }, () => cloneItem(), /^Parameter "Text" is empty \[item 0\]$/],
		['empty name', { name: '={{ "" }}' }, () => cloneItem(), /^Parameter "Name" is empty \[item 0\]$/],
		[
			'a 5,000 character name',
			{ name: 'س'.repeat(5000) },
			() => cloneItem(),
			/^Parameter "Name" is 5000 characters long; the maximum is 200 \[item 0\]$/,
		],
		[
			'a javascript: avatar URL',
			{ additionalFields: { avatarUrl: 'javascript:alert(1)' } },
			() => cloneItem(),
			/^Parameter "Avatar URL" must be an http\(s\) URL, got "javascript:alert\(1\)" \[item 0\]$/,
		],
	];

	it.each(cases)('refuses %s', async (_name, parameters, item, message) => {
		for (const binaryMode of ['filesystem', 'default'] as const) {
			const result = await clone(parameters, [item()], { binaryMode });
			expect(result.error).toBeInstanceOf(NodeOperationError);
			expect(result.error?.message).toMatch(message);
			expect((result.error as NodeOperationError).context.itemIndex).toBe(0);
		}
		expect(sandbox.requests).toHaveLength(0);
	});
});

describe('API failures carry Faseeh’s message, code and a hint', () => {
	const cases: Array<[number, unknown, string, number | string, RegExp]> = [
		[400, { errorCode: '40001', errorMessage: 'voice_file is required and must be of audio type' }, 'voice_file is required and must be of audio type', '40001', /invalid/],
		[401, { errorCode: 40101, errorMessage: 'Invalid or missing API key' }, 'Invalid or missing API key', 40101, /API key/],
		[402, { errorCode: 40201, errorMessage: 'Insufficient wallet balance. Required: $0.05, Available: $0.02' }, 'Insufficient wallet balance. Required: $0.05, Available: $0.02', 40201, /wallet balance/],
		[403, { errorCode: 40301, errorMessage: 'Model not enabled for this account' }, 'Model not enabled for this account', 40301, /not enabled/],
		[404, { code: 40401, message: 'Not found' }, 'Not found', 40401, /could not find/],
		[429, { errorCode: 42901, errorMessage: 'Concurrency limit exceeded. Current: 3, Maximum: 2' }, 'Concurrency limit exceeded. Current: 3, Maximum: 2', 42901, /concurrent requests/],
		[500, { errorCode: 50001, errorMessage: 'Failed to clone voice' }, 'Failed to clone voice', 50001, /server error/],
		[503, { errorCode: 50301, errorMessage: 'Service unavailable' }, 'Service unavailable', 50301, /server error/],
	];

	it.each(cases)('HTTP %i', async (status, body, message, code, hint) => {
		// A 429 is waited out until Options → Max Wait on Concurrency Limit: 0 gives up at the first.
		const times = 1;
		sandbox.inject({ route: 'POST /voices/clone', kind: 'status', status, body, times, headers: { 'Retry-After': '0' } });
		const result = await clone({ options: { rateLimitWait: 0 } }, [cloneItem()]);
		const error = result.error as NodeApiError;
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toBe(message);
		expect(error.httpCode).toBe(String(status));
		expect(error.context.errorCode).toBe(code);
		expect(error.context.itemIndex).toBe(0);
		expect(error.description).toMatch(hint);
		expect(error.description).toContain(`HTTP ${status}, Faseeh error code ${code}`);
		expect(serialised(error)).not.toContain(TEST_API_KEY);
		expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(times);
	});

	it('a wrong API key gets the sandbox’s own 401, once (no resend of the upload)', async () => {
		const result = await clone({}, [cloneItem()], { apiKey: 'wrong-key' });
		expect(result.error).toBeInstanceOf(NodeApiError);
		expect(result.error?.message).toBe('Invalid or missing API key');
		expect((result.error as NodeApiError).httpCode).toBe('401');
		expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(1);
	});

	it('a model the API does not know is refused by the API with its message', async () => {
		const result = await clone({ model: 'no-such-model' }, [cloneItem()]);
		expect(result.error?.message).toBe('Model not found: no-such-model');
		expect((result.error as NodeApiError).httpCode).toBe('400');
	});

	it('a redirect is not followed, so neither key nor upload reach the other host', async () => {
		const elsewhere = await startSandbox();
		try {
			sandbox.inject({ route: 'POST /voices/clone', kind: 'redirect', location: `${elsewhere.baseUrl}/voices/clone`, status: 307 });
			const result = await clone({}, [cloneItem()]);
			expect(result.error).toBeInstanceOf(NodeApiError);
			expect(result.error?.message).toMatch(/^Faseeh answered with a redirect \(HTTP 307\) to 127\.0\.0\.1:\d+; it was not followed$/);
			expect(elsewhere.requests).toHaveLength(0);
		} finally {
			await elsewhere.stop();
		}
	});

	it('refuses a plain-http base URL that is not loopback, before sending', async () => {
		const result = await clone({}, [cloneItem()], { baseUrl: 'http://api.example.com/api/v1' });
		expect(result.error).toBeInstanceOf(NodeOperationError);
		expect(result.error?.message).toBe('The Base URL in the Faseeh API credential must use https: "http://api.example.com/api/v1"');
		expect(sandbox.requests).toHaveLength(0);
	});
});

describe('continue on fail', () => {
	it('yields an error item for the failing input and goes on with the others', async () => {
		// Item 1 has no "voice_file": it fails before any request; the others are cloned.
		const items = [cloneItem(), cloneItem({ json: {}, binary: { data: { data: ORIGINAL, fileName: 'o.wav', mimeType: 'audio/wav' } } }), cloneItem(), cloneItem()];
		const result = await clone({ name: '={{ "Voice " + $itemIndex }}' }, items, { onError: 'continueRegularOutput' });
		expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(3);
		expect(result.items).toHaveLength(4);
		expect(result.items.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }, { item: 3 }]);
		expect(result.items[1].json.error).toMatch(/^Parameter "Voice File Field": the input item has no binary field "voice_file"; binary fields on this item: data \[item 1\]$/);
		expect(result.items.filter((item) => typeof item.json.voice_id === 'string').map((item) => item.json.name)).toEqual(['Voice 0', 'Voice 2', 'Voice 3']);
	});

	it('carries the HTTP status and Faseeh’s code on an API failure', async () => {
		sandbox.inject({ route: 'POST /voices/clone', kind: 'status', status: 402, body: { errorCode: 40201, errorMessage: 'Insufficient wallet balance' } });
		const result = await clone({}, [cloneItem(), cloneItem()], { onError: 'continueRegularOutput' });
		expect(result.items[0].json).toMatchObject({ error: 'Insufficient wallet balance', httpCode: '402', errorCode: 40201 });
		expect(typeof result.items[1].json.voice_id).toBe('string');
		expect(serialised(result.items)).not.toContain(TEST_API_KEY);
	});

	it('without it, stops at the failing item and sends no later item', async () => {
		sandbox.inject({ route: 'POST /voices/clone', kind: 'status', status: 402, body: { errorCode: 40201, errorMessage: 'Insufficient wallet balance' } });
		const result = await clone({}, [cloneItem(), cloneItem(), cloneItem()]);
		expect(result.error?.message).toBe('Insufficient wallet balance');
		expect((result.error as NodeApiError).context.itemIndex).toBe(0);
		expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(1);
	});
});

describe('model list', () => {
	it('is loaded from GET /models', async () => {
		const options = await runLoadOptions({
			nodeType: new FaseehVoiceClone(),
			method: 'getModels',
			credentials: { faseehApi: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
			credentialTypes: [new FaseehApi()],
		});
		// The sandbox lists a third model the built-in fallback does not know: proof the list was loaded.
		expect(options.map((option) => option.value)).toEqual(['faseeh-v1-preview', 'faseeh-mini-v1-preview', 'faseeh-sandbox-only-v0']);
		expect(options[0].name).toBe('Faseeh V1 Preview');
		expect(requestsTo(sandbox, 'GET', '/models')).toHaveLength(1);
	});

	const loadModels = async (credential: Record<string, string>) =>
		await runLoadOptions({
			nodeType: new FaseehVoiceClone(),
			method: 'getModels',
			credentials: { faseehApi: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl, ...credential } },
			credentialTypes: [new FaseehApi()],
		});

	it('shows a wrong key as the 401 it is, not as the built-in list', async () => {
		const error = await loadModels({ apiKey: 'wrong' }).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(NodeApiError);
		expect((error as NodeApiError).message).toBe('Invalid or missing API key');
		expect((error as NodeApiError).httpCode).toBe('401');
		expect(requestsTo(sandbox, 'GET', '/models').map((request) => request.status)).toEqual([401]);
	});

	it('shows a 403 and a 429 at once: no retries while a person waits', async () => {
		sandbox.inject({ route: 'GET /models', kind: 'status', status: 429, headers: { 'Retry-After': '30' } });
		const started = Date.now();
		const error = (await loadModels({}).catch((caught: unknown) => caught)) as NodeApiError;
		expect(error.httpCode).toBe('429');
		// Not the Retry-After (30 s): a person's dropdown is not retried.
		expect(Date.now() - started).toBeLessThan(30_000);
		sandbox.inject({ route: 'GET /models', kind: 'status', status: 403, body: { errorCode: 40301, errorMessage: 'Forbidden' } });
		await expect(loadModels({})).rejects.toThrow('Forbidden');
		expect(requestsTo(sandbox, 'GET', '/models')).toHaveLength(2);
	});

	it('falls back to the two known models only when the list cannot be had: no host, or no route (404)', async () => {
		const known = ['faseeh-v1-preview', 'faseeh-mini-v1-preview'];
		const unreachable = await loadModels({ baseUrl: 'http://127.0.0.1:9/api/v1' });
		expect(unreachable.map((option) => option.value)).toEqual(known);
		sandbox.inject({ route: 'GET /models', kind: 'status', status: 404, body: { errorCode: 40401, errorMessage: 'Not found' } });
		const missing = await loadModels({});
		expect(missing.map((option) => option.value)).toEqual(known);
		expect(requestsTo(sandbox, 'GET', '/models').map((request) => request.status)).toEqual([404]);
	});

	it('gives up on a host that does not answer after a short timeout, and falls back', async () => {
		sandbox.inject({ route: 'GET /models', kind: 'hang' });
		const started = Date.now();
		const options = await loadModels({});
		const elapsed = Date.now() - started;
		expect(options.map((option) => option.value)).toEqual(['faseeh-v1-preview', 'faseeh-mini-v1-preview']);
		expect(elapsed).toBeGreaterThanOrEqual(INTERACTIVE_TIMEOUT_SECONDS * 1000 - 100);
		// The short timeout, not twice it (nor the 120 s of a workflow's request).
		expect(elapsed).toBeLessThan(2 * INTERACTIVE_TIMEOUT_SECONDS * 1000);
	});
});

describe('voice picker', () => {
	const loadVoices = async () =>
		await runLoadOptions({
			nodeType: Object.assign(new Faseeh(), { methods: { loadOptions: { getVoices } } }),
			method: 'getVoices',
			credentials: { faseehApi: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
			credentialTypes: [new FaseehApi()],
		});

	it('lists GET /voices, and on a host without the route (404) offers the documented stock voices', async () => {
		const listed = await loadVoices();
		expect(listed.length).toBeGreaterThan(0);
		expect(listed.map((option) => option.value)).toContain('ar-najdi-male-2');
		sandbox.inject({ route: 'GET /voices', kind: 'status', status: 404, body: { errorCode: 40401, errorMessage: 'Not found' } });
		const fallback = await loadVoices();
		expect(fallback).toEqual(KNOWN_VOICES);
		expect(requestsTo(sandbox, 'GET', '/voices').map((request) => request.status)).toEqual([200, 404]);
	});

	it('shows a wrong key as an error', async () => {
		sandbox.inject({ route: 'GET /voices', kind: 'status', status: 401, body: { errorCode: 40101, errorMessage: 'Invalid or missing API key' } });
		await expect(loadVoices()).rejects.toThrow('Invalid or missing API key');
	});
});
