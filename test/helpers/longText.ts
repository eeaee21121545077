/**
 * Long Arabic texts for the long-text tests and the bench: deterministic, with sentences of every
 * ending the splitter knows, commas, paragraphs, break tags and numbers with decimals.
 */
const LETTERS = 'ابتثجحخدذرزسشصضطظعغفقكلمنهوي';
const ENDINGS = ['.', '.', '.', '؟', '!', '؛', '.'];

export function longArabicText(characters: number, seed = 1): string {
	let state = seed >>> 0 || 1;
	const next = (n: number) => {
		state = (Math.imul(state, 1103515245) + 12345) >>> 0;
		return (state >>> 8) % n;
	};
	const word = () => Array.from({ length: 2 + next(7) }, () => LETTERS[next(LETTERS.length)]).join('');
	let text = '';
	// Counted as it grows: measuring the whole text each round made a 1 M-character text quadratic.
	let length = 0;
	while (length < characters) {
		const words = Array.from({ length: 5 + next(20) }, word);
		if (next(4) === 0) words[next(words.length)] += '،';
		if (next(10) === 0) words.splice(next(words.length), 0, `${next(100)}.${next(10)}`);
		if (next(12) === 0) words.splice(1 + next(words.length - 1), 0, '<break time="300ms"/>');
		const sentence = words.join(' ') + ENDINGS[next(ENDINGS.length)] + (next(8) === 0 ? '\n\n' : ' ');
		text += sentence;
		length += [...sentence].length;
	}
	return [...text].slice(0, characters).join('').replace(/<[^>]*$/u, '').replace(/\s*\S*$/u, '.');
}
