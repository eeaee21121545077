/**
 * Subtitles (docs/reference.md, "Subtitles"): cues timed to the audio, written as SRT or WebVTT in a second
 * binary field of the item.
 *
 * - Speech → Generate and Dialogue speak one piece per cue (splitForCues), so a cue's time is its
 *   piece's place in the joined audio, narrowed to where the piece is not silent (soundBounds).
 * - Audio → Transcribe builds cues from Munsit's word timestamps (cuesFromWords).
 * - Lines are at most Max Characters per Line, cues at most Max Lines per Cue, broken at spaces
 *   into lines of even length. Text stays in logical order (players apply the Unicode bidi
 *   algorithm, each line its own paragraph whose direction is its first strong letter): nothing is
 *   reversed or mirrored, and the only mark ever added is one RIGHT-TO-LEFT MARK (U+200F) at the
 *   start of a line that holds Arabic but begins with a Latin word (`n8n يساعدك…`), which would
 *   otherwise be laid out left to right with its final full stop on the wrong side.
 */
import type { IBinaryData, IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import type { ParameterValidator } from '../validate';
import { characterCount, visibleText } from './split';

export type SubtitleFormat = 'srt' | 'vtt';

export interface SubtitleSettings {
	format: SubtitleFormat;
	maxLineChars: number;
	maxLines: number;
	field: string;
}

export interface Cue {
	/** Seconds. */
	start: number;
	end: number;
	text: string;
	/** A speaker's name (dialogue) or label (diarization). */
	speaker?: string;
}

export const DEFAULT_LINE_CHARS = 42;
export const DEFAULT_LINES = 2;
export const MIN_LINE_CHARS = 10;
export const SUBTITLE_FORMATS: Record<SubtitleFormat, { mimeType: string; extension: string }> = {
	srt: { mimeType: 'application/x-subrip', extension: 'srt' },
	vtt: { mimeType: 'text/vtt', extension: 'vtt' },
};
const RLM = '\u200f';

/** Subtitles, line length, lines per cue and the output field; `what` says what the cues follow. */
export function subtitleProperties(what: string): INodeProperties[] {
	const shown = { show: { subtitles: ['srt', 'vtt'] } };
	return [
		{
			displayName: 'Subtitles',
			name: 'subtitles',
			type: 'options',
			options: [
				{ name: 'None', value: 'none' },
				{ name: 'SRT', value: 'srt', description: 'SubRip (.srt): YouTube, Facebook, LinkedIn, video editors, VLC' },
				{ name: 'WebVTT', value: 'vtt', description: 'WebVTT (.vtt): web players (the HTML track element), Vimeo, HLS' },
			],
			default: 'none',
			description: `Whether to add a subtitle file as a second binary field: ${what}`,
		},
		{
			displayName: 'Max Characters per Line',
			name: 'subtitleLineChars',
			type: 'number',
			typeOptions: { minValue: MIN_LINE_CHARS, maxValue: 100, numberPrecision: 0 },
			default: DEFAULT_LINE_CHARS,
			description: 'Longest subtitle line, in characters (42 is the common rule for video)',
			displayOptions: shown,
		},
		{
			displayName: 'Max Lines per Cue',
			name: 'subtitleLines',
			type: 'number',
			typeOptions: { minValue: 1, maxValue: 3, numberPrecision: 0 },
			default: DEFAULT_LINES,
			description: 'Lines on screen at once',
			displayOptions: shown,
		},
		{
			displayName: 'Put Subtitles in Field',
			name: 'subtitleBinaryPropertyName',
			type: 'string',
			default: 'subtitles',
			hint: 'The name of the output binary field to put the subtitle file in',
			displayOptions: shown,
		},
	];
}

/**
 * The item's subtitle settings, checked before any request; undefined for None. `audioField`: the
 * binary field the audio goes to on the same item, which the subtitles must not replace.
 */
export function readSubtitles(this: IExecuteFunctions, check: ParameterValidator, itemIndex: number, audioField?: string): SubtitleSettings | undefined {
	const format = this.getNodeParameter('subtitles', itemIndex, 'none') as string;
	if (format === 'none') return undefined;
	if (format !== 'srt' && format !== 'vtt') throw check.fail('Subtitles', `must be None, SRT or WebVTT, got ${JSON.stringify(format)}`);
	const whole = (label: string, value: unknown, min: number, max: number) => {
		const number = check.numberInRange(label, value, min, max);
		if (!Number.isInteger(number)) throw check.fail(label, `must be a whole number, got ${number}`);
		return number;
	};
	const maxLineChars = whole('Max Characters per Line', this.getNodeParameter('subtitleLineChars', itemIndex, DEFAULT_LINE_CHARS), MIN_LINE_CHARS, 100);
	const maxLines = whole('Max Lines per Cue', this.getNodeParameter('subtitleLines', itemIndex, DEFAULT_LINES), 1, 3);
	const field = check.requiredText('Put Subtitles in Field', this.getNodeParameter('subtitleBinaryPropertyName', itemIndex, 'subtitles')).trim();
	if (field === audioField) throw check.fail('Put Subtitles in Field', `must differ from "Put Output File in Field" (both are "${audioField}")`);
	return { format, maxLineChars, maxLines, field };
}

/**
 * Breaks a cue's text into lines of at most `maxLineChars` at spaces, as even as possible (the
 * fewest lines, then the shortest longest line). A word longer than a line stands on its own line.
 */
export function wrapLines(text: string, maxLineChars: number): string[] {
	const words = text.split(/\s+/u).filter((word) => word !== '');
	if (words.length === 0) return [];
	const lengths = words.map(characterCount);
	const lineLength = (from: number, to: number) => lengths.slice(from, to).reduce((sum, length) => sum + length, 0) + (to - from - 1);
	// Fewest lines by greedy filling, then the most even split into that many lines.
	let count = 0;
	for (let at = 0; at < words.length; count++) {
		let end = at + 1;
		while (end < words.length && lineLength(at, end + 1) <= maxLineChars) end++;
		at = end;
	}
	count = Math.max(count, 1);
	if (count > 1 && count <= 3) {
		let best: number[] | undefined;
		let bestLongest = Infinity;
		const search = (from: number, left: number, cuts: number[]) => {
			if (left === 1) {
				const longest = Math.max(lineLength(from, words.length), ...cuts.map((cut, k) => lineLength(k === 0 ? 0 : cuts[k - 1], cut)));
				if (lineLength(from, words.length) <= maxLineChars && longest < bestLongest) {
					bestLongest = longest;
					best = cuts.slice();
				}
				return;
			}
			for (let cut = from + 1; cut <= words.length - left + 1; cut++) {
				if (lineLength(from, cut) > maxLineChars && cut > from + 1) break;
				search(cut, left - 1, [...cuts, cut]);
			}
		};
		search(0, count, []);
		if (best) {
			const cuts = [0, ...best, words.length];
			return cuts.slice(0, -1).map((from, k) => words.slice(from, cuts[k + 1]).join(' '));
		}
	}
	const lines: string[] = [];
	for (let at = 0; at < words.length; ) {
		let end = at + 1;
		while (end < words.length && lineLength(at, end + 1) <= maxLineChars) end++;
		lines.push(words.slice(at, end).join(' '));
		at = end;
	}
	return lines;
}

/** Arabic-script letters (bidi class AL) and Hebrew (R): the right-to-left strong characters. */
const RTL_LETTER = /[\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]/u;
const LTR_LETTER = /[A-Za-z\u00c0-\u024f]/u;

/**
 * The line as written, with a RIGHT-TO-LEFT MARK first only when it holds right-to-left letters
 * but its first strong letter is left-to-right (see the file comment).
 */
export function rtlLine(line: string): string {
	if (!RTL_LETTER.test(line)) return line;
	for (const character of line) {
		if (RTL_LETTER.test(character)) return line;
		if (LTR_LETTER.test(character)) return `${RLM}${line}`;
	}
	return line;
}

/** `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT). */
export function timestamp(seconds: number, format: SubtitleFormat): string {
	const ms = Math.max(0, Math.round(seconds * 1000));
	const pad = (value: number, width = 2) => String(value).padStart(width, '0');
	const text = `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}`;
	return `${text}${format === 'srt' ? ',' : '.'}${pad(ms % 1000, 3)}`;
}

/**
 * The subtitle file. SRT: numbered cues, CRLF line ends (SubRip's own), a speaker as a first-line
 * prefix `Name: `. WebVTT: the `WEBVTT` header, LF, a speaker as a voice span `<v Name>` (players
 * style it; most do not show it), `&`, `<` and `>` escaped. UTF-8 without a byte order mark.
 */
export function renderSubtitles(cues: Cue[], settings: Pick<SubtitleSettings, 'format' | 'maxLineChars' | 'maxLines'>, showSpeakerInSrt = false): string {
	const { format } = settings;
	const blocks: string[] = [];
	for (const cue of cues) {
		const prefix = format === 'srt' && showSpeakerInSrt && cue.speaker ? `${cue.speaker}: ` : '';
		const lines = wrapLines(`${prefix}${cue.text}`, settings.maxLineChars).map(rtlLine);
		if (lines.length === 0) continue;
		const times = `${timestamp(cue.start, format)} --> ${timestamp(Math.max(cue.end, cue.start + 0.001), format)}`;
		if (format === 'srt') {
			blocks.push([String(blocks.length + 1), times, ...lines].join('\r\n'));
		} else {
			const escaped = lines.map(escapeVtt);
			if (cue.speaker) escaped[0] = `<v ${escapeVtt(cue.speaker).replace(/\s+/gu, ' ')}>${escaped[0]}`;
			blocks.push([times, ...escaped].join('\n'));
		}
	}
	if (format === 'srt') return blocks.length > 0 ? `${blocks.join('\r\n\r\n')}\r\n` : '';
	return `WEBVTT\n\n${blocks.join('\n\n')}${blocks.length > 0 ? '\n' : ''}`;
}

function escapeVtt(text: string): string {
	return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Writes the file to n8n's binary store: `fileBase` with the format's extension. */
export async function subtitleBinary(context: IExecuteFunctions, text: string, format: SubtitleFormat, fileBase: string): Promise<IBinaryData> {
	const { mimeType, extension } = SUBTITLE_FORMATS[format];
	const base = fileBase.replace(/\.[A-Za-z0-9]{1,5}$/u, '');
	return await context.helpers.prepareBinaryData(Buffer.from(text, 'utf8'), `${base}.${extension}`, mimeType);
}

/** What the item's JSON says about its subtitles. */
export function describeSubtitles(settings: SubtitleSettings, cues: Cue[]): IDataObject {
	return { format: settings.format, field: settings.field, cues: cues.length };
}

/**
 * The first and last sample of `pcm` (16-bit mono) where sound is heard: the first and last 10 ms
 * window whose level is within 40 dB of the piece's loudest window and above −60 dBFS. Undefined
 * for silence.
 */
export function soundBounds(pcm: Buffer, sampleRate: number): { first: number; last: number } | undefined {
	const samples = pcm.length >> 1;
	const window = Math.max(1, Math.round(sampleRate / 100));
	const windows = Math.ceil(samples / window);
	const power = new Float64Array(windows);
	let loudest = 0;
	for (let w = 0; w < windows; w++) {
		let sum = 0;
		const end = Math.min(samples, (w + 1) * window);
		for (let i = w * window; i < end; i++) {
			const value = pcm.readInt16LE(i * 2) / 32768;
			sum += value * value;
		}
		power[w] = sum / (end - w * window);
		if (power[w] > loudest) loudest = power[w];
	}
	const threshold = Math.max(1e-6, loudest * 1e-4);
	let first = -1;
	let last = -1;
	for (let w = 0; w < windows; w++) {
		if (power[w] < threshold) continue;
		if (first < 0) first = w;
		last = w;
	}
	if (first < 0) return undefined;
	// Within the windows, the first and last samples above the threshold's amplitude.
	const amplitude = Math.sqrt(threshold) * 32768;
	let start = first * window;
	while (start < Math.min(samples, (first + 1) * window) - 1 && Math.abs(pcm.readInt16LE(start * 2)) < amplitude) start++;
	let end = Math.min(samples, (last + 1) * window) - 1;
	while (end > last * window && Math.abs(pcm.readInt16LE(end * 2)) < amplitude) end--;
	return { first: start, last: end };
}

export interface TimedWord {
	word: string;
	start: number;
	end: number;
	speaker?: string;
}

const SENTENCE_END = /[.!?؟…]["'»”’)\]]*$/u;
const CLAUSE_END = /[،,;؛:]["'»”’)\]]*$/u;
/** A pause this long between two words starts a new cue. */
const CUE_GAP_SECONDS = 0.6;
/** A cue this long ends at its next word. */
const CUE_MAX_SECONDS = 7;

/**
 * Cues from timed words (a transcript's timestamps): a new cue after a sentence's end, at a
 * clause once the cue holds half its characters, at a pause of CUE_GAP_SECONDS, when the speaker
 * changes, when the next word would not fit in the cue's lines, or after CUE_MAX_SECONDS. Each
 * cue runs from its first word's start to its last word's end.
 */
export function cuesFromWords(words: TimedWord[], settings: Pick<SubtitleSettings, 'maxLineChars' | 'maxLines'>): Cue[] {
	const budget = settings.maxLineChars * settings.maxLines;
	const cues: Cue[] = [];
	let current: TimedWord[] = [];
	const close = () => {
		if (current.length === 0) return;
		cues.push({
			start: current[0].start,
			end: current[current.length - 1].end,
			text: current.map((word) => word.word).join(' '),
			...(current[0].speaker !== undefined ? { speaker: current[0].speaker } : {}),
		});
		current = [];
	};
	for (const word of words) {
		if (word.word.trim() === '') continue;
		const previous = current[current.length - 1];
		if (previous) {
			const text = current.map((entry) => entry.word).join(' ');
			const length = characterCount(text);
			const grown = length + 1 + characterCount(word.word);
			const fits = grown <= budget && wrapLines(`${text} ${word.word}`, settings.maxLineChars).length <= settings.maxLines;
			if (
				!fits ||
				SENTENCE_END.test(previous.word) ||
				(CLAUSE_END.test(previous.word) && length >= budget / 2) ||
				word.start - previous.end >= CUE_GAP_SECONDS ||
				word.speaker !== previous.speaker ||
				word.end - current[0].start > CUE_MAX_SECONDS
			) {
				close();
			}
		}
		current.push(word);
	}
	close();
	return cues;
}

/**
 * The cue of one piece: where its sound is, in seconds of the joined file (`position` bytes were
 * written before it, `pauseBytes` of them its leading pause), and the words it says.
 */
export function cueOf(pcm: Buffer, rate: number, position: number, pauseBytes: number, text: string, speaker?: string): Cue[] {
	const bounds = soundBounds(pcm.subarray(pauseBytes), rate);
	const words = visibleText(text);
	if (!bounds || words === '') return [];
	const first = (position + pauseBytes) / 2;
	return [{ start: (first + bounds.first) / rate, end: (first + bounds.last + 1) / rate, text: words, ...(speaker ? { speaker } : {}) }];
}
