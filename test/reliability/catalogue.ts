/**
 * The catalogue of hostile inputs and API/network faults (docs/reliability.md), as data: how to
 * run each case and what must hold afterwards. catalogue.test.ts runs the cases no earlier test
 * proves (one test each); secrets.test.ts runs all of them and searches everything for the key.
 */
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import type { INodeParameters } from 'n8n-workflow';

import { binaryDataService } from '../harness/n8nHarness';
import type { BinaryMode, FixtureItem, NodeRunResult } from '../harness/n8nHarness';
import { part, partNames, requestsTo, sha256, wavRecording } from '../helpers/faseeh';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import {
	ORIGINAL_WAV,
	binaryFilesLeftOpen,
	PNG,
	cloneItem,
	recordingItem,
	runClone,
	runPreview,
	runSpeech,
	runTranscribe,
	wavOfSize,
} from './support';

export interface CaseContext {
	/** The strict sandbox every case runs against unless it says otherwise. */
	sandbox: FaseehSandbox;
	/** The other host a redirect points to. */
	elsewhere: FaseehSandbox;
	/** A sandbox with a 4 KiB body limit: answers 413 / 41301 to a real upload. */
	tight: FaseehSandbox;
	/** A loopback base URL nothing listens on (connection refused). */
	closedUrl: string;
	/** A loopback server that cuts every answer off after its headers and first bytes. */
	cutOff: { url: string; requests: () => number };
	binaryMode: BinaryMode;
}

export interface CatalogueCase {
	id: string;
	title: string;
	/** The existing test that already proves the behaviour; otherwise catalogue.test.ts proves it. */
	provenBy?: string;
	/** Binary modes to run in (default: filesystem only). */
	binaryModes?: BinaryMode[];
	run(ctx: CaseContext): Promise<NodeRunResult>;
	expected: {
		/** The error class, or undefined for a run that must succeed. */
		error?: typeof NodeOperationError | typeof NodeApiError;
		message?: string | RegExp;
		description?: RegExp;
		httpCode?: string | null;
		errorCode?: number | string | null;
		/** How many requests the main sandbox received; 0 = refused before any request. */
		requests?: number;
	};
	check?(result: NodeRunResult, ctx: CaseContext): void | Promise<void>;
}

/** A second, distinct key: the one a wrong-key run sends. It must not leak either. */
export const WRONG_API_KEY = 'fsk-wrong-3b1f9c0e7d2a4b6c8e0f1a3c5e7b9d1f';

interface BinaryReads {
	/** Ids whose metadata was read (getBinaryMetadata). */
	metadata: string[];
	/** Binaries read whole (getBinaryDataBuffer on an id-backed binary). */
	buffers: string[];
	/** Ids opened as a stream (getBinaryStream, also for a 16-byte sniff). */
	streams: string[];
}

/** Records what n8n's real BinaryDataService is asked to read, until restore(). The calls go through. */
function watchBinaryReads(): { calls(): BinaryReads; restore(): void } {
	const service = binaryDataService();
	const metadata = jest.spyOn(service, 'getMetadata');
	const buffers = jest.spyOn(service, 'getAsBuffer');
	const streams = jest.spyOn(service, 'getAsStream');
	return {
		calls: () => ({
			metadata: metadata.mock.calls.map(([id]) => id),
			buffers: buffers.mock.calls.map(([binary]) => binary.id ?? 'in memory'),
			streams: streams.mock.calls.map(([id]) => id),
		}),
		restore: () => {
			metadata.mockRestore();
			buffers.mockRestore();
			streams.mockRestore();
		},
	};
}

let i6bReads: BinaryReads = { metadata: [], buffers: [], streams: [] };

const VOICE_CLONE_WIRE = 'test/wire/voiceClone.test.ts';
const FASEEH_WIRE = 'test/wire/faseeh.test.ts';
const CONCURRENCY_WIRE = 'test/wire/concurrency.test.ts';
const TRANSCRIBE_WIRE = 'test/wire/transcribe.test.ts';

/** Runs a case in one binary mode and checks its expectations. */
export async function verifyCase(c: CatalogueCase, ctx: CaseContext): Promise<NodeRunResult> {
	for (const sandbox of [ctx.sandbox, ctx.elsewhere, ctx.tight]) sandbox.reset();
	const result = await c.run(ctx);
	const { expected } = c;
	if (expected.error) {
		expect(result.error).toBeInstanceOf(expected.error);
		// A NodeApiError is never a NodeOperationError and vice versa: the class is exact.
		expect(result.error?.constructor).toBe(expected.error);
	} else {
		expect(result.error).toBeUndefined();
	}
	const error = result.error as NodeApiError | NodeOperationError | undefined;
	if (expected.message !== undefined) {
		if (typeof expected.message === 'string') expect(error?.message).toBe(expected.message);
		else expect(error?.message).toMatch(expected.message);
	}
	if (expected.error) expect(error?.context.itemIndex).toBe(0);
	if (expected.description) expect(error?.description).toMatch(expected.description);
	if (expected.httpCode !== undefined) expect((error as NodeApiError).httpCode).toBe(expected.httpCode);
	if (expected.errorCode !== undefined) expect(error?.context.errorCode).toBe(expected.errorCode);
	if (expected.requests !== undefined) expect(ctx.sandbox.requests).toHaveLength(expected.requests);
	await c.check?.(result, ctx);
	return result;
}

const BOTH_MODES: BinaryMode[] = ['filesystem', 'default'];

/** Item with one binary field replaced. */
function cloneItemWith(field: 'voice_file' | 'reference_audio_file', data: Buffer, fileName: string, mimeType: string): FixtureItem {
	const item = cloneItem({ note: 'from an earlier node' });
	item.binary![field] = { data, fileName, mimeType };
	return item;
}

const clone = (ctx: CaseContext, parameters: INodeParameters = {}, items?: FixtureItem[]) =>
	runClone(ctx.sandbox, parameters, items, { binaryMode: ctx.binaryMode });
const preview = (ctx: CaseContext, parameters: INodeParameters = {}, items?: FixtureItem[]) =>
	runPreview(ctx.sandbox, parameters, items, { binaryMode: ctx.binaryMode });
const speech = (ctx: CaseContext, parameters: INodeParameters = {}, items?: FixtureItem[]) =>
	runSpeech(ctx.sandbox, parameters, items, { binaryMode: ctx.binaryMode });

/** The one POST /voices/clone the sandbox received. */
function cloneRequest(ctx: CaseContext) {
	const requests = requestsTo(ctx.sandbox, 'POST', '/voices/clone');
	expect(requests).toHaveLength(1);
	return requests[0];
}

/** Text parts must arrive as exactly these UTF-8 bytes. */
function expectBytes(received: Buffer, text: string): void {
	expect(received.toString('hex')).toBe(Buffer.from(text, 'utf8').toString('hex'));
}

/** Large enough (about 480 KB) that the upload reaches the server in several chunks. */
const LONG_RECORDING = wavRecording(10, 250);

const apiFault = (status: number, body: unknown, extra: Record<string, unknown> = {}) =>
	({ route: 'POST /voices/clone', kind: 'status', status, body, ...extra }) as const;

// Unicode used across the byte-exact cases: tashkeel, tanween, shadda, emoji with VS16, a skin
// tone ZWJ sequence, a flag, RTL/LTR marks, CRLF and characters that mean something in HTML/JSON.
const UNICODE_TEXT = 'مَرْحَبًا بِكُمْ فِي فَصِيحٍ 🎙️ 👩🏽‍💻 🇸🇦\r\n\u200Fسطرٌ ثانٍ ❤️ "quoted" & <b>\u200E';
const UNICODE_NAME = 'صوتُ سارة 🎧';
const UNICODE_DESCRIPTION = 'وصفٌ للصوتِ — 😀\nسطر ثانٍ\t"x" & <y>';

export const INPUT_CASES: CatalogueCase[] = [
	{
		id: 'I1a',
		title: 'clone: missing binary field, message lists the fields the item has',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses a missing binary field, listing the fields the item has`,
		run: (ctx) => clone(ctx, { voiceBinaryPropertyName: 'preview' }),
		expected: {
			error: NodeOperationError,
			message: 'Parameter "Voice File Field": the input item has no binary field "preview"; binary fields on this item: voice_file, reference_audio_file [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I1b',
		title: 'preview: item without any binary field',
		binaryModes: BOTH_MODES,
		run: (ctx) => preview(ctx, {}, [{ json: { note: 'no file' } }]),
		expected: {
			error: NodeOperationError,
			message: 'Parameter "Input Data Field Name": the input item has no binary field "data"; this item has no binary fields [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I2',
		title: 'clone: the field holds JSON, not binary',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses a field that holds JSON, not binary`,
		run: (ctx) => clone(ctx, { referenceBinaryPropertyName: 'note' }, [cloneItem({ note: 'from an earlier node' })]),
		expected: {
			error: NodeOperationError,
			message: 'Parameter "Reference Audio Field": "note" holds JSON data, not a binary file; binary fields on this item: voice_file, reference_audio_file [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I3a',
		title: 'clone: 0-byte voice file',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses an empty file`,
		run: (ctx) => clone(ctx, {}, [cloneItemWith('voice_file', Buffer.alloc(0), 'empty.wav', 'audio/wav')]),
		expected: { error: NodeOperationError, message: 'The file in "Voice File Field" (binary field "voice_file") is empty [item 0]', requests: 0 },
	},
	{
		id: 'I3b',
		title: 'preview: 0-byte recording',
		binaryModes: BOTH_MODES,
		run: (ctx) => preview(ctx, {}, [{ json: {}, binary: { data: { data: Buffer.alloc(0), fileName: 'empty.wav', mimeType: 'audio/wav' } } }]),
		expected: { error: NodeOperationError, message: 'The file in "Input Data Field Name" (binary field "data") is empty [item 0]', requests: 0 },
	},
	{
		id: 'I4a',
		title: 'clone: a PNG (image/png) where audio should be',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses a PNG where audio should be`,
		run: (ctx) => clone(ctx, {}, [cloneItemWith('reference_audio_file', PNG, 'photo.png', 'image/png')]),
		expected: {
			error: NodeOperationError,
			message: 'The file in "Reference Audio Field" (binary field "reference_audio_file") is not audio: its content is PNG [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I4b',
		title: 'clone: a text file where audio should be',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses a text file where audio should be`,
		run: (ctx) => clone(ctx, {}, [cloneItemWith('voice_file', Buffer.from('just some notes'), 'notes.txt', 'text/plain')]),
		expected: {
			error: NodeOperationError,
			message: 'The file in "Voice File Field" (binary field "voice_file") is not audio: its content is TEXT [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I4c',
		title: 'clone: a PNG renamed voice.wav and labelled audio/wav (checked by content)',
		binaryModes: BOTH_MODES,
		run: (ctx) => clone(ctx, {}, [cloneItemWith('voice_file', PNG, 'voice.wav', 'audio/wav')]),
		expected: {
			error: NodeOperationError,
			message: 'The file in "Voice File Field" (binary field "voice_file") is not audio: its content is PNG [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I5',
		title: 'clone: the same file in both fields',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses the same file in both fields`,
		run: (ctx) => clone(ctx, {}, [cloneItemWith('voice_file', ORIGINAL_WAV, 'copy.wav', 'audio/wav')]),
		expected: {
			error: NodeOperationError,
			message: 'Parameter "Voice File Field" and "Reference Audio Field" hold the same file ("voice_file" and "reference_audio_file") [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I6a',
		title: 'clone: a file over the Max File Size option',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses a file over the size limit`,
		run: (ctx) => clone(ctx, { options: { maxFileSizeMb: 0.001 } }),
		expected: { error: NodeOperationError, message: /^The file in "Voice File Field" \(binary field "voice_file"\) is \d+ bytes \(0\.002 MB\), over the limit of 1048 bytes \(0\.001 MB\) \[item 0\]$/, requests: 0 },
	},
	{
		id: 'I6b',
		title: "clone: a file of 100 MiB + 1 byte with the default limit (100 MB) is refused before upload, only its size read from n8n's metadata",
		run: async (ctx) => {
			const reads = watchBinaryReads();
			try {
				const result = await clone(ctx, {}, [cloneItemWith('voice_file', wavOfSize(100 * 1024 * 1024 + 1), 'huge.wav', 'audio/wav')]);
				i6bReads = reads.calls();
				return result;
			} finally {
				reads.restore();
			}
		},
		expected: {
			error: NodeOperationError,
			message: 'The file in "Voice File Field" (binary field "voice_file") is 104857601 bytes (100.0 MB), over the limit of 104857600 bytes (100.0 MB) [item 0]',
			requests: 0,
		},
		check: () => {
			// Through n8n's real binary data service: the metadata of the id-backed file, and no byte of it.
			expect(i6bReads.metadata.length).toBeGreaterThanOrEqual(1);
			expect({ buffers: i6bReads.buffers, streams: i6bReads.streams }).toEqual({ buffers: [], streams: [] });
		},
	},
	{
		id: 'I6c',
		title: 'clone: a file of exactly the limit is accepted and sent whole',
		binaryModes: BOTH_MODES,
		// 0.05 MB = floor(0.05 × 1,048,576) = 52,428 bytes.
		run: (ctx) => clone(ctx, { options: { maxFileSizeMb: 0.05 } }, [cloneItemWith('voice_file', wavOfSize(52428), 'limit.wav', 'audio/wav')]),
		expected: { requests: 1 },
		check: (_result, ctx) => {
			const voiceFile = part(cloneRequest(ctx), 'voice_file');
			expect(voiceFile.size).toBe(52428);
			expect(voiceFile.sha256).toBe(sha256(wavOfSize(52428)));
		},
	},
	{
		id: 'I6d',
		title: 'clone: one byte over the limit is refused',
		run: (ctx) => clone(ctx, { options: { maxFileSizeMb: 0.05 } }, [cloneItemWith('voice_file', wavOfSize(52429), 'over.wav', 'audio/wav')]),
		expected: { error: NodeOperationError, message: 'The file in "Voice File Field" (binary field "voice_file") is 52429 bytes (0.050 MB), over the limit of 52428 bytes (0.050 MB) [item 0]', requests: 0 },
	},
	{
		id: 'I7a',
		title: 'clone: stability 1.1 from an expression',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses stability above 1`,
		run: (ctx) => clone(ctx, { stability: '={{ 1.1 }}' }),
		expected: { error: NodeOperationError, message: 'Parameter "Stability" must be a number from 0 to 1, got 1.1 [item 0]', requests: 0 },
	},
	{
		id: 'I7b',
		title: 'clone: stability -0.1 from an expression',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses stability below 0`,
		run: (ctx) => clone(ctx, { stability: '={{ -0.1 }}' }),
		expected: { error: NodeOperationError, message: 'Parameter "Stability" must be a number from 0 to 1, got -0.1 [item 0]', requests: 0 },
	},
	{
		id: 'I7c',
		title: 'clone: stability "abc" from an expression',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses stability "abc"`,
		run: (ctx) => clone(ctx, { stability: '={{ "abc" }}' }),
		expected: { error: NodeOperationError, message: 'Parameter "Stability" must be a number from 0 to 1, got "abc" [item 0]', requests: 0 },
	},
	{
		id: 'I7d',
		title: 'clone: stability NaN from an expression',
		run: (ctx) => clone(ctx, { stability: '={{ $json.stability }}' }, [cloneItem({ stability: Number.NaN })]),
		expected: { error: NodeOperationError, message: 'Parameter "Stability" must be a number from 0 to 1, got NaN [item 0]', requests: 0 },
	},
	{
		id: 'I7e',
		title: 'speech: stability 1.1 and "abc" are refused the same way',
		run: async (ctx) => {
			const first = await speech(ctx, { stability: '={{ "abc" }}' });
			expect(first.error?.message).toBe('Parameter "Stability" must be a number from 0 to 1, got "abc" [item 0]');
			return await speech(ctx, { stability: '={{ 1.1 }}' });
		},
		expected: { error: NodeOperationError, message: 'Parameter "Stability" must be a number from 0 to 1, got 1.1 [item 0]', requests: 0 },
	},
	{
		id: 'I7f',
		title: 'clone: stability 1e-7 is sent as the plain decimal "0.0000001" (was "1e-7", refused by the API)',
		run: (ctx) => clone(ctx, { stability: '={{ $json.stability }}' }, [cloneItem({ stability: 1e-7 })]),
		expected: { requests: 1 },
		check: (_result, ctx) => {
			const request = cloneRequest(ctx);
			expect(request.status).toBe(200);
			expect(request.fields?.stability).toBe('0.0000001');
		},
	},
	{
		id: 'I8a',
		title: 'clone: empty name',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses empty name`,
		run: (ctx) => clone(ctx, { name: '={{ "" }}' }),
		expected: { error: NodeOperationError, message: 'Parameter "Name" is empty [item 0]', requests: 0 },
	},
	{
		id: 'I8b',
		title: 'clone: whitespace-only name (spaces, tab, newline, no-break space)',
		run: (ctx) => clone(ctx, { name: '={{ $json.name }}' }, [cloneItem({ name: ' \t\n\u00A0 ' })]),
		expected: { error: NodeOperationError, message: 'Parameter "Name" is empty [item 0]', requests: 0 },
	},
	{
		id: 'I8c',
		title: 'clone: a 5,000-character name',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses a 5,000 character name`,
		run: (ctx) => clone(ctx, { name: 'س'.repeat(5000) }),
		expected: { error: NodeOperationError, message: 'Parameter "Name" is 5000 characters long; the maximum is 200 [item 0]', requests: 0 },
	},
	{
		id: 'I8d',
		title: 'clone: a name of 200 characters plus surrounding spaces is sent trimmed (the limit applies after trimming)',
		run: (ctx) => clone(ctx, { name: '={{ $json.name }}' }, [cloneItem({ name: `  ${'ص'.repeat(200)}\n` })]),
		expected: { requests: 1 },
		check: (result, ctx) => {
			expectBytes(part(cloneRequest(ctx), 'name').data, 'ص'.repeat(200));
			expect(result.items[0].json.name).toBe('ص'.repeat(200));
		},
	},
	{
		id: 'I8e',
		title: 'clone: 201 characters after trimming is refused',
		run: (ctx) => clone(ctx, { name: '={{ $json.name }}' }, [cloneItem({ name: ` ${'ص'.repeat(201)} ` })]),
		expected: { error: NodeOperationError, message: 'Parameter "Name" is 201 characters long; the maximum is 200 [item 0]', requests: 0 },
	},
	{
		id: 'I9a',
		title: 'clone: Arabic, diacritics and emoji in text, name and description arrive byte-exact',
		binaryModes: BOTH_MODES,
		run: (ctx) =>
			clone(ctx, { text: UNICODE_TEXT, name: UNICODE_NAME, additionalFields: { description: UNICODE_DESCRIPTION } }),
		expected: { requests: 1 },
		check: (result, ctx) => {
			const request = cloneRequest(ctx);
			expect(request.status).toBe(200);
			expectBytes(part(request, 'text').data, UNICODE_TEXT);
			expectBytes(part(request, 'name').data, UNICODE_NAME);
			expectBytes(part(request, 'description').data, UNICODE_DESCRIPTION);
			expect(result.items[0].json).toMatchObject({ name: UNICODE_NAME, description: UNICODE_DESCRIPTION });
		},
	},
	{
		id: 'I9b',
		title: 'preview: Arabic, diacritics and emoji in the text arrive byte-exact (multipart)',
		binaryModes: BOTH_MODES,
		run: (ctx) => preview(ctx, { text: UNICODE_TEXT }),
		expected: { requests: 1 },
		check: (result, ctx) => {
			const [request] = requestsTo(ctx.sandbox, 'POST', '/voices/preview');
			expect(request.status).toBe(200);
			expectBytes(part(request, 'text').data, UNICODE_TEXT);
			expect(result.items[0].json.text).toBe(UNICODE_TEXT);
		},
	},
	{
		id: 'I9c',
		title: 'speech: Arabic, diacritics and emoji in the text arrive exactly (JSON)',
		run: (ctx) => speech(ctx, { text: UNICODE_TEXT }),
		expected: { requests: 1 },
		check: (result, ctx) => {
			const [request] = ctx.sandbox.requests;
			expect(request.status).toBe(200);
			expect((request.json as { text: string }).text).toBe(UNICODE_TEXT);
			expect(result.items[0].json.characters).toBe([...UNICODE_TEXT].length);
		},
	},
	{
		id: 'I9d',
		title: 'clone: a name cut in the middle of an emoji by an expression (half a character) is refused',
		// "Voice 😀 x".slice(0, 7) keeps only the first half (a lone surrogate) of the emoji.
		run: (ctx) => clone(ctx, { name: '={{ $json.full.slice(0, 7) }}' }, [cloneItem({ full: 'Voice 😀 x' })]),
		expected: {
			error: NodeOperationError,
			message: 'Parameter "Name" contains half of a character (an unpaired UTF-16 surrogate) [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I9e',
		title: 'clone and speech: half a character in description or text is refused',
		run: async (ctx) => {
			const described = await clone(ctx, { additionalFields: { description: '={{ $json.d }}' } }, [cloneItem({ d: 'وصف \uDE00' })]);
			expect(described.error?.message).toBe('Parameter "Description" contains half of a character (an unpaired UTF-16 surrogate) [item 0]');
			return await speech(ctx, { text: '={{ $json.t }}' }, [{ json: { t: 'مرحبا \uD83C' } }]);
		},
		expected: {
			error: NodeOperationError,
			message: 'Parameter "Text" contains half of a character (an unpaired UTF-16 surrogate) [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I10a',
		title: 'clone: languages/dialects with spaces, upper case, duplicates and empty entries are normalised',
		binaryModes: BOTH_MODES,
		run: (ctx) =>
			clone(ctx, {
				additionalFields: { languages: '={{ $json.languages }}', dialects: '={{ $json.dialects }}' },
			}, [cloneItem({ languages: ' AR, en ,,ar , ', dialects: ['  najdi', 'HIJAZI', '', 'najdi', ' '] })]),
		expected: { requests: 1 },
		check: (result, ctx) => {
			const request = cloneRequest(ctx);
			expect(request.fields).toMatchObject({ languages: 'ar,en', dialects: 'najdi,hijazi' });
			expect(result.items[0].json).toMatchObject({ languages: ['ar', 'en'], dialect: ['najdi', 'hijazi'] });
		},
	},
	{
		id: 'I10b',
		title: 'clone: lists with only empty entries are left out of the request',
		run: (ctx) =>
			clone(ctx, { additionalFields: { languages: '={{ " , ,, " }}', dialects: '={{ [] }}' } }),
		expected: { requests: 1 },
		check: (_result, ctx) => {
			expect(partNames(cloneRequest(ctx))).toEqual(['model', 'name', 'reference_audio_file', 'stability', 'text', 'voice_file']);
		},
	},
	{
		id: 'I10c',
		title: 'clone: a list entry with an inner space is refused, not guessed at',
		run: (ctx) => clone(ctx, { additionalFields: { languages: '={{ "ar en, fr" }}' } }),
		expected: { error: NodeOperationError, message: 'Parameter "Languages" has an entry that is not a code: "ar en" [item 0]', requests: 0 },
	},
	{
		id: 'I11a',
		title: 'clone: avatar URL javascript:',
		provenBy: `${VOICE_CLONE_WIRE} › checks before any request is sent › refuses a javascript: avatar URL`,
		run: (ctx) => clone(ctx, { additionalFields: { avatarUrl: 'javascript:alert(1)' } }),
		expected: { error: NodeOperationError, message: 'Parameter "Avatar URL" must be an http(s) URL, got "javascript:alert(1)" [item 0]', requests: 0 },
	},
	{
		id: 'I11b',
		title: 'clone: avatar URL ftp:',
		run: (ctx) => clone(ctx, { additionalFields: { avatarUrl: 'ftp://example.com/avatar.png' } }),
		expected: { error: NodeOperationError, message: 'Parameter "Avatar URL" must be an http(s) URL, got "ftp://example.com/avatar.png" [item 0]', requests: 0 },
	},
	{
		id: 'I11c',
		title: 'clone: avatar URL that is not a URL',
		run: (ctx) => clone(ctx, { additionalFields: { avatarUrl: 'my avatar.png' } }),
		expected: { error: NodeOperationError, message: 'Parameter "Avatar URL" must be an http(s) URL, got "my avatar.png" [item 0]', requests: 0 },
	},
	{
		id: 'I12a',
		title: 'preview: text of 2 words and 8 characters',
		provenBy: `${FASEEH_WIRE} › Voice → Preview › checks the text before sending: 3 words and 10 characters`,
		run: (ctx) => preview(ctx, { text: 'مرحبا بك' }),
		expected: {
			error: NodeOperationError,
			message: 'Parameter "Text" must have at least 3 words and 10 characters (it has 2 words, 8 characters) [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I12b',
		title: 'preview: 3 words but under 10 characters',
		run: (ctx) => preview(ctx, { text: 'هو في بيت' }),
		expected: {
			error: NodeOperationError,
			message: 'Parameter "Text" must have at least 3 words and 10 characters (it has 3 words, 9 characters) [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I12c',
		title: 'preview: 10 characters or more but 2 words',
		run: (ctx) => preview(ctx, { text: 'مرحبابكم فيفصيح' }),
		expected: {
			error: NodeOperationError,
			message: 'Parameter "Text" must have at least 3 words and 10 characters (it has 2 words, 15 characters) [item 0]',
			requests: 0,
		},
	},
	{
		id: 'I12d',
		title: 'one-step clone: the preview text rule is checked before anything is sent',
		provenBy: `${FASEEH_WIRE} › one-step clone (voiceSource = preview) › checks the preview text rule before anything is sent`,
		run: (ctx) => clone(ctx, { voiceSource: 'preview', referenceBinaryPropertyName: 'data', text: 'قصير' }, [recordingItem()]),
		expected: { error: NodeOperationError, message: /^Parameter "Text" must have at least 3 words and 10 characters/, requests: 0 },
	},
	{
		id: 'I13a',
		title: 'preview: speed 1.5',
		provenBy: `${FASEEH_WIRE} › Voice → Preview › checks speed before sending`,
		run: (ctx) => preview(ctx, { options: { speed: 1.5 } }),
		expected: { error: NodeOperationError, message: 'Parameter "Speed" must be a number from 0.7 to 1.2, got 1.5 [item 0]', requests: 0 },
	},
	{
		id: 'I13b',
		title: 'preview: speed 0.69',
		run: (ctx) => preview(ctx, { options: { speed: 0.69 } }),
		expected: { error: NodeOperationError, message: 'Parameter "Speed" must be a number from 0.7 to 1.2, got 0.69 [item 0]', requests: 0 },
	},
	{
		id: 'I13c',
		title: 'speech: speed 1.21, and "fast" from an expression',
		run: async (ctx) => {
			const fast = await speech(ctx, { options: { speed: '={{ "fast" }}' } });
			expect(fast.error?.message).toBe('Parameter "Speed" must be a number from 0.7 to 1.2, got "fast" [item 0]');
			return await speech(ctx, { options: { speed: 1.21 } });
		},
		expected: { error: NodeOperationError, message: 'Parameter "Speed" must be a number from 0.7 to 1.2, got 1.21 [item 0]', requests: 0 },
	},
];

export const FAULT_CASES: CatalogueCase[] = [
	{
		id: 'F1',
		title: '400 with errorCode as a number (the sandbox’s own validation answer)',
		run: (ctx) => clone(ctx, { model: 'no-such-model' }),
		expected: {
			error: NodeApiError,
			message: 'Model not found: no-such-model',
			description: /^Faseeh rejected the request as invalid\. .*\(HTTP 400, Faseeh error code 40001\) \[item 0\]$/,
			httpCode: '400',
			errorCode: 40001,
			requests: 1,
		},
	},
	{
		id: 'F2',
		title: '400 with errorCode as a string',
		provenBy: `${VOICE_CLONE_WIRE} › API failures carry Faseeh’s message, code and a hint › HTTP 400`,
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(400, { errorCode: '40001', errorMessage: 'voice_file is required and must be of audio type' }));
			return clone(ctx);
		},
		expected: { error: NodeApiError, message: 'voice_file is required and must be of audio type', httpCode: '400', errorCode: '40001', requests: 1 },
	},
	{
		id: 'F3',
		title: '`code`/`message` instead of `errorCode`/`errorMessage`',
		provenBy: `${VOICE_CLONE_WIRE} › API failures carry Faseeh’s message, code and a hint › HTTP 404`,
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(404, { code: 40401, message: 'Not found' }));
			return clone(ctx);
		},
		expected: { error: NodeApiError, message: 'Not found', httpCode: '404', errorCode: 40401, requests: 1 },
	},
	{
		id: 'F4a',
		title: '401 from the API',
		provenBy: `${VOICE_CLONE_WIRE} › API failures carry Faseeh’s message, code and a hint › HTTP 401`,
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(401, { errorCode: 40101, errorMessage: 'Invalid or missing API key' }));
			return clone(ctx);
		},
		expected: {
			error: NodeApiError,
			message: 'Invalid or missing API key',
			description: /^Check the API key in the Faseeh API credential\. Keys are region-specific: a UAE key works only with the UAE base URL\. \(HTTP 401, Faseeh error code 40101\) \[item 0\]$/,
			httpCode: '401',
			errorCode: 40101,
			requests: 1,
		},
	},
	{
		id: 'F4b',
		title: '401 for a wrong key: sent once, the upload is not resent',
		provenBy: `${VOICE_CLONE_WIRE} › API failures carry Faseeh’s message, code and a hint › a wrong API key gets the sandbox’s own 401, once (no resend of the upload)`,
		run: (ctx) => runClone(ctx.sandbox, {}, [cloneItem()], { binaryMode: ctx.binaryMode, apiKey: WRONG_API_KEY }),
		expected: { error: NodeApiError, message: 'Invalid or missing API key', httpCode: '401', requests: 1 },
	},
	{
		id: 'F5',
		title: '402 with the required and available amounts',
		provenBy: `${VOICE_CLONE_WIRE} › API failures carry Faseeh’s message, code and a hint › HTTP 402`,
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(402, { errorCode: 40201, errorMessage: 'Insufficient wallet balance. Required: $0.05, Available: $0.02' }));
			return clone(ctx);
		},
		expected: {
			error: NodeApiError,
			message: 'Insufficient wallet balance. Required: $0.05, Available: $0.02',
			description: /wallet balance is too low.*\(HTTP 402, Faseeh error code 40201\)/,
			httpCode: '402',
			errorCode: 40201,
			requests: 1,
		},
	},
	{
		id: 'F6',
		title: '403 (model not enabled)',
		provenBy: `${VOICE_CLONE_WIRE} › API failures carry Faseeh’s message, code and a hint › HTTP 403`,
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(403, { errorCode: 40301, errorMessage: 'Model not enabled for this account' }));
			return clone(ctx);
		},
		expected: {
			error: NodeApiError,
			message: 'Model not enabled for this account',
			description: /^This model is not enabled for your Faseeh account\. Choose another model or ask Faseeh to enable it\. \(HTTP 403, Faseeh error code 40301\) \[item 0\]$/,
			httpCode: '403',
			errorCode: 40301,
			requests: 1,
		},
	},
	{
		id: 'F7',
		title: '404 (unknown voice for speech)',
		provenBy: `${FASEEH_WIRE} › Speech → Generate › an unknown voice gets the API’s 404 message`,
		run: (ctx) => speech(ctx, { voiceId: { __rl: true, mode: 'id', value: 'no-such-voice' } }),
		expected: { error: NodeApiError, message: 'Voice not found: no-such-voice', httpCode: '404', errorCode: 40401, requests: 1 },
	},
	{
		id: 'F8',
		title: '413 from a host with a small body limit (a real over-limit upload)',
		run: (ctx) => runClone(ctx.tight, {}, [cloneItem()], { binaryMode: ctx.binaryMode }),
		expected: {
			error: NodeApiError,
			message: 'Payload too large',
			description: /^The upload is too large for Faseeh\. .*\(HTTP 413, Faseeh error code 41301\) \[item 0\]$/,
			httpCode: '413',
			errorCode: 41301,
		},
		check: (_result, ctx) => {
			const requests = requestsTo(ctx.tight, 'POST', '/voices/clone');
			expect(requests.map((request) => request.status)).toEqual([413]);
		},
	},
	{
		id: 'F9',
		title: '429 with Retry-After: waited out (refused, not processed), then the clone succeeds',
		provenBy: `${CONCURRENCY_WIRE} › 429 answers › are waited out with Retry-After and jitter until the clone succeeds`,
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(429, undefined, { times: 3, headers: { 'Retry-After': '0' } }));
			return clone(ctx);
		},
		expected: { requests: 4 },
		check: (result, ctx) => {
			expect(result.items[0].json.voice_id).toMatch(/^cl-/);
			expect(requestsTo(ctx.sandbox, 'POST', '/voices/clone').map((request) => request.status)).toEqual([429, 429, 429, 200]);
		},
	},
	{
		id: 'F10',
		title: '429 past Options → Max Wait on Concurrency Limit: exponential backoff, then Faseeh’s message',
		provenBy: `${CONCURRENCY_WIRE} › 429 answers › back off exponentially without Retry-After, and give up at the deadline with Faseeh’s message`,
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(429, undefined, { times: 1000 }));
			return clone(ctx, { options: { rateLimitWait: 1 } });
		},
		expected: {
			error: NodeApiError,
			message: 'Concurrency limit exceeded. Current: 2, Maximum: 2',
			description: /^Still refused after waiting 1 seconds for a free slot\. Your Faseeh plan limits concurrent requests.*\(HTTP 429, Faseeh error code 42901\) \[item 0\]$/,
			httpCode: '429',
			errorCode: 42901,
		},
		check: (result, ctx) => {
			expect((result.error as NodeApiError).context).not.toHaveProperty('retryAfterSeconds');
			// 250 ms × 2^n with equal jitter within one second: at least 3 tries, at most 5.
			const tries = requestsTo(ctx.sandbox, 'POST', '/voices/clone').length;
			expect(tries).toBeGreaterThanOrEqual(3);
			expect(tries).toBeLessThanOrEqual(5);
		},
	},
	{
		id: 'F11',
		title: '500',
		provenBy: `${VOICE_CLONE_WIRE} › API failures carry Faseeh’s message, code and a hint › HTTP 500`,
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(500, { errorCode: 50001, errorMessage: 'Failed to clone voice' }));
			return clone(ctx);
		},
		expected: { error: NodeApiError, message: 'Failed to clone voice', httpCode: '500', errorCode: 50001, requests: 1 },
	},
	{
		id: 'F12',
		title: '502 with an HTML body: a clear message, not retried for a clone',
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(502, '<html><body><h1>502 Bad Gateway</h1></body></html>', { contentType: 'text/html' }));
			return clone(ctx);
		},
		expected: {
			error: NodeApiError,
			message: 'Faseeh answered HTTP 502 without an error message',
			description: /^Faseeh had a server error\. .*\(HTTP 502\) \[item 0\]$/,
			httpCode: '502',
			errorCode: null,
			requests: 1,
		},
	},
	{
		id: 'F13',
		title: '503',
		provenBy: `${VOICE_CLONE_WIRE} › API failures carry Faseeh’s message, code and a hint › HTTP 503`,
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(503, { errorCode: 50301, errorMessage: 'Service unavailable' }));
			return clone(ctx);
		},
		expected: { error: NodeApiError, message: 'Service unavailable', httpCode: '503', errorCode: 50301, requests: 1 },
	},
	{
		id: 'F14',
		title: 'a 200 that is not JSON (clone)',
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /voices/clone', kind: 'raw', status: 200, contentType: 'text/html', body: '<html>Welcome</html>' });
			return clone(ctx);
		},
		expected: {
			error: NodeApiError,
			message: 'Faseeh answered HTTP 200 with a body that is not JSON',
			description: /^Content type: text\/html\. Check the Base URL/,
			httpCode: '200',
			requests: 1,
		},
	},
	{
		id: 'F15',
		title: 'a 200 JSON without voice_id (clone)',
		run: (ctx) => {
			ctx.sandbox.inject(apiFault(200, { id: '3c90c3cc-0d44-4b50-8888-8dd25736052a', status: 'ready' }));
			return clone(ctx);
		},
		expected: {
			error: NodeApiError,
			message: 'Faseeh answered the clone request without a voice_id',
			description: /The voice may have been created: check Faseeh → Voice → Get Many before retrying the clone\. \[item 0\]$/,
			requests: 1,
		},
	},
	{
		id: 'F16',
		title: 'connection refused',
		run: (ctx) => runClone(ctx.sandbox, {}, [cloneItem()], { binaryMode: ctx.binaryMode, baseUrl: ctx.closedUrl }),
		expected: {
			error: NodeApiError,
			message: /^Could not connect to Faseeh at 127\.0\.0\.1:\d+: the connection was refused$/,
			errorCode: 'ECONNREFUSED',
			requests: 0,
		},
	},
	{
		id: 'F17a',
		title: 'connection reset in the middle of the upload (clone: reported, not retried)',
		binaryModes: BOTH_MODES,
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /voices/clone', kind: 'reset', afterBytes: 16 * 1024 });
			return clone(ctx, {}, [cloneItemWith('reference_audio_file', LONG_RECORDING, 'long.wav', 'audio/wav')]);
		},
		expected: {
			error: NodeApiError,
			message: 'The connection to Faseeh was closed before an answer arrived',
			errorCode: 'ECONNRESET',
			requests: 1,
		},
		check: async (_result, ctx) => {
			const [request] = ctx.sandbox.requests;
			expect(request.aborted).toBe(true);
			expect(request.bodySize).toBeGreaterThanOrEqual(16 * 1024);
			expect(request.bodySize).toBeLessThan(request.contentLength ?? 0);
			// The half-read file stream is closed, not left open (it was, before the fix).
			expect(await binaryFilesLeftOpen()).toEqual([]);
		},
	},
	{
		id: 'F17b',
		title: 'connection reset mid-upload with Retry on Server Errors (preview): resent whole, succeeds',
		binaryModes: BOTH_MODES,
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /voices/preview', kind: 'reset', afterBytes: 16 * 1024 });
			const item = { json: {}, binary: { data: { data: LONG_RECORDING, fileName: 'long.wav', mimeType: 'audio/wav' } } };
			return preview(ctx, { options: { retryOnServerError: true } }, [item]);
		},
		expected: { requests: 2 },
		check: (_result, ctx) => {
			const [cut, whole] = requestsTo(ctx.sandbox, 'POST', '/voices/preview');
			expect(cut.aborted).toBe(true);
			expect(cut.bodySize).toBeLessThan(cut.contentLength ?? 0);
			expect(whole.status).toBe(200);
			expect(whole.bodySize).toBe(whole.contentLength);
			expect(part(whole, 'file').sha256).toBe(sha256(LONG_RECORDING));
		},
	},
	{
		id: 'F18',
		title: 'a server that never answers: the timeout fires and the message says so (clone not retried)',
		provenBy: `${CONCURRENCY_WIRE} › retries › never retries a clone after a timeout, and says it timed out`,
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /voices/clone', kind: 'hang' });
			return clone(ctx, { options: { timeout: 1 } });
		},
		expected: { error: NodeApiError, message: 'Faseeh did not answer within 1 seconds (timeout)', requests: 1 },
	},
	{
		id: 'F19',
		title: 'a redirect to another host: not followed, the key never reaches it',
		provenBy: `${VOICE_CLONE_WIRE} › API failures carry Faseeh’s message, code and a hint › a redirect is not followed, so neither key nor upload reach the other host`,
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /voices/clone', kind: 'redirect', location: `${ctx.elsewhere.baseUrl}/voices/clone`, status: 307 });
			return clone(ctx);
		},
		expected: { error: NodeApiError, message: /^Faseeh answered with a redirect \(HTTP 307\) to 127\.0\.0\.1:\d+; it was not followed$/, requests: 1 },
		check: (_result, ctx) => expect(ctx.elsewhere.requests).toHaveLength(0),
	},
	{
		id: 'F20',
		title: 'a clone answer cut off after its headers: said so, and that the voice may exist (not retried)',
		run: (ctx) => runClone(ctx.sandbox, {}, [cloneItem()], { binaryMode: ctx.binaryMode, baseUrl: ctx.cutOff.url }),
		expected: {
			error: NodeApiError,
			message: 'Faseeh’s answer was cut off: the connection closed before the whole answer arrived',
			description: /The voice may have been created: check Faseeh → Voice → Get Many before retrying the clone\. \[item 0\]$/,
			requests: 0,
		},
		check: (_result, ctx) => expect(ctx.cutOff.requests()).toBe(1),
	},
];


/** Audio → Transcribe (Munsit speech-to-text, issue 16). */
const TRANSCRIBE_CASES: CatalogueCase[] = [
	{
		id: 'T1',
		title: 'transcribe: the binary field is missing',
		provenBy: `${TRANSCRIBE_WIRE} › Audio → Transcribe: bad input, refused before any request › a missing binary field`,
		run: (ctx) => runTranscribe(ctx.sandbox, { binaryPropertyName: 'voice' }, [recordingItem()], { binaryMode: ctx.binaryMode }),
		expected: { error: NodeOperationError, message: /^Parameter "Input Data Field Name": the input item has no binary field "voice"/, requests: 0 },
	},
	{
		id: 'T2',
		title: 'transcribe: an image (PNG content) as audio, both modes',
		binaryModes: BOTH_MODES,
		run: (ctx) =>
			runTranscribe(ctx.sandbox, {}, [{ json: {}, binary: { data: { data: PNG, fileName: 'note.wav', mimeType: 'audio/wav' } } }], { binaryMode: ctx.binaryMode }),
		expected: { error: NodeOperationError, message: 'The file in "Input Data Field Name" (binary field "data") is not audio: its content is PNG [item 0]', requests: 0 },
	},
	{
		id: 'T3',
		title: 'transcribe: an empty file',
		provenBy: `${TRANSCRIBE_WIRE} › Audio → Transcribe: bad input, refused before any request › an empty file`,
		run: (ctx) =>
			runTranscribe(ctx.sandbox, {}, [{ json: {}, binary: { data: { data: Buffer.alloc(0), fileName: 'empty.wav', mimeType: 'audio/wav' } } }], { binaryMode: ctx.binaryMode }),
		expected: { error: NodeOperationError, message: /is empty \[item 0\]$/, requests: 0 },
	},
	{
		id: 'T4',
		title: 'transcribe: a model that is not munsit or munsit-en-ar (from an expression)',
		run: (ctx) => runTranscribe(ctx.sandbox, { sttModel: '={{ "munsit-1" }}' }, [recordingItem()], { binaryMode: ctx.binaryMode }),
		expected: { error: NodeOperationError, message: 'Parameter "Model" must be munsit or munsit-en-ar, got "munsit-1" [item 0]', requests: 0 },
	},
	{
		id: 'T5',
		title: 'transcribe: the host answers 404 for the STT path (a Faseeh-only host)',
		provenBy: `${TRANSCRIBE_WIRE} › Audio → Transcribe: errors carry the API’s message, code and a hint › a host that does not serve speech-to-text (404) names the hosts that do`,
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /audio/transcribe', kind: 'status', status: 404 });
			return runTranscribe(ctx.sandbox, {}, [recordingItem()], { binaryMode: ctx.binaryMode });
		},
		expected: { error: NodeApiError, message: /^This host does not serve speech-to-text: /, httpCode: '404', errorCode: 40401, requests: 1 },
	},
	{
		id: 'T6',
		title: 'transcribe: 402, 413 and 415 carry the message, the code and their hint',
		provenBy: `${TRANSCRIBE_WIRE} › Audio → Transcribe: errors carry the API’s message, code and a hint › HTTP %i`,
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /audio/transcribe', kind: 'status', status: 415 });
			return runTranscribe(ctx.sandbox, {}, [recordingItem()], { binaryMode: ctx.binaryMode });
		},
		expected: { error: NodeApiError, message: 'Unsupported media type', description: /does not take this audio format/, httpCode: '415', errorCode: 41501, requests: 1 },
	},
	{
		id: 'T7',
		title: 'transcribe: a 200 envelope without a transcript',
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /audio/transcribe', kind: 'status', status: 200, body: { statusCode: 200, data: { transcriptionId: 'x' }, message: 'Success' } });
			return runTranscribe(ctx.sandbox, {}, [recordingItem()], { binaryMode: ctx.binaryMode });
		},
		expected: {
			error: NodeApiError,
			message: 'The speech-to-text answer has no transcript (no "transcription" text)',
			description: /served by https:\/\/api\.munsit\.com\/api\/v1\. \[item 0\]$/,
			requests: 1,
		},
	},
	{
		id: 'T8',
		title: 'transcribe: a 200 envelope whose statusCode is an error',
		provenBy: `${TRANSCRIBE_WIRE} › Audio → Transcribe: errors carry the API’s message, code and a hint › 400 "Unsupported audio format" gets the format hint; an envelope with an error statusCode is an error`,
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /audio/transcribe', kind: 'status', status: 200, body: { statusCode: 402, message: 'Insufficient credits', data: null } });
			return runTranscribe(ctx.sandbox, {}, [recordingItem()], { binaryMode: ctx.binaryMode });
		},
		expected: { error: NodeApiError, message: 'Insufficient credits', httpCode: '402', requests: 1 },
	},
	{
		id: 'T9',
		title: 'transcribe: a connection reset mid-upload is reported, not retried unless asked',
		binaryModes: BOTH_MODES,
		run: (ctx) => {
			ctx.sandbox.inject({ route: 'POST /audio/transcribe', kind: 'reset', afterBytes: 16 * 1024 });
			return runTranscribe(ctx.sandbox, {}, [{ json: {}, binary: { data: { data: LONG_RECORDING, fileName: 'long.wav', mimeType: 'audio/wav' } } }], { binaryMode: ctx.binaryMode });
		},
		expected: { error: NodeApiError, message: 'The connection to Faseeh was closed before an answer arrived', errorCode: 'ECONNRESET', requests: 1 },
		check: async () => expect(await binaryFilesLeftOpen()).toEqual([]),
	},
];

export const CATALOGUE_CASES: CatalogueCase[] = [...INPUT_CASES, ...FAULT_CASES, ...TRANSCRIBE_CASES];
