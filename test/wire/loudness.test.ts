/**
 * Loudness normalisation (issue 25.2) in n8n's real engine against the sandbox, whose voices speak
 * at different levels (test/sandbox/catalog.ts VOICE_LEVELS: plain, 20 dB quieter, and quiet with
 * consonant-like peaks near full scale). Every file is measured by an independent meter, Debian's
 * ffmpeg (`ebur128`, installed when missing): integrated loudness within ±1 LU of the target,
 * true peak at most −1 dBTP; in a dialogue every turn, measured alone, within ±1 LU too.
 */
import type { IDataObject, INodeParameters } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { cleanupHarness } from '../harness/n8nHarness';
import { requestsTo, runAgainst, startSandbox, wavRecording } from '../helpers/faseeh';
import { ensureFfmpeg, ffmpegLoudness } from '../helpers/ffmpeg';
import { longArabicText } from '../helpers/longText';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';

const MODEL = 'faseeh-mini-v1-preview';
const PLAIN = 'ar-najdi-male-2';
const QUIET = 'ar-hijazi-female-2';
const SPIKY = 'ar-uae-male-1';

let sandbox: FaseehSandbox;
beforeAll(async () => {
	ensureFfmpeg();
	sandbox = await startSandbox();
}, 20 * 60_000);
afterEach(() => sandbox.reset());
afterAll(async () => {
	await sandbox.stop();
	await cleanupHarness();
});

const speech = (voice: string, text: string, extra: INodeParameters = {}, options: INodeParameters = {}): INodeParameters => ({
	resource: 'speech',
	operation: 'generate',
	voiceId: { __rl: true, mode: 'id', value: voice },
	text,
	model: MODEL,
	stability: 0.5,
	...extra,
	options,
});

function expectLoudness(file: Buffer, extension: string, target: number, options: { from?: number; to?: number } = {}) {
	const measured = ffmpegLoudness(file, extension, options);
	expect({ ...options, integratedWithin1Lu: Math.abs(measured.integrated - target) <= 1, truePeakAtMost1: measured.truePeak <= -1 }).toEqual({
		...options,
		integratedWithin1Lu: true,
		truePeakAtMost1: true,
	});
	return measured;
}

describe('Loudness', () => {
	it('Dialogue as a podcast MP3: three voices at levels 20 dB apart all end at −16 LUFS, true peak ≤ −1 dBTP', async () => {
		const turns = [
			{ voice_id: PLAIN, text: longArabicText(160, 1) },
			{ voice_id: QUIET, text: longArabicText(160, 2) },
			{ voice_id: SPIKY, text: longArabicText(160, 3) },
			{ voice_id: QUIET, text: longArabicText(120, 4) },
		];
		const parameters: INodeParameters = {
			resource: 'speech',
			operation: 'generateDialogue',
			turnsInput: 'json',
			turnsJson: JSON.stringify(turns),
			model: MODEL,
			stability: 0.5,
			outputFormat: 'mp3',
			mp3BitRate: 64,
			loudness: 'podcast',
			options: {},
		};
		const result = await runAgainst(sandbox, new Faseeh(), parameters, [{ json: {} }]);
		expect(result.error).toBeUndefined();
		const { json } = result.items[0];
		const mp3 = await result.binaryBuffer(result.items[0], 'data');
		expectLoudness(mp3, 'mp3', -16);
		// Each turn alone, from its times in the JSON (its first 100 ms left out: a block may straddle the pause).
		for (const turn of json.turns as Array<{ start: number; end: number }>) expectLoudness(mp3, 'mp3', -16, { from: turn.start + 0.1, to: turn.end });
		expect(json.loudness).toMatchObject({ mode: 'podcast', targetLufs: -16, truePeakCeilingDbtp: -1 });
		expect(Math.abs(((json.loudness as IDataObject).integratedLufs as number) + 16)).toBeLessThan(0.5);
	});

	it('Dialogue as WAV: the same length and turn times as without normalisation; only the levels change', async () => {
		const turns = [
			{ voice_id: PLAIN, text: 'أهلا بكم في حلقة اليوم من بودكاست فصيح.' },
			{ voice_id: QUIET, text: 'يسعدني أن أكون معكم، شكرا على الدعوة.' },
		];
		const run = async (loudness: string) => {
			const parameters: INodeParameters = { resource: 'speech', operation: 'generateDialogue', turnsInput: 'json', turnsJson: JSON.stringify(turns), model: MODEL, stability: 0.5, loudness, options: {} };
			const result = await runAgainst(sandbox, new Faseeh(), parameters, [{ json: {} }]);
			expect(result.error).toBeUndefined();
			return { json: result.items[0].json, wav: await result.binaryBuffer(result.items[0], 'data') };
		};
		const off = await run('off');
		const broadcast = await run('broadcast');
		expect(broadcast.wav.length).toBe(off.wav.length);
		expect(broadcast.json.turns).toEqual(off.json.turns);
		expect(broadcast.wav.equals(off.wav)).toBe(false);
		expectLoudness(broadcast.wav, 'wav', -23);
		const [first, second] = broadcast.json.turns as Array<{ start: number; end: number }>;
		const a = expectLoudness(broadcast.wav, 'wav', -23, { from: first.start, to: first.end });
		const b = expectLoudness(broadcast.wav, 'wav', -23, { from: second.start, to: second.end });
		// Before, 20 LU apart; after, within 1 LU of each other.
		const offA = ffmpegLoudness(off.wav, 'wav', { from: first.start, to: first.end });
		const offB = ffmpegLoudness(off.wav, 'wav', { from: second.start, to: second.end });
		expect(offA.integrated - offB.integrated).toBeGreaterThan(15);
		expect(Math.abs(a.integrated - b.integrated)).toBeLessThanOrEqual(1);
	});

	it('Speech → Generate, a long text in the spiky voice: Podcast WAV limited to −1 dBTP (its peaks stood 19 dB above its loudness), Broadcast WAV at −23', async () => {
		const text = longArabicText(3000, 11);
		for (const [loudness, target] of [['podcast', -16], ['broadcast', -23]] as const) {
			const result = await runAgainst(sandbox, new Faseeh(), speech(SPIKY, text, { loudness }), [{ json: {} }]);
			expect(result.error).toBeUndefined();
			expect(result.items[0].json.pieces).toBeGreaterThan(2);
			const measured = expectLoudness(await result.binaryBuffer(result.items[0], 'data'), 'wav', target);
			if (loudness === 'podcast') expect(measured.truePeak - measured.integrated).toBeLessThan(15.1);
			expect(result.items[0].json.loudness).toMatchObject({ mode: loudness, targetLufs: target });
		}
	});

	it('Speech → Generate, a short text, Custom −14 LUFS as OGG/Opus 48 kbps and Podcast as raw PCM', async () => {
		const text = longArabicText(200, 12);
		const ogg = await runAgainst(sandbox, new Faseeh(), speech(SPIKY, text, { loudness: 'custom', loudnessTarget: -14, outputFormat: 'oggOpus', opusBitRate: 48 }), [{ json: {} }]);
		expect(ogg.error).toBeUndefined();
		expectLoudness(await ogg.binaryBuffer(ogg.items[0], 'data'), 'ogg', -14);
		const pcm = await runAgainst(sandbox, new Faseeh(), speech(QUIET, text, { loudness: 'podcast', outputFormat: 'pcm' }), [{ json: {} }]);
		expect(pcm.error).toBeUndefined();
		expectLoudness(await pcm.binaryBuffer(pcm.items[0], 'data'), 'pcm', -16);
	});

	it('Speech → Generate as a WhatsApp Voice Note at Podcast loudness: the note measures −16 ± 1 LUFS, true peak ≤ −1 dBTP', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), speech(QUIET, longArabicText(300, 13), { loudness: 'podcast', outputFormat: 'whatsappVoice' }), [{ json: {} }]);
		expect(result.error).toBeUndefined();
		expect(result.items).toHaveLength(1);
		expectLoudness(await result.binaryBuffer(result.items[0], 'data'), 'ogg', -16);
		expect(result.items[0].json.loudness).toMatchObject({ mode: 'podcast', targetLufs: -16 });
	});

	it('Voice → Preview as a Podcast MP3 (a voice note for the speaker)', async () => {
		const parameters: INodeParameters = {
			resource: 'voice',
			operation: 'preview',
			binaryPropertyName: 'data',
			text: 'مرحبا بك في فصيح، هذه معاينة صوتك اليوم.',
			similarity: 0.75,
			model: MODEL,
			outputFormat: 'mp3',
			mp3BitRate: 64,
			loudness: 'podcast',
			options: {},
		};
		const result = await runAgainst(sandbox, new Faseeh(), parameters, [{ binary: { data: { data: wavRecording(2, 200), fileName: 'me.wav', mimeType: 'audio/wav' } } }]);
		expect(result.error).toBeUndefined();
		expectLoudness(await result.binaryBuffer(result.items[0], 'voice_file'), 'mp3', -16);
		expect(result.items[0].json.loudness).toMatchObject({ mode: 'podcast' });
	});

	it.each([
		['Generate', speech(PLAIN, 'مرحبا بكم في فصيح اليوم', { loudness: 'custom', loudnessTarget: -41 }), 'Parameter "Target Loudness (LUFS)" must be a number from -40 to -5, got -41 [item 0]'],
		['Generate', speech(PLAIN, 'مرحبا بكم في فصيح اليوم', { loudness: 'custom', loudnessTarget: -4.5 }), 'Parameter "Target Loudness (LUFS)" must be a number from -40 to -5, got -4.5 [item 0]'],
		['Generate', speech(PLAIN, 'مرحبا بكم في فصيح اليوم', { loudness: 'loud' }), 'Parameter "Loudness" must be Off, Podcast, Broadcast or Custom, got "loud" [item 0]'],
		[
			'Dialogue',
			{ resource: 'speech', operation: 'generateDialogue', turnsInput: 'json', turnsJson: '[{"voice_id": "ar-najdi-male-2", "text": "مرحبا بكم جميعا"}]', model: MODEL, stability: 0.5, loudness: 'custom', loudnessTarget: '={{ -50 }}', options: {} },
			'Parameter "Target Loudness (LUFS)" must be a number from -40 to -5, got -50 [item 0]',
		],
	])('%s: a loudness target outside −40…−5 is refused before any request', async (_operation, parameters, message) => {
		const result = await runAgainst(sandbox, new Faseeh(), parameters as INodeParameters, [{ json: {} }]);
		expect(result.error?.message).toBe(message);
		expect(sandbox.requests).toHaveLength(0);
	});

	it('Preview: a loudness target outside the range is refused before the recording is uploaded', async () => {
		const parameters: INodeParameters = { resource: 'voice', operation: 'preview', binaryPropertyName: 'data', text: 'مرحبا بك في فصيح اليوم', similarity: 0.75, model: MODEL, loudness: 'custom', loudnessTarget: 0, options: {} };
		const result = await runAgainst(sandbox, new Faseeh(), parameters, [{ binary: { data: { data: wavRecording(1, 200), fileName: 'me.wav', mimeType: 'audio/wav' } } }]);
		expect(result.error?.message).toBe('Parameter "Target Loudness (LUFS)" must be a number from -40 to -5, got 0 [item 0]');
		expect(requestsTo(sandbox, 'POST', '/voices/preview')).toHaveLength(0);
	});
});
