/**
 * Long speech texts: checking the markup and cutting a text into pieces that one Faseeh request
 * each can carry (README, "Long texts").
 *
 * The only markup Faseeh knows is `<break time="500ms"/>` (a pause). A tag is never cut, and a
 * piece is cut only between words, preferring, in this order:
 *  0. a sentence end (`.` `؟` `?` `!` `؛` `;` `…` followed by a space) or a line break,
 *  1. a clause end (`،` `,` `:` followed by a space),
 *  2. any space (or the edge of a tag written against a word),
 *  3. inside a word, by characters: only for a "word" longer than a whole piece (a URL, a run of
 *     letters without spaces), which no voice can speak as one anyway.
 * Pieces are trimmed, never empty, at most `maxChars` characters (Unicode code points) and
 * MAX_BREAKS_PER_PIECE tags, and each has Faseeh's minimum of 3 words and 10 characters: a short
 * piece is merged into its neighbour, or takes words from the piece before it.
 */

/** A well-formed break tag: double or single quotes, a time in ms or s, a space before `/>` or not. */
export const BREAK_TAG = /<break\s+time\s*=\s*(["'])\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*\1\s*\/>/giu;
/** Break tags per request: the documented markup allows 20 (contract §3.2, client-sourced). */
export const MAX_BREAKS_PER_PIECE = 20;
/** Faseeh refuses a text with fewer than 3 words or 10 characters (contract §2.2). */
export const MIN_WORDS = 3;
export const MIN_CHARACTERS = 10;
/** Below this a piece could not hold a sentence and its tags; splitSpeech refuses smaller limits. */
export const MIN_MAX_CHARS = 50;

type TokenKind = 'tag' | 'space' | 'text';
interface Token {
	kind: TokenKind;
	value: string;
	/** Code points. */
	length: number;
}

const SENTENCE_END = /[.؟?!؛;…]["'»”’)\]]*$/u;
const CLAUSE_END = /[،,:]["'»”’)\]]*$/u;

/**
 * Why the text cannot be spoken, or undefined: empty, only break tags and spaces, a break tag left
 * open or malformed. Faseeh's only markup is <break time="…"/>; any other `<…>` (scraped HTML,
 * "٣ < ٥") is text, sent as it is, as before.
 */
export function validateSpeechText(text: string): string | undefined {
	if (text.trim() === '') return 'is empty';
	const tagStart = /<(?=break\b)/gi;
	let match: RegExpExecArray | null;
	while ((match = tagStart.exec(text)) !== null) {
		const from = match.index;
		const close = text.indexOf('>', from);
		const nextOpen = text.indexOf('<', from + 1);
		if (close < 0 || (nextOpen >= 0 && nextOpen < close)) {
			return `has a tag left open: ${quote(text.slice(from, Math.min(from + 30, nextOpen >= 0 ? nextOpen : text.length)))} (a break is written <break time="500ms"/>)`;
		}
		const tag = text.slice(from, close + 1);
		if (!new RegExp(`^${BREAK_TAG.source}$`, 'iu').test(tag)) {
			return /^<break\b/i.test(tag)
				? `has a malformed break tag ${quote(tag)}: write it as <break time="500ms"/> or <break time="1.5s"/>`
				: `has an unknown tag ${quote(tag)}: the only markup Faseeh knows is <break time="500ms"/>`;
		}
		tagStart.lastIndex = close + 1;
	}
	if (text.replace(BREAK_TAG, '').trim() === '') return 'has no words to speak, only break tags and spaces';
	return undefined;
}

/** Code points of a string (what Faseeh counts, and what pieces are measured in). */
export function characterCount(text: string): number {
	return Array.from(text).length;
}

/** Words and characters outside tags: what Faseeh's minimum is checked against. */
export function meetsMinimum(text: string): boolean {
	const spoken = text.replace(BREAK_TAG, ' ').trim();
	if (spoken === '') return false;
	return spoken.split(/\s+/u).length >= MIN_WORDS && characterCount(spoken) >= MIN_CHARACTERS;
}

/**
 * Cuts `text` into pieces of at most `maxChars` characters (see the file comment). A text that
 * fits is returned as the one piece it is (untrimmed, as it was sent before long texts existed).
 */
export function splitForSpeech(text: string, maxChars: number): string[] {
	if (!Number.isInteger(maxChars) || maxChars < MIN_MAX_CHARS) {
		throw new RangeError(`maxChars must be a whole number of at least ${MIN_MAX_CHARS}, got ${maxChars}`);
	}
	const tokens = tokenize(text);
	if (characterCount(text) <= maxChars && fits(tokens, maxChars)) return text.trim() === '' ? [] : [text];
	const pieces = pack(tokens, 0, maxChars).filter((piece) => piece.some((token) => token.kind !== 'space'));
	return fixShortPieces(pieces, maxChars).map(render);
}

function tokenize(text: string): Token[] {
	const tokens: Token[] = [];
	const push = (kind: TokenKind, value: string) => {
		if (value !== '') tokens.push({ kind, value, length: characterCount(value) });
	};
	let at = 0;
	for (const match of text.matchAll(BREAK_TAG)) {
		pushPlain(text.slice(at, match.index), push);
		push('tag', match[0]);
		at = (match.index ?? 0) + match[0].length;
	}
	pushPlain(text.slice(at), push);
	return tokens;
}

function pushPlain(plain: string, push: (kind: TokenKind, value: string) => void): void {
	for (const match of plain.matchAll(/(\s+)|(\S+)/gu)) push(match[1] ? 'space' : 'text', match[0]);
}

/**
 * The level of the cut before token `i` (lower is better), or undefined where no cut is allowed
 * (inside a word: between two non-space tokens that are not a tag).
 */
function cutLevel(tokens: Token[], i: number): number | undefined {
	const before = tokens[i - 1];
	const after = tokens[i];
	if (!before || !after) return undefined;
	if (before.kind === 'space') {
		if (before.value.includes('\n')) return 0;
		const previous = tokens[i - 2];
		if (previous?.kind === 'text' && SENTENCE_END.test(previous.value)) return 0;
		if (previous?.kind === 'text' && CLAUSE_END.test(previous.value)) return 1;
		return 2;
	}
	if (after.kind === 'space') return undefined; // cut after the space instead
	if (before.kind === 'tag' || after.kind === 'tag') return 2;
	return undefined;
}

/** Greedy packing at one level; a segment too long for a piece is packed at the next level. */
function pack(tokens: Token[], level: number, maxChars: number): Token[][] {
	const segments = level <= 2 ? segmentsAt(tokens, level) : characterChunks(tokens, maxChars);
	const pieces: Token[][] = [];
	let current: Token[] = [];
	for (const segment of segments) {
		const joined = current.concat(segment);
		if (fits(joined, maxChars)) {
			current = joined;
			continue;
		}
		if (current.length > 0) pieces.push(current);
		if (fits(segment, maxChars)) {
			current = segment;
		} else {
			const inner = pack(segment, level + 1, maxChars);
			pieces.push(...inner.slice(0, -1));
			current = inner[inner.length - 1] ?? [];
		}
	}
	if (current.length > 0) pieces.push(current);
	return pieces;
}

function segmentsAt(tokens: Token[], level: number): Token[][] {
	const segments: Token[][] = [];
	let start = 0;
	for (let i = 1; i < tokens.length; i++) {
		const cut = cutLevel(tokens, i);
		if (cut !== undefined && cut <= level) {
			segments.push(tokens.slice(start, i));
			start = i;
		}
	}
	segments.push(tokens.slice(start));
	return segments;
}

/** Last resort: one word longer than a piece, cut into runs of maxChars code points. */
function characterChunks(tokens: Token[], maxChars: number): Token[][] {
	const chunks: Token[][] = [];
	for (const token of tokens) {
		if (token.kind !== 'text' || token.length <= maxChars) {
			chunks.push([token]);
			continue;
		}
		const points = [...token.value];
		for (let at = 0; at < points.length; at += maxChars) {
			const value = points.slice(at, at + maxChars).join('');
			chunks.push([{ kind: 'text', value, length: characterCount(value) }]);
		}
	}
	return chunks;
}

function fits(tokens: Token[], maxChars: number): boolean {
	return trimmedLength(tokens) <= maxChars && tokens.filter((token) => token.kind === 'tag').length <= MAX_BREAKS_PER_PIECE;
}

function trimmedLength(tokens: Token[]): number {
	let start = 0;
	let end = tokens.length;
	while (start < end && tokens[start].kind === 'space') start++;
	while (end > start && tokens[end - 1].kind === 'space') end--;
	let length = 0;
	for (let i = start; i < end; i++) length += tokens[i].length;
	return length;
}

function render(tokens: Token[]): string {
	return tokens.map((token) => token.value).join('').trim();
}

/**
 * Faseeh refuses pieces under 3 words or 10 characters (a last sentence "شكرا.", a run of tags).
 * Such a piece joins the piece before it, or after it, when the two fit together; otherwise it
 * takes words from the end of the piece before it, or from the start of the piece after it
 * (cutting at spaces only).
 */
function fixShortPieces(pieces: Token[][], maxChars: number): Token[][] {
	const result = pieces.slice();
	for (let i = 0; i < result.length; ) {
		if (meetsMinimum(render(result[i])) || result.length === 1) {
			i++;
			continue;
		}
		if (i > 0 && fits(result[i - 1].concat(result[i]), maxChars)) {
			result.splice(i - 1, 2, result[i - 1].concat(result[i]));
			i = Math.max(0, i - 1);
			continue;
		}
		if (i + 1 < result.length && fits(result[i].concat(result[i + 1]), maxChars)) {
			result.splice(i, 2, result[i].concat(result[i + 1]));
			continue;
		}
		if (!(i > 0 && borrowWords(result, i, maxChars)) && i + 1 < result.length) borrowFromNext(result, i, maxChars);
		i++;
	}
	return result;
}

/** Moves the cut between pieces i-1 and i back, one space at a time, until piece i is long enough. */
function borrowWords(pieces: Token[][], i: number, maxChars: number): boolean {
	const previous = pieces[i - 1];
	for (let cut = previous.length - 1; cut > 0; cut--) {
		if (cutLevel(previous, cut) === undefined) continue;
		const moved = previous.slice(cut).concat(pieces[i]);
		if (!fits(moved, maxChars)) return false;
		const kept = previous.slice(0, cut);
		if (meetsMinimum(render(moved)) && meetsMinimum(render(kept))) {
			pieces[i - 1] = kept;
			pieces[i] = moved;
			return true;
		}
	}
	return false;
}

/** The same forwards: piece i takes words from the start of piece i+1 (a short first piece). */
function borrowFromNext(pieces: Token[][], i: number, maxChars: number): boolean {
	const next = pieces[i + 1];
	for (let cut = 1; cut < next.length; cut++) {
		if (cutLevel(next, cut) === undefined) continue;
		const grown = pieces[i].concat(next.slice(0, cut));
		if (!fits(grown, maxChars)) return false;
		const rest = next.slice(cut);
		if (meetsMinimum(render(grown)) && meetsMinimum(render(rest))) {
			pieces[i] = grown;
			pieces[i + 1] = rest;
			return true;
		}
	}
	return false;
}

function quote(text: string): string {
	return `"${text.length > 40 ? `${text.slice(0, 40)}…` : text}"`;
}
