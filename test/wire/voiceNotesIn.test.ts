/**
 * Voice notes in (issue 24): real recordings made in the test from speech-like PCM by ffmpeg
 * (libopus, libmp3lame, libvpx), sent through Voice → Preview, Faseeh Voice Clone (both inputs, and
 * Generate Preview First) and Audio → Transcribe in n8n's real engine. What the sandbox received is
 * decoded here and compared with the PCM the recording was made from.
 */
import { NodeApiError, NodeOperationError } from 'n8n-workflow';
import type { INodeParameters } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { FaseehVoiceClone } from '../../nodes/FaseehVoiceClone/FaseehVoiceClone.node';
import { parseWav } from '../../nodes/shared/audio';
import { oggCrc } from '../../nodes/shared/encode/ogg';
import { cleanupHarness } from '../harness/n8nHarness';
import type { FixtureItem } from '../harness/n8nHarness';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import type { RecordedPart } from '../sandbox/types';
import { bestCorrelation } from '../helpers/audio';
import { part, requestsTo, runAgainst, sha256, startSandbox } from '../helpers/faseeh';
import { encodeNote, pcmToFloat, speechPcm, videoOnlyWebm } from '../helpers/voiceNotes';
import type { NoteFormat } from '../helpers/voiceNotes';

const SECONDS = 4;
const SOURCE = speechPcm(SECONDS, 24000, 7);
const SOURCE_FLOAT = pcmToFloat(SOURCE);
const TEXT = 'مرحبا بك في فصيح، كيف يمكنني مساعدتك اليوم؟';

const NOTES: Record<NoteFormat, Buffer> = {} as Record<NoteFormat, Buffer>;
const MIME: Record<string, string> = { ogg: 'audio/ogg', webm: 'audio/webm', webmFile: 'audio/webm', mp3: 'audio/mpeg', mp3Stereo44: 'audio/mpeg', wav44Stereo: 'audio/wav' };
const EXTENSION: Record<string, string> = { ogg: 'ogg', webm: 'webm', webmFile: 'webm', mp3: 'mp3', mp3Stereo44: 'mp3', wav44Stereo: 'wav' };

let sandbox: FaseehSandbox;
beforeAll(async () => {
	sandbox = await startSandbox();
	for (const format of ['ogg', 'webm', 'webmFile', 'mp3', 'mp3Stereo44', 'wav44Stereo'] as const) NOTES[format] = encodeNote(SOURCE, format);
});
afterEach(() => sandbox.reset());
afterAll(async () => {
	await sandbox.stop();
	await cleanupHarness();
});

const note = (format: NoteFormat, field = 'data', fileName = `note.${EXTENSION[format]}`): FixtureItem => ({
	json: {},
	binary: { [field]: { data: NOTES[format], fileName, mimeType: MIME[format] } },
});
const withBytes = (data: Buffer, fileName: string, mimeType: string, field = 'data'): FixtureItem => ({ json: {}, binary: { [field]: { data, fileName, mimeType } } });
const preview = (extra: INodeParameters = {}): INodeParameters => ({ resource: 'voice', operation: 'preview', text: TEXT, similarity: 0.75, model: 'faseeh-v1-preview', ...extra });
const transcribe = (extra: INodeParameters = {}): INodeParameters => ({ resource: 'audio', operation: 'transcribe', ...extra });
const cloneParameters = (extra: INodeParameters = {}): INodeParameters => ({ text: TEXT, stability: 0.5, name: 'صوتي', model: 'faseeh-v1-preview', ...extra });

/** A part the node converted: a 24 kHz mono 16-bit WAV whose samples follow the source. */
function expectConvertedWav(received: RecordedPart): void {
	expect(received.contentType).toBe('audio/wav');
	expect(received.filename).toMatch(/\.wav$/);
	const info = parseWav(received.data);
	expect(info).toMatchObject({ pcm: true, sampleRate: 24000, channels: 1, bitsPerSample: 16 });
	const samples = pcmToFloat(received.data.subarray(info!.dataOffset, info!.dataOffset + info!.dataLength));
	// Within the encoder's delay (an MP3 without a LAME tag starts ~1105 samples late), over the whole note.
	const { r } = bestCorrelation(samples, SOURCE_FLOAT, 1500, 0, SOURCE_FLOAT.length - 1500);
	expect(r).toBeGreaterThan(0.9);
	expect(Math.abs(samples.length / 24000 - SECONDS)).toBeLessThan(0.1);
}

describe('Convert Input to WAV: Auto decodes voice notes before the upload', () => {
	it.each(['ogg', 'webm', 'webmFile', 'mp3', 'mp3Stereo44'] as const)('Voice → Preview with %s sends a 24 kHz mono WAV of the same speech', async (format) => {
		const result = await runAgainst(sandbox, new Faseeh(), preview(), [note(format)], { binaryMode: 'filesystem' });
		expect(result.error).toBeUndefined();
		const [request] = requestsTo(sandbox, 'POST', '/voices/preview');
		const file = part(request, 'file');
		expectConvertedWav(file);
		expect(file.filename).toBe('note.wav');
		const format_ = format.startsWith('webm') ? 'webm' : format.startsWith('mp3') ? 'mp3' : 'ogg';
		expect(result.items[0].json.input).toEqual({ format: format_, converted: true, sentAs: 'note.wav', durationSeconds: expect.closeTo(SECONDS, 1) });
		// The recording is passed on as it came.
		expect((await result.binaryBuffer(result.items[0], 'reference_audio_file')).equals(NOTES[format])).toBe(true);
	});

	it('Generate Preview First converts the recording once, for the preview and the clone (in-memory binaries)', async () => {
		const item = note('ogg', 'reference_audio_file');
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters({ voiceSource: 'preview', similarity: 0.75 }), [item], { binaryMode: 'default' });
		expect(result.error).toBeUndefined();
		const previewFile = part(requestsTo(sandbox, 'POST', '/voices/preview')[0], 'file');
		const reference = part(requestsTo(sandbox, 'POST', '/voices/clone')[0], 'reference_audio_file');
		expectConvertedWav(reference);
		expect(reference.sha256).toBe(previewFile.sha256);
	});

	it('Voice Clone converts both inputs (a WebM preview and an MP3 recording)', async () => {
		const item: FixtureItem = {
			json: {},
			binary: {
				voice_file: { data: NOTES.webm, fileName: 'preview.webm', mimeType: 'audio/webm' },
				reference_audio_file: { data: NOTES.mp3, fileName: 'me.mp3', mimeType: 'audio/mpeg' },
			},
		};
		const result = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters(), [item], { binaryMode: 'filesystem' });
		expect(result.error).toBeUndefined();
		const [request] = requestsTo(sandbox, 'POST', '/voices/clone');
		expectConvertedWav(part(request, 'voice_file'));
		expectConvertedWav(part(request, 'reference_audio_file'));
		expect(part(request, 'reference_audio_file').filename).toBe('me.wav');
	});

	it('Always also rewrites a 44.1 kHz stereo WAV; Auto sends it as it is', async () => {
		await runAgainst(sandbox, new Faseeh(), preview({ options: { convertInput: 'always' } }), [note('wav44Stereo')]);
		expectConvertedWav(part(requestsTo(sandbox, 'POST', '/voices/preview')[0], 'file'));
		sandbox.reset();
		await runAgainst(sandbox, new Faseeh(), preview(), [note('wav44Stereo')]);
		expect(part(requestsTo(sandbox, 'POST', '/voices/preview')[0], 'file').sha256).toBe(sha256(NOTES.wav44Stereo));
	});
});

describe('Convert Input to WAV: Never, and Transcribe', () => {
	it.each(['filesystem', 'default'] as const)('Never sends the original bytes (%s)', async (binaryMode) => {
		await runAgainst(sandbox, new Faseeh(), preview({ options: { convertInput: 'never' } }), [note('ogg')], { binaryMode });
		expect(part(requestsTo(sandbox, 'POST', '/voices/preview')[0], 'file')).toMatchObject({ sha256: sha256(NOTES.ogg), contentType: 'audio/ogg', filename: 'note.ogg' });
		const item: FixtureItem = { json: {}, binary: { voice_file: { data: NOTES.webm, fileName: 'p.webm', mimeType: 'audio/webm' }, reference_audio_file: { data: NOTES.mp3, fileName: 'me.mp3', mimeType: 'audio/mpeg' } } };
		await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters({ options: { convertInput: 'never' } }), [item], { binaryMode });
		const [clone] = requestsTo(sandbox, 'POST', '/voices/clone');
		expect(part(clone, 'voice_file').sha256).toBe(sha256(NOTES.webm));
		expect(part(clone, 'reference_audio_file').sha256).toBe(sha256(NOTES.mp3));
	});

	it('Transcribe: Auto sends a voice note as it is (Munsit takes .ogg), with its length read from the file; Always sends WAV', async () => {
		const auto = await runAgainst(sandbox, new Faseeh(), transcribe(), [note('ogg')]);
		expect(auto.error).toBeUndefined();
		expect(part(requestsTo(sandbox, 'POST', '/audio/transcribe')[0], 'file')).toMatchObject({ sha256: sha256(NOTES.ogg), filename: 'note.ogg', contentType: 'audio/ogg' });
		expect(auto.items[0].json.input).toEqual({ format: 'ogg', converted: false, sentAs: 'note.ogg', durationSeconds: expect.closeTo(SECONDS, 2) });
		sandbox.reset();
		const always = await runAgainst(sandbox, new Faseeh(), transcribe({ options: { convertInput: 'always' } }), [note('webm')]);
		expect(always.error).toBeUndefined();
		expectConvertedWav(part(requestsTo(sandbox, 'POST', '/audio/transcribe')[0], 'file'));
	});

	it('Transcribe refuses a recording over 60 minutes before any request, naming its length', async () => {
		// The Ogg's last granule position says 61 minutes (page CRC rewritten): the length is read from the container.
		const long = withLastGranule(NOTES.ogg, BigInt(312 + 61 * 60 * 48000));
		const result = await runAgainst(sandbox, new Faseeh(), transcribe(), [withBytes(long, 'long.ogg', 'audio/ogg')]);
		expect(result.error).toBeInstanceOf(NodeOperationError);
		expect(result.error?.message).toBe('Parameter "Input Data Field Name": the OGG/Opus recording in binary field "data" is 61 min long: speech-to-text takes at most 60 min (Munsit’s limit) [item 0]');
		expect(sandbox.requests).toHaveLength(0);
	});
});

describe('A damaged recording is refused before any request, naming the field and the item', () => {
	const truncatedOgg = () => NOTES.ogg.subarray(0, Math.floor(NOTES.ogg.length * 0.6) + 7);
	const garbageMp3 = () => {
		const middle = Math.floor(NOTES.mp3.length / 2);
		const garbage = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 37 + 11) & 0x7f));
		return Buffer.concat([NOTES.mp3.subarray(0, middle), garbage, NOTES.mp3.subarray(middle)]);
	};
	const cases: Array<[string, () => Buffer, string, string, RegExp]> = [
		['a truncated OGG', truncatedOgg, 'cut.ogg', 'audio/ogg', /the OGG\/Opus recording in binary field "(\w+)" is damaged: it ends in the middle of an Ogg page .*: the file is cut short \[item 1\]$/],
		['a WebM with no audio track', videoOnlyWebm, 'clip.webm', 'video/webm', /the WebM recording in binary field "(\w+)" has no audio to send: it has no audio track \(its tracks: video\) \[item 1\]$/],
		['an MP3 with garbage in the middle', garbageMp3, 'bad.mp3', 'audio/mpeg', /the MP3 recording in binary field "(\w+)" is damaged: at byte [\d,]+, after \d+ good frames, there are bytes that are not an MP3 frame: the file is damaged \[item 1\]$/],
	];

	it.each(cases)('%s: Voice → Preview, Voice Clone (both fields) and Transcribe', async (_name, make, fileName, mimeType, message) => {
		const bad = make();
		// Item 0 is fine, item 1 is not: under Continue On Fail item 0 is sent, item 1 is not.
		const previewRun = await runAgainst(sandbox, new Faseeh(), preview({ options: { concurrency: 1 } }), [note('ogg'), withBytes(bad, fileName, mimeType)], { onError: 'continueRegularOutput' });
		expect(String(previewRun.items[1].json.error)).toMatch(new RegExp(`^Parameter "Input Data Field Name": ${message.source}`));
		expect(String(previewRun.items[1].json.error)).toContain('binary field "data"');
		expect(previewRun.items[1].json.description).toMatch(/^Nothing was sent\./);
		expect(requestsTo(sandbox, 'POST', '/voices/preview')).toHaveLength(1);
		sandbox.reset();

		const good: FixtureItem = { json: {}, binary: { voice_file: { data: NOTES.webm, fileName: 'p.webm', mimeType: 'audio/webm' }, reference_audio_file: { data: NOTES.mp3, fileName: 'me.mp3', mimeType: 'audio/mpeg' } } };
		const badVoice: FixtureItem = { json: {}, binary: { voice_file: { data: bad, fileName, mimeType }, reference_audio_file: { data: NOTES.mp3, fileName: 'me.mp3', mimeType: 'audio/mpeg' } } };
		const cloneRun = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters(), [good, badVoice], { onError: 'continueRegularOutput' });
		expect(String(cloneRun.items[1].json.error)).toMatch(new RegExp(`^Parameter "Voice File Field": ${message.source}`));
		expect(requestsTo(sandbox, 'POST', '/voices/clone')).toHaveLength(1);
		sandbox.reset();

		const badReference = withBytes(bad, fileName, mimeType, 'reference_audio_file');
		const oneStep = await runAgainst(sandbox, new FaseehVoiceClone(), cloneParameters({ voiceSource: 'preview' }), [badReference], {});
		expect(oneStep.error?.message).toMatch(new RegExp(`^Parameter "Reference Audio Field": ${message.source.replace('item 1', 'item 0')}`));
		expect(sandbox.requests).toHaveLength(0);

		const stt = await runAgainst(sandbox, new Faseeh(), transcribe(), [withBytes(bad, fileName, mimeType)], {});
		expect(stt.error?.message).toMatch(new RegExp(`^Parameter "Input Data Field Name": ${message.source.replace('item 1', 'item 0')}`));
		expect(sandbox.requests).toHaveLength(0);
	});

	it('Never sends even a damaged file as it is (the user’s choice)', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), preview({ options: { convertInput: 'never' } }), [withBytes(truncatedOgg(), 'cut.ogg', 'audio/ogg')]);
		expect(result.error).toBeUndefined();
		expect(requestsTo(sandbox, 'POST', '/voices/preview')).toHaveLength(1);
	});
});

describe('Formats the node cannot decode', () => {
	// An M4A header (ftyp M4A) followed by bytes: the node has no AAC decoder.
	const M4A = Buffer.concat([Buffer.from('0000001c667479704d344120000000004d34412069736f6d', 'hex'), Buffer.alloc(2000, 3)]);

	it('Auto sends M4A as it is; when Faseeh refuses it, the error says so and what to do', async () => {
		sandbox.inject({ kind: 'status', status: 400, route: 'POST /voices/preview', body: { errorCode: 40001, errorMessage: 'file is required and must be of audio type' } });
		const result = await runAgainst(sandbox, new Faseeh(), preview(), [withBytes(M4A, 'memo.m4a', 'audio/mp4')]);
		expect(result.error).toBeInstanceOf(NodeApiError);
		expect(result.error?.message).toContain('file is required and must be of audio type');
		expect((result.error as NodeApiError).description).toMatch(/"Input Data Field Name" was sent as it is \(audio\/mp4\): the node has no decoder for M4A \(AAC\)\. Faseeh documents no input format beyond "audio": convert the recording to WAV, MP3 or OGG\/Opus before this node\./);
		expect(part(requestsTo(sandbox, 'POST', '/voices/preview')[0], 'file').sha256).toBe(sha256(M4A));
	});

	it('Always refuses it before any request', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), preview({ options: { convertInput: 'always' } }), [withBytes(M4A, 'memo.m4a', 'audio/mp4')]);
		expect(result.error?.message).toBe('Parameter "Input Data Field Name": the M4A (AAC) recording in binary field "data" cannot be converted to WAV: the node has no decoder for M4A (AAC) [item 0]');
		expect(sandbox.requests).toHaveLength(0);
	});
});

/** A copy of an Ogg file whose last page carries another granule position (its CRC recomputed). */
function withLastGranule(ogg: Buffer, granule: bigint): Buffer {
	const copy = Buffer.from(ogg);
	let offset = 0;
	let last = 0;
	while (offset < copy.length) {
		last = offset;
		const segments = copy[offset + 26];
		let body = 0;
		for (let i = 0; i < segments; i++) body += copy[offset + 27 + i];
		offset += 27 + segments + body;
	}
	const end = copy.length;
	copy.writeBigInt64LE(granule, last + 6);
	copy.writeUInt32LE(0, last + 22);
	copy.writeUInt32LE(oggCrc(copy.subarray(last, end)), last + 22);
	return copy;
}
