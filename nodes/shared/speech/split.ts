/**
 * Long speech texts: checking the markup and cutting a text into pieces that one Faseeh request
 * each can carry (docs/reference.md, "Long texts").
 *
 * The only markup Faseeh knows is `<break time="500ms"/>` (a pause). A tag is never cut, and a
 * piece is cut only between words, preferring, in this order:
 *  0. a sentence end (`.` `؟` `?` `!` `؛` `;` `…` followed by a space, closing quotes or brackets and
 *     direction marks such as U+200F allowed between) or a line break; a dot after an abbreviation
 *     or title (`د.` `أ.د.` `ص.ب.` `Dr.`: see ABBREVIATIONS) is no sentence end,
 *  1. a clause end (`،` `,` `:` followed by a space),
 *  2. any space (or the edge of a tag written against a word),
 *  3. the space after an abbreviation or title (between `د.` and the name it introduces).
 * A "word" too long to share a piece with two other words (longer than `maxChars` − WORD_ROOM: a
 * long URL, a run of letters without spaces, which no voice speaks as a word anyway) is first cut
 * into equal parts of at most a fifth of a piece, sent with a space between them: a piece made
 * only of such a word then has 5 words, and can give 2 to a short piece beside it and keep the 3
 * Faseeh asks for (one part alone would be refused, after the pieces before it were charged).
 * Pieces are trimmed, never empty, at most `maxChars` characters (Unicode code points) and
 * MAX_BREAKS_PER_PIECE tags, and each has Faseeh's minimum of 3 words and 10 characters where the
 * text allows it: a short piece is merged into its neighbour, or takes words from the piece before
 * or after it. `firstPieceBelowMinimum` finds a piece that still cannot (a run of break tags with
 * few words), so the caller can refuse the text before any request.
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
/** Room a word leaves in a piece for two others (two words of up to 14 characters and their spaces). */
export const WORD_ROOM = 30;

type TokenKind = 'tag' | 'space' | 'text';
interface Token {
	kind: TokenKind;
	value: string;
	/** Code points. */
	length: number;
}

/**
 * What may follow the mark and still end a sentence or clause: closing quotes and brackets, and the
 * invisible direction marks pasted Arabic is full of (LRM, RLM, ALM, embeddings and isolates).
 */
const CLOSERS = `["'»”’)\\]\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]*`;
const SENTENCE_END = new RegExp(`[.؟?!؛;…]${CLOSERS}$`, 'u');
const CLAUSE_END = new RegExp(`[،,:]${CLOSERS}$`, 'u');
const DIRECTION_MARKS = /[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Words whose dot is not a sentence end: a title or abbreviation stands before a name or a number,
 * and a cut there would put a pause between `د.` and `محمد علي`.
 * - Single letters with a dot, alone or in a run, in any script: Arabic titles and references
 *   (`د.` doctor, `أ.` ustadh, `م.` engineer, `ص.` page, `ت.` telephone, `ج.` part, `ش.` street, `ق.م.`
 *   before Christ, `أ.د.` professor, `ص.ب.` P.O. box) and Latin initials and runs (`J.` `e.g.` `i.e.` `U.S.`);
 * - these Latin titles and short forms (case as written): Dr, Mr, Mrs, Ms, Prof, Sr, Jr, St, Mt, No,
 *   Nr, Fig, Vol, vs, approx.
 * A text that really ends a sentence with one of them is cut elsewhere (at the next sentence end,
 * else a comma, else a space): a missed sentence end costs nothing, a false one a pause mid-name.
 */
export const ABBREVIATIONS = {
	letterRun: /^["'«“([]*(?:\p{L}\p{M}*\.)+$/u,
	latin: ['Dr', 'Mr', 'Mrs', 'Ms', 'Prof', 'Sr', 'Jr', 'St', 'Mt', 'No', 'Nr', 'Fig', 'Vol', 'vs', 'approx'],
};
const LATIN_ABBREVIATION = new RegExp(`^["'«“(\\[]*(?:${ABBREVIATIONS.latin.join('|')})\\.$`, 'u');

/** True when the dot that ends `word` belongs to an abbreviation or title, not to a sentence. */
export function isAbbreviation(word: string): boolean {
	if (!word.includes('.')) return false;
	const bare = word.replace(DIRECTION_MARKS, '');
	return ABBREVIATIONS.letterRun.test(bare) || LATIN_ABBREVIATION.test(bare);
}

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
	// UTF-16 units minus the second half of each surrogate pair, without building an array of
	// code points (that allocation was a third of splitting a 1 M-character text).
	let count = text.length;
	for (let i = 0; i < text.length; i++) {
		const unit = text.charCodeAt(i);
		if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
			const next = text.charCodeAt(i + 1);
			if (next >= 0xdc00 && next <= 0xdfff) {
				count--;
				i++;
			}
		}
	}
	return count;
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
	const words = cutLongWords(tokens, maxChars);
	const pieces = pack(words, 0, maxChars).filter((piece) => piece.some((token) => token.kind !== 'space'));
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

/** Runs of whitespace and of everything else, scanned by hand (a regex match per word was a quarter of the time). */
function pushPlain(plain: string, push: (kind: TokenKind, value: string) => void): void {
	let start = 0;
	let inSpace = false;
	for (let i = 0; i < plain.length; i++) {
		const space = isWhitespace(plain.charCodeAt(i));
		if (i > start && space !== inSpace) {
			push(inSpace ? 'space' : 'text', plain.slice(start, i));
			start = i;
		}
		inSpace = space;
	}
	if (start < plain.length) push(inSpace ? 'space' : 'text', plain.slice(start));
}

/** What `\s` matches in JavaScript (a surrogate half is never whitespace). */
function isWhitespace(unit: number): boolean {
	if (unit <= 0x20) return unit === 0x20 || (unit >= 0x09 && unit <= 0x0d);
	if (unit < 0xa0) return false;
	return (
		unit === 0xa0 ||
		unit === 0x1680 ||
		(unit >= 0x2000 && unit <= 0x200a) ||
		unit === 0x2028 ||
		unit === 0x2029 ||
		unit === 0x202f ||
		unit === 0x205f ||
		unit === 0x3000 ||
		unit === 0xfeff
	);
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
		if (previous?.kind !== 'text') return 2;
		if (SENTENCE_END.test(previous.value)) return isAbbreviation(previous.value) ? 3 : 0;
		if (CLAUSE_END.test(previous.value)) return 1;
		return 2;
	}
	if (after.kind === 'space') return undefined; // cut after the space instead
	if (before.kind === 'tag' || after.kind === 'tag') return 2;
	return undefined;
}

/** Greedy packing at one level; a segment too long for a piece is packed at the next level. */
function pack(tokens: Token[], level: number, maxChars: number): Token[][] {
	const pieces: Token[][] = [];
	let current: Token[] = [];
	let currentSize = sizeOf(current);
	for (const segment of segmentsAt(tokens, level)) {
		// Sizes are combined, not measured again, so packing is linear in the text's length.
		const size = sizeOf(segment);
		const joined = joinSizes(currentSize, size);
		if (sizeFits(joined, maxChars)) {
			for (const token of segment) current.push(token);
			currentSize = joined;
			continue;
		}
		if (current.length > 0) pieces.push(current);
		if (sizeFits(size, maxChars) || level >= LAST_LEVEL) {
			// At the last level a segment is one word (cutLongWords made every word fit) or one tag.
			current = segment.slice();
			currentSize = size;
		} else {
			const inner = pack(segment, level + 1, maxChars);
			pieces.push(...inner.slice(0, -1));
			current = inner[inner.length - 1] ?? [];
			currentSize = sizeOf(current);
		}
	}
	if (current.length > 0) pieces.push(current);
	return pieces;
}

/** What fits() needs to know of a run of tokens, so two runs can be judged together without joining them. */
interface RunSize {
	/** Code points of all tokens. */
	total: number;
	/** Code points of the spaces at the start and at the end (all of them when the run is only spaces). */
	leading: number;
	trailing: number;
	onlySpaces: boolean;
	tags: number;
}

function sizeOf(tokens: Token[]): RunSize {
	const size: RunSize = { total: 0, leading: 0, trailing: 0, onlySpaces: true, tags: 0 };
	for (const token of tokens) {
		size.total += token.length;
		if (token.kind === 'tag') size.tags++;
		if (token.kind === 'space') {
			if (size.onlySpaces) size.leading += token.length;
			size.trailing += token.length;
		} else {
			size.onlySpaces = false;
			size.trailing = 0;
		}
	}
	return size;
}

function joinSizes(a: RunSize, b: RunSize): RunSize {
	return {
		total: a.total + b.total,
		leading: a.onlySpaces ? a.total + b.leading : a.leading,
		trailing: b.onlySpaces ? a.trailing + b.total : b.trailing,
		onlySpaces: a.onlySpaces && b.onlySpaces,
		tags: a.tags + b.tags,
	};
}

function sizeFits(size: RunSize, maxChars: number): boolean {
	const trimmed = size.onlySpaces ? 0 : size.total - size.leading - size.trailing;
	return trimmed <= maxChars && size.tags <= MAX_BREAKS_PER_PIECE;
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

/** The lowest-priority cut (the space after an abbreviation): below it a segment is one word or tag. */
const LAST_LEVEL = 3;

/**
 * Words longer than `maxChars` − WORD_ROOM cut into parts of equal length, each at most a fifth of
 * a piece (less the spaces between five parts), with a space token between them: the packer then
 * treats the parts as words. Every other token is kept as it is.
 */
function cutLongWords(tokens: Token[], maxChars: number): Token[] {
	const longest = maxChars - WORD_ROOM;
	if (!tokens.some((token) => token.kind === 'text' && token.length > longest)) return tokens;
	const part = Math.floor((maxChars - 4) / 5);
	const out: Token[] = [];
	for (const token of tokens) {
		if (token.kind !== 'text' || token.length <= longest) {
			out.push(token);
			continue;
		}
		const points = [...token.value];
		const size = Math.ceil(points.length / Math.ceil(points.length / part));
		for (let at = 0; at < points.length; at += size) {
			if (at > 0) out.push({ kind: 'space', value: ' ', length: 1 });
			const value = points.slice(at, at + size).join('');
			out.push({ kind: 'text', value, length: characterCount(value) });
		}
	}
	return out;
}

function fits(tokens: Token[], maxChars: number): boolean {
	return sizeFits(sizeOf(tokens), maxChars);
}

/** meetsMinimum(render(tokens)) without building the string: words are text tokens, tags count as one space. */
function tokensMeetMinimum(tokens: Token[]): boolean {
	let first = -1;
	let last = -1;
	let words = 0;
	for (let i = 0; i < tokens.length; i++) {
		if (tokens[i].kind !== 'text') continue;
		if (first < 0) first = i;
		last = i;
		words++;
	}
	if (words < MIN_WORDS) return false;
	let characters = 0;
	for (let i = first; i <= last; i++) characters += tokens[i].kind === 'tag' ? 1 : tokens[i].length;
	return characters >= MIN_CHARACTERS;
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
		if (tokensMeetMinimum(result[i]) || result.length === 1) {
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
		if (tokensMeetMinimum(moved) && tokensMeetMinimum(kept)) {
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
		if (tokensMeetMinimum(grown) && tokensMeetMinimum(rest)) {
			pieces[i] = grown;
			pieces[i + 1] = rest;
			return true;
		}
	}
	return false;
}

/**
 * The index of the first piece under Faseeh's minimum (3 words, 10 characters) in a text cut into
 * several, or undefined. A piece that stays short after splitForSpeech's merging and borrowing
 * (the middle of a word longer than two pieces, a run of break tags) would be refused by Faseeh
 * after the pieces before it were spoken and charged: the caller refuses the text first.
 */
export function firstPieceBelowMinimum(pieces: string[]): number | undefined {
	if (pieces.length < 2) return undefined;
	const index = pieces.findIndex((piece) => !meetsMinimum(piece));
	return index < 0 ? undefined : index;
}

function quote(text: string): string {
	return `"${text.length > 40 ? `${text.slice(0, 40)}…` : text}"`;
}

/** What a listener reads of a piece: its words, without break tags, spaces collapsed. */
export function visibleText(text: string): string {
	return text.replace(BREAK_TAG, ' ').replace(/\s+/gu, ' ').trim();
}

/**
 * Cuts `text` into one piece per subtitle cue (docs/reference.md, "Subtitles"): every sentence is a piece of
 * its own; a sentence whose words shown (break tags left out) are more than `maxCueChars` is cut at
 * clauses, then at spaces (a single longer word stands alone). Sentences are joined only to give a
 * piece Faseeh's minimum of 3 words and 10 characters: with the one before, else the one after,
 * within the cue's budget if they can be, else beyond it. Every piece keeps a request's limits
 * (`maxChars`, MAX_BREAKS_PER_PIECE).
 */
export function splitForCues(text: string, maxCueChars: number, maxChars: number): string[] {
	if (!Number.isInteger(maxCueChars) || maxCueChars < 1) throw new RangeError(`maxCueChars must be a whole number of at least 1, got ${maxCueChars}`);
	const fitsCue = (tokens: Token[]) => fits(tokens, maxChars) && characterCount(visibleText(render(tokens))) <= maxCueChars;
	const pieces: Token[][] = [];
	const place = (segment: Token[], level: number): void => {
		if (!segment.some((token) => token.kind !== 'space')) return;
		if (fitsCue(segment) || level >= 2) {
			pieces.push(segment);
			return;
		}
		let current: Token[] = [];
		for (const part of segmentsAt(segment, level + 1)) {
			const joined = current.concat(part);
			if (current.some((token) => token.kind !== 'space') && !fitsCue(joined)) {
				place(current, level + 1);
				current = part.slice();
			} else current = joined;
		}
		place(current, level + 1);
	};
	for (const sentence of segmentsAt(tokenize(text), 0)) place(sentence, 0);
	for (let i = 0; i < pieces.length; ) {
		if (pieces.length === 1 || meetsMinimum(render(pieces[i]))) {
			i++;
			continue;
		}
		const withPrevious = i > 0 ? pieces[i - 1].concat(pieces[i]) : undefined;
		const withNext = i + 1 < pieces.length ? pieces[i].concat(pieces[i + 1]) : undefined;
		if (withPrevious && fitsCue(withPrevious)) {
			pieces.splice(i - 1, 2, withPrevious);
			i--;
		} else if (withNext && fitsCue(withNext)) {
			pieces.splice(i, 2, withNext);
		} else if (borrowForCue(pieces, i, fitsCue)) {
			i++;
		} else if (withNext && fits(withNext, maxChars)) {
			// A budget below Faseeh's minimum: forwards, so short pieces pair up instead of piling up.
			pieces.splice(i, 2, withNext);
		} else if (withPrevious && fits(withPrevious, maxChars)) {
			pieces.splice(i - 1, 2, withPrevious);
			i--;
		} else i++;
	}
	return pieces.map(render).filter((piece) => piece !== '');
}

/**
 * A short cue piece takes words from the end of the piece before it, else from the start of the
 * piece after it, cutting at spaces, until it has Faseeh's minimum while the other keeps it and
 * both stay within the cue's budget.
 */
function borrowForCue(pieces: Token[][], i: number, fitsCue: (tokens: Token[]) => boolean): boolean {
	const ok = (a: Token[], b: Token[]) => fitsCue(a) && fitsCue(b) && meetsMinimum(render(a)) && meetsMinimum(render(b));
	const previous = pieces[i - 1];
	if (previous) {
		for (let cut = previous.length - 1; cut > 0; cut--) {
			if (previous[cut - 1].kind !== 'space') continue;
			const kept = previous.slice(0, cut);
			const grown = previous.slice(cut).concat(pieces[i]);
			if (!fitsCue(grown)) break;
			if (ok(kept, grown)) {
				pieces[i - 1] = kept;
				pieces[i] = grown;
				return true;
			}
		}
	}
	const next = pieces[i + 1];
	if (next) {
		for (let cut = 1; cut < next.length; cut++) {
			if (next[cut].kind !== 'space') continue;
			const grown = pieces[i].concat(next.slice(0, cut));
			const rest = next.slice(cut);
			if (!fitsCue(grown)) break;
			if (ok(grown, rest)) {
				pieces[i] = grown;
				pieces[i + 1] = rest;
				return true;
			}
		}
	}
	return false;
}
