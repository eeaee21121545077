import fc from 'fast-check';

import {
	BREAK_TAG,
	characterCount,
	firstPieceBelowMinimum,
	isAbbreviation,
	MAX_BREAKS_PER_PIECE,
	meetsMinimum,
	splitForSpeech,
	validateSpeechText,
	WORD_ROOM,
} from '../../nodes/shared/speech/split';

const noSpace = (text: string) => text.replace(/\s+/gu, '');
const tagsOf = (text: string) => text.match(BREAK_TAG) ?? [];

const arabicWord = fc
	.array(fc.constantFrom(...'ابتثجحخدذرزسشصضطظعغفقكلمنهوي'.split('')), { minLength: 1, maxLength: 12 })
	.map((letters) => letters.join(''));
const punctuation = fc.constantFrom('', '', '', '.', '؟', '?', '!', '؛', ';', '،', ',', ':', '…');
const space = fc.constantFrom(' ', ' ', ' ', '  ', '\n', '\n\n', '\t');
const tag = fc.constantFrom('<break time="500ms"/>', "<break time='1s'/>", '<break time="1.5s" />', '<break time="200ms"/>');
const token = fc.oneof(
	{ weight: 12, arbitrary: fc.tuple(arabicWord, punctuation).map(([word, mark]) => word + mark) },
	{ weight: 1, arbitrary: tag },
	{ weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 300 }).map((s) => 'w'.repeat(1 + (s.length % 300))) },
);
const speechText = fc
	.array(fc.tuple(token, space), { minLength: 1, maxLength: 400 })
	.map((parts) => parts.map(([t, s]) => t + s).join(''));
const limit = fc.integer({ min: 50, max: 400 });

describe('splitForSpeech (properties)', () => {
	it('pieces joined give the text back, except for whitespace at the joints', () => {
		fc.assert(
			fc.property(speechText, limit, (text, max) => {
				expect(noSpace(splitForSpeech(text, max).join(''))).toBe(noSpace(text));
			}),
			{ numRuns: 300 },
		);
	});

	it('no piece is over the limit, empty, or has too many tags', () => {
		fc.assert(
			fc.property(speechText, limit, (text, max) => {
				for (const piece of splitForSpeech(text, max)) {
					expect(characterCount(piece)).toBeLessThanOrEqual(max);
					expect(piece.trim()).not.toBe('');
					expect(tagsOf(piece).length).toBeLessThanOrEqual(MAX_BREAKS_PER_PIECE);
				}
			}),
			{ numRuns: 300 },
		);
	});

	it('tags stay whole and words are cut only when too long to share a piece with two others', () => {
		fc.assert(
			fc.property(speechText, limit, (text, max) => {
				const pieces = splitForSpeech(text, max);
				expect(pieces.flatMap(tagsOf)).toEqual(tagsOf(text));
				// Every word of every piece is a word of the text, unless the text's word was too long to
				// share a piece with two others (longer than the piece less WORD_ROOM).
				const words = new Set(text.replace(BREAK_TAG, ' ').split(/\s+/u));
				for (const piece of pieces) {
					for (const word of piece.replace(BREAK_TAG, ' ').split(/\s+/u).filter(Boolean)) {
						if (!words.has(word)) expect([...words].some((w) => characterCount(w) > max - WORD_ROOM && w.includes(word))).toBe(true);
					}
				}
			}),
			{ numRuns: 300 },
		);
	});

	it('every piece of a split text meets Faseeh’s minimum (3 words, 10 characters) when the text allows it', () => {
		fc.assert(
			// From 100 characters on (the option's minimum) a piece has room to give a short neighbour words.
			fc.property(speechText, fc.integer({ min: 100, max: 400 }), (text, max) => {
				const pieces = splitForSpeech(text, max);
				if (pieces.length < 2) return;
				// Words of at most 12 letters: a piece of normal words always can meet the minimum.
				if (/w{13}/.test(text)) return;
				// Two pieces need 6 words; a text that is mostly break tags (each ~21 of the piece's
				// characters) may leave no room to move words between pieces: such texts are skipped.
				const words = text.replace(BREAK_TAG, ' ').trim().split(/\s+/u).length;
				if (words < 2 * 3 || tagsOf(text).length * 4 > words) return;
				for (const piece of pieces) expect(meetsMinimum(piece)).toBe(true);
			}),
			{ numRuns: 300 },
		);
	});

	it('a link or any word of up to 5000 characters between sentences never leaves a piece Faseeh refuses (issue 22.7)', () => {
		const word = fc.array(fc.constantFrom(...'ابتثجحخدذرزسشصضطظعغفقكلمنهوي'.split('')), { minLength: 2, maxLength: 9 }).map((letters) => letters.join(''));
		const sentence = fc.array(word, { minLength: 5, maxLength: 25 }).map((words) => `${words.join(' ')}.`);
		const link = fc.integer({ min: 1, max: 5000 }).map((n) => `https://example.com/${'x'.repeat(n)}`);
		fc.assert(
			fc.property(fc.array(fc.tuple(sentence, link, sentence), { minLength: 1, maxLength: 6 }), fc.integer({ min: 100, max: 1000 }), (parts, max) => {
				const text = parts.map((part) => part.join(' ')).join(' ');
				const pieces = splitForSpeech(text, max);
				for (const piece of pieces) {
					expect(characterCount(piece)).toBeLessThanOrEqual(max);
					expect(meetsMinimum(piece)).toBe(true);
				}
				expect(noSpace(pieces.join(''))).toBe(noSpace(text));
			}),
			{ numRuns: 300 },
		);
	});
});

describe('splitForSpeech (examples)', () => {
	it('a text that fits is one piece, unchanged', () => {
		expect(splitForSpeech(' مرحبا بك في فصيح ', 100)).toEqual([' مرحبا بك في فصيح ']);
	});

	it('prefers sentence ends, then commas, then spaces', () => {
		const a = 'الجملة الأولى قصيرة هنا.';
		const b = 'والثانية، وهي أطول قليلا من الأولى، تأتي بعدها؟';
		expect(splitForSpeech(`${a} ${b}`, 60)).toEqual([a, b]);
		const c = 'والثالثة، وهي أطول قليلا من الأولى، تأتي بعدها ولها ذيل طويل جدا هنا؟';
		expect(splitForSpeech(c, 50)).toEqual(['والثالثة، وهي أطول قليلا من الأولى،', 'تأتي بعدها ولها ذيل طويل جدا هنا؟']);
	});

	it('never cuts a decimal number or a tag', () => {
		const text = `${'كلمة '.repeat(8)}العدد 3.5 هنا <break time="1.5s"/> ${'نص '.repeat(10)}`;
		for (const piece of splitForSpeech(text, 50)) {
			expect(piece).not.toMatch(/^5|3\.$/);
			expect(piece.includes('<break') === piece.includes('/>')).toBe(true);
		}
	});

	it('a short first sentence that cannot join the next takes words from it (fast-check found it)', () => {
		const text = 'ا ا! اااا: <break time="500ms"/>  اااا <break time="500ms"/> اااااااااااا, اااااااا  wwwwwwwwww wwwww ';
		const pieces = splitForSpeech(text, 100);
		expect(pieces).toEqual(['ا ا! اااا:', '<break time="500ms"/>  اااا <break time="500ms"/> اااااااااااا, اااااااا  wwwwwwwwww wwwww']);
		expect(pieces.every(meetsMinimum)).toBe(true);
	});

	it('a short last sentence joins or borrows words so every piece has 3 words and 10 characters', () => {
		const long = `${'هذه جملة طويلة بما يكفي '.repeat(2)}تماما.`;
		const pieces = splitForSpeech(`${long} شكرا.`, characterCount(long) + 2);
		expect(pieces.every(meetsMinimum)).toBe(true);
		expect(noSpace(pieces.join(''))).toBe(noSpace(`${long} شكرا.`));
	});

	it('cuts a word longer than a piece into parts sent with spaces, so no piece is one word (issue 22.7)', () => {
		const url = `https://example.com/${'a'.repeat(200)}`;
		const text = `اقرأ الرابط التالي الآن ${url} ثم تابع القراءة هنا`;
		const pieces = splitForSpeech(text, 60);
		expect(pieces.every((piece) => characterCount(piece) <= 60)).toBe(true);
		expect(noSpace(pieces.join(''))).toBe(noSpace(text));
		// Before: runs of 60 characters, each a piece of one word that Faseeh refuses.
		expect(pieces.filter((piece) => !meetsMinimum(piece))).toEqual([]);
		// Parts of equal length, at most a fifth of a piece: 220 characters in 20 parts of 11.
		expect(new Set(pieces.join(' ').split(/\s+/u).filter((word) => word.includes('a')).map(characterCount))).toEqual(new Set([11]));
		// A word that fits with two others is left whole.
		const short = `https://example.com/${'a'.repeat(60 - WORD_ROOM - 20)}`;
		expect(splitForSpeech(`اقرأ الرابط التالي الآن ${short} ثم تابع القراءة هنا الآن`, 60).join(' ')).toContain(short);
	});

	it('does not end a sentence at an abbreviation or title: no pause between د. and the name (issue 22.7)', () => {
		const text = 'كان الاجتماع طويلا جدا في ذلك اليوم المشمس وقال د. محمد علي إن العمل انتهى.';
		// Before: 'كان … وقال د.' | 'محمد علي إن العمل انتهى.' (the dot taken for a sentence end).
		for (const max of [50, 52, 55, 60, 65]) {
			const pieces = splitForSpeech(text, max);
			expect(pieces.some((piece) => piece.endsWith('د.'))).toBe(false);
		}
		expect(splitForSpeech('وصل أ.د. خالد إلى القاعة في الموعد المحدد تماما. ثم بدأ المحاضرة بالترحيب بالحضور.', 50)).toEqual([
			'وصل أ.د. خالد إلى القاعة في الموعد المحدد تماما.',
			'ثم بدأ المحاضرة بالترحيب بالحضور.',
		]);
		expect(splitForSpeech('The report was written by the team at the office. Dr. Smith read it to everyone present today.', 55)).toEqual([
			'The report was written by the team at the office.',
			'Dr. Smith read it to everyone present today.',
		]);
	});

	it.each([
		['د.', true],
		['أ.', true],
		['م.', true],
		['ص.ب.', true],
		['أ.د.', true],
		['ت.', true],
		['«د.', true],
		['د.\u200f', true],
		['Dr.', true],
		['Mrs.', true],
		['e.g.', true],
		['J.', true],
		['الكتاب.', false],
		['2026.', false],
		['etc.', false],
		['no.', false],
	])('isAbbreviation(%j) is %s', (word, expected) => {
		expect(isAbbreviation(word)).toBe(expected);
	});

	it('a dot followed by U+200F (RLM, pasted Arabic) or other direction marks ends a sentence (issue 22.7)', () => {
		const first = 'هذه الجملة الأولى تنتهي هنا الآن.\u200f';
		const second = 'وهذه الجملة الثانية تأتي بعدها مباشرة.\u200f';
		// Before: cut at the last space that fitted, inside the second sentence.
		expect(splitForSpeech(`${first} ${second}`, 50)).toEqual([first, second]);
		expect(splitForSpeech(`${first.replace('\u200f', '\u200e\u2069')} ${second}`, 50)).toEqual([first.replace('\u200f', '\u200e\u2069'), second]);
		expect(splitForSpeech('هل هذه الجملة الأولى تنتهي هنا؟\u200f ثم تأتي الجملة الثانية بعدها مباشرة.', 50)).toHaveLength(2);
	});

	it('firstPieceBelowMinimum names the piece a long text cannot make acceptable (only break tags around one word)', () => {
		const tags = Array.from({ length: 20 }, () => '<break time="1s"/>').join(' ');
		const text = `${'جملة أولى طويلة بما يكفي هنا. '.repeat(3)}${tags} كلمة ${tags}`;
		const pieces = splitForSpeech(text, 120);
		const index = firstPieceBelowMinimum(pieces);
		expect(index).toBeDefined();
		expect(meetsMinimum(pieces[index!])).toBe(false);
		expect(firstPieceBelowMinimum(['ا ب'])).toBeUndefined();
		expect(firstPieceBelowMinimum(splitForSpeech('جملة أولى طويلة بما يكفي هنا. '.repeat(20), 100))).toBeUndefined();
	});

	it('refuses a limit below 50', () => {
		expect(() => splitForSpeech('نص', 49)).toThrow(RangeError);
	});
});

describe('validateSpeechText', () => {
	it.each([
		['', 'is empty'],
		['   \n ', 'is empty'],
		['<break time="1s"/> <break time=\'500ms\'/>', 'has no words to speak, only break tags and spaces'],
	])('refuses %j: %s', (text, problem) => {
		expect(validateSpeechText(text)).toBe(problem);
	});

	it('refuses a break tag left open or malformed; other markup is text', () => {
		expect(validateSpeechText('مرحبا <break time="1s" بكم')).toMatch(/^has a tag left open: "<break time="1s" بكم"/);
		expect(validateSpeechText('مرحبا <break time="1s" <break time="1s"/>')).toMatch(/^has a tag left open/);
		expect(validateSpeechText('مرحبا <b>بكم</b> <speak>')).toBeUndefined();
		expect(validateSpeechText('مرحبا <break time="fast"/> بكم')).toMatch(/^has a malformed break tag/);
		expect(validateSpeechText('مرحبا <break time=1s/> بكم')).toMatch(/^has a malformed break tag/);
	});

	it('accepts break tags in both quote styles, with or without a space before />, and a bare <', () => {
		expect(validateSpeechText('مرحبا <break time="500ms"/> بكم <break time=\'1.5s\' /> في فصيح')).toBeUndefined();
		expect(validateSpeechText('ثلاثة < خمسة و ٣ <٥')).toBeUndefined();
	});
});
