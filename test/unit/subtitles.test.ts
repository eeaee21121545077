/**
 * Subtitle files (nodes/shared/speech/subtitles.ts) read back by independent parsers (`subtitle`
 * for SRT, the W3C-derived `webvtt-parser` for WebVTT), line breaking, right-to-left lines, cues
 * from timed words, and the cue splitter (nodes/shared/speech/split.ts splitForCues).
 */
import { parseSync } from 'subtitle';
import { WebVTTParser } from 'webvtt-parser';

import { meetsMinimum, splitForCues, visibleText } from '../../nodes/shared/speech/split';
import { cuesFromWords, renderSubtitles, rtlLine, soundBounds, timestamp, wrapLines } from '../../nodes/shared/speech/subtitles';
import type { Cue } from '../../nodes/shared/speech/subtitles';
import { longArabicText } from '../helpers/longText';
import { makePcm16 } from '../sandbox/audio';

const RLM = '\u200f';
/** Bidi controls players may draw as boxes: embeddings, overrides, isolates, the Arabic letter mark. */
const OTHER_BIDI_CONTROLS = /[\u061c\u200e\u202a-\u202e\u2066-\u2069]/u;

const CUES: Cue[] = [
	{ start: 0.25, end: 2.5, text: 'أهلا بكم في حلقة اليوم من بودكاست فصيح، حيث نتحدث عن الأتمتة.' },
	{ start: 3, end: 5.125, text: 'n8n يساعدك على ربط التطبيقات دون كتابة الكثير من الشيفرة.', speaker: 'Layla' },
	{ start: 3661.5, end: 3662.004, text: 'سؤال: هل ٣ < ٥ & ٥ > ٣؟', speaker: 'Ahmad' },
];

describe('subtitle files', () => {
	it('SRT parses (subtitle) with the cues’ times and lines, CRLF, lines within 42 characters and 2 lines', () => {
		const srt = renderSubtitles(CUES, { format: 'srt', maxLineChars: 42, maxLines: 2 });
		expect(srt).toMatch(/^1\r\n00:00:00,250 --> 00:00:02,500\r\n/);
		const parsed = parseSync(srt).filter((node) => node.type === 'cue');
		expect(parsed.map((node) => [node.data.start, node.data.end])).toEqual([
			[250, 2500],
			[3000, 5125],
			[3661500, 3662004],
		]);
		parsed.forEach((node, i) => {
			const lines = String(node.data.text).split(/\r?\n/);
			expect(lines.length).toBeLessThanOrEqual(2);
			for (const line of lines) expect([...line.replace(RLM, '')].length).toBeLessThanOrEqual(42);
			expect(lines.join(' ').replace(RLM, '')).toBe(CUES[i].text);
		});
		expect(srt).not.toMatch(OTHER_BIDI_CONTROLS);
	});

	it('WebVTT parses (webvtt-parser, no errors): voice spans for speakers, &, < and > escaped', () => {
		const vtt = renderSubtitles(CUES, { format: 'vtt', maxLineChars: 42, maxLines: 2 });
		expect(vtt.startsWith('WEBVTT\n\n')).toBe(true);
		const parsed = new WebVTTParser().parse(vtt, 'metadata');
		expect(parsed.errors).toEqual([]);
		expect(parsed.cues.map((cue) => [cue.startTime, cue.endTime])).toEqual([
			[0.25, 2.5],
			[3, 5.125],
			[3661.5, 3662.004],
		]);
		const voices = parsed.cues.map((cue) => cue.tree.children.find((child) => child.name === 'v')?.value);
		expect(voices).toEqual([undefined, 'Layla', 'Ahmad']);
		expect(vtt).toContain('٣ &lt; ٥ &amp; ٥ &gt; ٣؟');
	});

	it('SRT names speakers as a first-line prefix when asked (diarization)', () => {
		const srt = renderSubtitles([CUES[1]], { format: 'srt', maxLineChars: 42, maxLines: 2 }, true);
		const [cue] = parseSync(srt).filter((node) => node.type === 'cue');
		expect(String(cue.data.text).replace(RLM, '').startsWith('Layla: n8n')).toBe(true);
	});

	it('right to left: Arabic lines as written; an RLM only where a line with Arabic starts with a Latin word', () => {
		expect(rtlLine('مرحبا بكم.')).toBe('مرحبا بكم.');
		expect(rtlLine('٢٠٢٤ عام جديد.')).toBe('٢٠٢٤ عام جديد.');
		expect(rtlLine('"فصيح" منصة رائعة.')).toBe('"فصيح" منصة رائعة.');
		expect(rtlLine('n8n يساعدك.')).toBe(`${RLM}n8n يساعدك.`);
		expect(rtlLine('SPEAKER_00: مرحبا.')).toBe(`${RLM}SPEAKER_00: مرحبا.`);
		expect(rtlLine('Hello, world.')).toBe('Hello, world.');
		// Nothing is reversed or mirrored: the file holds the text in its logical order.
		const srt = renderSubtitles([{ start: 0, end: 1, text: 'هل أنت بخير؟ (نعم)' }], { format: 'srt', maxLineChars: 42, maxLines: 2 });
		expect(srt).toContain('هل أنت بخير؟ (نعم)');
	});

	it('lines are broken at spaces, evenly, within the limit; a word longer than a line stands alone', () => {
		const text = 'هذا النص طويل بما يكفي ليحتاج إلى سطرين متوازنين في الترجمة';
		const lines = wrapLines(text, 42);
		expect(lines).toHaveLength(2);
		expect(lines.join(' ')).toBe(text);
		for (const line of lines) expect([...line].length).toBeLessThanOrEqual(42);
		expect(Math.abs([...lines[0]].length - [...lines[1]].length)).toBeLessThanOrEqual(8);
		expect(wrapLines('قصير', 42)).toEqual(['قصير']);
		expect(wrapLines('https://example.com/a/very/long/address/indeed كلمة', 20)).toEqual(['https://example.com/a/very/long/address/indeed', 'كلمة']);
	});

	it('timestamps: hours, minutes, seconds and milliseconds in each format', () => {
		expect(timestamp(3723.0456, 'srt')).toBe('01:02:03,046');
		expect(timestamp(0.9994, 'vtt')).toBe('00:00:00.999');
	});
});

describe('cues from timed words (transcripts)', () => {
	const word = (text: string, start: number, end: number, speaker?: string) => ({ word: text, start, end, ...(speaker ? { speaker } : {}) });

	it('a new cue after a sentence end, at a pause, at a speaker change, and when the lines are full', () => {
		const words = [
			word('مرحبا', 0, 0.4),
			word('بكم.', 0.4, 0.8),
			word('اليوم', 0.9, 1.2),
			word('نتحدث', 1.2, 1.5),
			// A pause of 1 s.
			word('عن', 2.5, 2.7),
			word('الأتمتة', 2.7, 3.2),
			word('نعم', 3.3, 3.6, 'SPEAKER_01'),
		];
		const cues = cuesFromWords(words, { maxLineChars: 42, maxLines: 2 });
		expect(cues.map((cue) => [cue.text, cue.start, cue.end])).toEqual([
			['مرحبا بكم.', 0, 0.8],
			['اليوم نتحدث', 0.9, 1.5],
			['عن الأتمتة', 2.5, 3.2],
			['نعم', 3.3, 3.6],
		]);
		expect(cues[3].speaker).toBe('SPEAKER_01');
		const many = Array.from({ length: 40 }, (_u, i) => word('كلمة', i * 0.1, i * 0.1 + 0.09));
		for (const cue of cuesFromWords(many, { maxLineChars: 10, maxLines: 1 })) expect([...cue.text].length).toBeLessThanOrEqual(10);
	});
});

describe('splitForCues', () => {
	it.each([1, 2, 3, 4])('seed %i: every piece is one cue\'s worth of a sentence, the words in order, Faseeh\'s minimum kept', (seed) => {
		const text = longArabicText(1500, seed);
		const pieces = splitForCues(text, 84, 1000);
		const words = (value: string) => visibleText(value).split(' ').filter(Boolean);
		expect(pieces.flatMap(words)).toEqual(words(text));
		for (const piece of pieces) {
			expect([...visibleText(piece)].length).toBeLessThanOrEqual(84);
			expect(meetsMinimum(piece)).toBe(true);
		}
	});

	it('sentences are not joined unless one is too short to be a request', () => {
		const pieces = splitForCues('أهلا بكم في حلقة اليوم. نعم. هذا النص قصير أيضا. وهذه جملة ثالثة هنا.', 84, 1000);
		expect(pieces).toEqual(['أهلا بكم في حلقة اليوم. نعم.', 'هذا النص قصير أيضا.', 'وهذه جملة ثالثة هنا.']);
	});
});

describe('soundBounds', () => {
	it('finds where a piece is heard, within a millisecond, and nothing in silence', () => {
		const pcm = Buffer.concat([Buffer.alloc(2400 * 2), makePcm16(1, 24000, 300), Buffer.alloc(1200 * 2)]);
		const bounds = soundBounds(pcm, 24000);
		expect(bounds).toBeDefined();
		expect(Math.abs((bounds?.first ?? 0) - 2400)).toBeLessThanOrEqual(24);
		expect(Math.abs((bounds?.last ?? 0) - (2400 + 24000 - 1))).toBeLessThanOrEqual(24);
		expect(soundBounds(Buffer.alloc(4800), 24000)).toBeUndefined();
	});
});
