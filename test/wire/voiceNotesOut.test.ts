/**
 * Voice notes out (issue 24): Speech → Generate's WhatsApp and Telegram Voice Note presets, in
 * n8n's real engine against the sandbox; ffprobe (Debian's ffmpeg) reads every note written.
 */
import { NodeOperationError } from 'n8n-workflow';
import type { INodeExecutionData, INodeParameters } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { WHATSAPP_VOICE_LIMIT_BYTES } from '../../nodes/shared/speech/voiceNote';
import { cleanupHarness } from '../harness/n8nHarness';
import type { NodeRunResult } from '../harness/n8nHarness';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { requestsTo, runAgainst, startSandbox, wavRecording } from '../helpers/faseeh';
import { ffprobe } from '../helpers/voiceNotes';

let sandbox: FaseehSandbox;
beforeAll(async () => {
	sandbox = await startSandbox();
});
afterEach(() => sandbox.reset());
afterAll(async () => {
	await sandbox.stop();
	await cleanupHarness();
});

/** Sentences of about 36 characters; the sandbox speaks 0.3 s + 0.02 s a character, at most 5 s a request. */
function sentences(count: number): string {
	return Array.from({ length: count }, (_, i) => `هذه هي الجملة رقم ${i + 1} من رسالة صوتية طويلة.`).join(' ');
}
/** Pieces of at most 240 characters: about 4.7 s of sandbox speech each. */
const speak = (text: string, extra: INodeParameters = {}): INodeParameters => ({
	resource: 'speech',
	operation: 'generate',
	voiceId: { mode: 'id', value: 'ar-najdi-male-2' },
	text,
	model: 'faseeh-v1-preview',
	stability: 0.5,
	outputFormat: 'whatsappVoice',
	...extra,
	options: { maxCharacters: 240, ...((extra.options as object) ?? {}) },
});

async function expectWhatsAppNote(result: NodeRunResult, item: INodeExecutionData): Promise<void> {
	const file = await result.binaryBuffer(item, 'data');
	expect(file.length).toBe(item.json.fileSize);
	expect(file.length).toBeLessThanOrEqual(WHATSAPP_VOICE_LIMIT_BYTES);
	const probe = ffprobe(file);
	expect(probe).toMatchObject({ codec: 'opus', channels: 1, formatName: 'ogg' });
	expect(probe.durationSeconds).toBeCloseTo(item.json.durationSeconds as number, 0);
	expect(item.json).toMatchObject({ format: 'whatsappVoice', mimeType: 'audio/ogg', sampleRate: 16000, showsAsVoiceNote: true, voiceNoteLimitBytes: WHATSAPP_VOICE_LIMIT_BYTES });
	expect(item.json.bitRateKbps).toBeGreaterThanOrEqual(16);
	expect(item.json.bitRateKbps).toBeLessThanOrEqual(32);
	expect(item.pairedItem).toEqual({ item: 0 });
}

describe('WhatsApp Voice Note', () => {
	it('three minutes of speech make one note of at most 512 KB that ffprobe reads as mono Opus', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), speak(sentences(230), { voiceNoteOverflow: 'split' }), [{ json: {} }]);
		expect(result.error).toBeUndefined();
		expect(result.items).toHaveLength(1);
		const [item] = result.items;
		expect(item.json.durationSeconds).toBeGreaterThan(170);
		expect(item.json.durationSeconds).toBeLessThan(240);
		await expectWhatsAppNote(result, item);
		// The bit rate is the highest that fits (not the lowest allowed): 3 minutes fit at about 22 kbps.
		expect(item.json.bitRateKbps).toBeGreaterThan(16);
		expect(item.json).toMatchObject({ note: 1, notes: 1, fileName: 'faseeh-speech-ar-najdi-male-2-1.ogg' });
	}, 120_000);

	it('fifteen minutes in split mode make several notes, each at most 512 KB, covering the text in order', async () => {
		const text = sentences(1150);
		const result = await runAgainst(sandbox, new Faseeh(), speak(text, { voiceNoteOverflow: 'split', options: { concurrency: 1 } }), [{ json: {} }]);
		expect(result.error).toBeUndefined();
		const notes = result.items;
		expect(notes.length).toBeGreaterThanOrEqual(4);
		const total = notes.reduce((sum, note) => sum + (note.json.durationSeconds as number), 0);
		expect(total).toBeGreaterThan(14 * 60);
		for (const [index, note] of notes.entries()) {
			await expectWhatsAppNote(result, note);
			expect(note.json).toMatchObject({ note: index + 1, notes: notes.length, fileName: `faseeh-speech-ar-najdi-male-2-${index + 1}.ogg` });
		}
		// In order, nothing left out or repeated: the notes' texts together are the text.
		expect(notes.map((note) => note.json.text).join(' ')).toBe(text);
		// Each piece was spoken once.
		const pieces = notes.reduce((sum, note) => sum + (note.json.pieces as number), 0);
		expect(requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview')).toHaveLength(pieces);
	}, 300_000);

	it('Fail refuses, before any request, a text that cannot fit one note, naming its length', async () => {
		const text = sentences(400); // 14,000 characters: at least 9 minutes of speech however fast
		const result = await runAgainst(sandbox, new Faseeh(), speak(text), [{ json: {} }]);
		expect(result.error).toBeInstanceOf(NodeOperationError);
		expect(result.error?.message).toMatch(/^Parameter "Output Format" is WhatsApp Voice Note, but the text \([\d,]+ characters\) is at least \d+ min( \d+ s)? of speech; one WhatsApp voice note holds at most 4 min \d+ s at 16 kbps \(512 KB\) \[item 0\]$/);
		expect(sandbox.requests).toHaveLength(0);
		// A lower floor holds more: 8 kbps, about 8 minutes.
		const lower = await runAgainst(sandbox, new Faseeh(), speak(text, { voiceNoteLowestBitRate: 8 }), [{ json: {} }]);
		expect(lower.error?.message).toMatch(/holds at most 7 min \d+ s at 8 kbps/);
	});

	it('a File Name whose last dot is not an audio extension keeps it (issue 22.5): note-2026.12.07 → note-2026.12.07.ogg', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), speak(sentences(2), { outputFormat: 'whatsappVoice', options: { fileName: 'note-2026.12.07' } }), [{ json: {} }]);
		expect(result.error).toBeUndefined();
		expect(result.items[0].json).toMatchObject({ fileName: 'note-2026.12.07.ogg' });
		expect(result.items[0].binary?.data).toMatchObject({ fileName: 'note-2026.12.07.ogg' });
	});

	it('Voice → Preview gives the preview as a WhatsApp note', async () => {
		const result = await runAgainst(
			sandbox,
			new Faseeh(),
			{ resource: 'voice', operation: 'preview', text: 'مرحبا بك في فصيح، كيف يمكنني مساعدتك؟', similarity: 0.75, model: 'faseeh-v1-preview', outputFormat: 'whatsappVoice' },
			[{ json: {}, binary: { data: { data: wavRecording(2, 220), fileName: 'me.wav', mimeType: 'audio/wav' } } }],
		);
		expect(result.error).toBeUndefined();
		const file = await result.binaryBuffer(result.items[0], 'voice_file');
		expect(ffprobe(file)).toMatchObject({ codec: 'opus', channels: 1 });
		expect(result.items[0].json).toMatchObject({ format: 'whatsappVoice', showsAsVoiceNote: true, fileName: 'me-preview.ogg', bitRateKbps: 32 });
	});
});

describe('Telegram Voice Note', () => {
	it('is mono Opus at 24 kHz and 32 kbps, and says where Telegram shows it as a voice message', async () => {
		// A File Name whose last dot is not an audio extension keeps it (issue 22.5; the notes had their own rule).
		const result = await runAgainst(sandbox, new Faseeh(), speak(sentences(12), { outputFormat: 'telegramVoice', options: { fileName: 'answer-2026.12.07' } }), [{ json: {} }]);
		expect(result.error).toBeUndefined();
		expect(result.items).toHaveLength(1);
		const [item] = result.items;
		const file = await result.binaryBuffer(item, 'data');
		expect(ffprobe(file)).toMatchObject({ codec: 'opus', channels: 1, formatName: 'ogg' });
		expect(item.json).toMatchObject({
			format: 'telegramVoice',
			fileName: 'answer-2026.12.07.ogg',
			mimeType: 'audio/ogg',
			sampleRate: 24000,
			bitRateKbps: 32,
			fileSize: file.length,
			showsAsVoiceNote: true,
			showsAsVoiceNoteByUrl: true,
			voiceNoteLimitBytes: 50_000_000,
		});
	});
});
