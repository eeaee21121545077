import fc from 'fast-check';

import {
	BREAK_TAG,
	characterCount,
	MAX_BREAKS_PER_PIECE,
	meetsMinimum,
	splitForSpeech,
	validateSpeechText,
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

	it('tags stay whole and words are cut only when longer than a piece', () => {
		fc.assert(
			fc.property(speechText, limit, (text, max) => {
				const pieces = splitForSpeech(text, max);
				expect(pieces.flatMap(tagsOf)).toEqual(tagsOf(text));
				// Every word of every piece is a word of the text, unless the text's word was too long.
				const words = new Set(text.replace(BREAK_TAG, ' ').split(/\s+/u));
				for (const piece of pieces) {
					for (const word of piece.replace(BREAK_TAG, ' ').split(/\s+/u).filter(Boolean)) {
						if (!words.has(word)) expect([...words].some((w) => characterCount(w) > max && w.includes(word))).toBe(true);
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

	it('cuts a word longer than a piece by characters (the last resort)', () => {
		const url = `https://example.com/${'a'.repeat(200)}`;
		const pieces = splitForSpeech(`اقرأ الرابط التالي الآن ${url} ثم تابع القراءة هنا`, 60);
		expect(pieces.every((piece) => characterCount(piece) <= 60)).toBe(true);
		expect(noSpace(pieces.join(''))).toBe(noSpace(`اقرأ الرابط التالي الآن ${url} ثم تابع القراءة هنا`));
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
