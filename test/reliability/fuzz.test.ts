/**
 * Z1–Z3 (docs/reliability.md): property-based tests with fast-check over parameter values and text
 * content, given to the nodes through expressions as a previous node's data would be. For every
 * generated input, either
 * - the node refuses it before sending anything, with a NodeOperationError naming a parameter that
 *   really is invalid and the item, or
 * - the strict sandbox accepts the request (200) and every field it received equals the expected
 *   value byte for byte: text exactly as given, name trimmed, lists normalised, numbers as plain
 *   decimals that parse back to exactly the same number.
 * An independent oracle below says which of the two must happen. The node never throws anything
 * but a NodeOperationError or NodeApiError. Each run draws one seed for all three properties; a
 * failure names it: rerun with FC_SEED=<seed> to replay the same inputs (FUZZ_RUNS sets the count).
 */
import fc from 'fast-check';
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { cleanupHarness } from '../harness/n8nHarness';
import type { NodeRunResult } from '../harness/n8nHarness';
import { part, requestsTo, startSandbox } from '../helpers/faseeh';
import type { FaseehSandbox, RecordedRequest } from '../sandbox/FaseehSandbox';
import { cloneItem, recordingItem, runClone, runPreview, runSpeech } from './support';

const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 80);
/** One seed per run for every property: named in any failure, pinned with FC_SEED=<seed>. */
const SEED = seedFrom(process.env.FC_SEED);
const settings = { numRuns: NUM_RUNS, seed: SEED };

function seedFrom(raw: string | undefined): number {
	if (raw === undefined || raw.trim() === '') return Math.floor(Math.random() * 0x7fffffff);
	if (!/^-?\d+$/.test(raw.trim())) throw new Error(`FC_SEED must be an integer, got "${raw}"`);
	return Number(raw.trim());
}

/**
 * A property test whose failure, fast-check's or a check after it (expectBothOutcomes), ends with
 * the seed and the command that replays the same inputs.
 */
function fuzz(name: string, body: () => Promise<void>): void {
	it(name, async () => {
		try {
			await body();
		} catch (err) {
			const hint = `Fuzz seed ${SEED}: rerun with FC_SEED=${SEED} npx jest test/reliability/fuzz.test.ts`;
			if (err instanceof Error) {
				err.message = `${err.message}\n\n${hint}`;
				if (err.stack) err.stack = `${err.message}\n${err.stack.split('\n').filter((line) => /^\s+at /.test(line)).join('\n')}`;
				throw err;
			}
			throw new Error(`${String(err)}\n\n${hint}`);
		}
	});
}

let sandbox: FaseehSandbox;
beforeAll(async () => {
	sandbox = await startSandbox();
});
afterAll(async () => {
	await sandbox.stop();
	await cleanupHarness();
});

/**
 * A property that only ever refuses (or never refuses) proves little: both must happen often.
 * Measured over 1 500 runs each, the generators are accepted 47 % (Z1), 60 % (Z2) and 37 % (Z3) of
 * the time. The floor is what a generator accepted only 30 % of the time would still reach with
 * probability 1 - 10⁻⁶ (7 of 80 runs), so a random seed never fails this check by chance, while a
 * generator broken to accept a few percent is caught. (A fixed NUM_RUNS / 4 failed Z3 about one run
 * in 120: 19 of 80 with seed 2083268264.)
 */
function expectBothOutcomes(property: string): void {
	// The rates above: FUZZ_RUNS=1500 npx jest test/reliability/fuzz.test.ts prints them.
	if (process.env.FUZZ_RUNS !== undefined) console.log(`${property}: ${accepted[property]} of ${NUM_RUNS} runs accepted (seed ${SEED})`);
	expect(accepted[property]).toBeGreaterThanOrEqual(acceptanceFloor(NUM_RUNS, 0.3, 1e-6));
	expect(accepted[property]).toBeLessThan(NUM_RUNS);
}

/** The largest k with P(X < k) ≤ risk for X ~ Binomial(runs, rate). */
function acceptanceFloor(runs: number, rate: number, risk: number): number {
	let below = 0; // P(X < k)
	let term = Math.pow(1 - rate, runs); // P(X = k)
	let k = 0;
	while (k < runs && below + term <= risk) {
		below += term;
		term *= ((runs - k) / (k + 1)) * (rate / (1 - rate));
		k++;
	}
	return k;
}

it('the acceptance floor is the binomial quantile it claims to be', () => {
	// Summed term by term in logarithms, independently of the recurrence acceptanceFloor uses.
	const logChoose = (n: number, k: number) => { let sum = 0; for (let i = 1; i <= k; i++) sum += Math.log(n - k + i) - Math.log(i); return sum; };
	const below = (k: number, n: number, p: number) => {
		let sum = 0;
		for (let i = 0; i < k; i++) sum += Math.exp(logChoose(n, i) + i * Math.log(p) + (n - i) * Math.log(1 - p));
		return sum;
	};
	for (const [runs, rate] of [[80, 0.3], [200, 0.3], [80, 0.5], [1500, 0.37]] as const) {
		const floor = acceptanceFloor(runs, rate, 1e-6);
		expect(floor).toBeGreaterThan(0);
		expect(below(floor, runs, rate)).toBeLessThanOrEqual(1e-6);
		expect(below(floor + 1, runs, rate)).toBeGreaterThan(1e-6);
	}
});

// ------------------------------------------------------------------------------- generators

const pick = (values: string[]) => fc.constantFrom(...values);
const space = pick([' ', ' ', ' ', '\t', '\n', '\r\n', '\u00A0', '\u2003', '\u3000']);
const wordPiece = fc.oneof(
	{ weight: 8, arbitrary: pick([...'ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأإؤئةى']) },
	// Tashkeel, superscript alef, tatweel.
	{ weight: 3, arbitrary: pick(['\u064B', '\u064C', '\u064D', '\u064E', '\u064F', '\u0650', '\u0651', '\u0652', '\u0670', '\u0640']) },
	// Emoji with a variation selector, a skin tone ZWJ sequence, a family, a flag.
	{ weight: 2, arbitrary: pick(['🎙️', '👩🏽‍💻', '👨‍👩‍👧', '🇸🇦', '😀', '❤️', '🕋']) },
	{ weight: 2, arbitrary: pick([...'abcXYZ0123456789٠١٢٣٤٥٦٧٨٩،؛؟.!-_"\'<>&%{}$\\/']) },
	// Direction marks, joiners, BOM, NUL.
	{ weight: 1, arbitrary: pick(['\u200F', '\u200E', '\u200D', '\u200C', '\u061C', '\uFEFF', '\u0000']) },
	{ weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 3 }) },
);
/** Words separated (and sometimes surrounded) by assorted whitespace. */
const sentence = fc
	.tuple(pick(['', '', ' ', '\n']), fc.array(fc.tuple(fc.array(wordPiece, { minLength: 1, maxLength: 8 }), space), { minLength: 1, maxLength: 8 }))
	.map(([lead, words]) => lead + words.map(([pieces, separator]) => pieces.join('') + separator).join('').replace(/\s+$/u, (end) => (end.length > 1 ? end : '')));
/** Anything made of the same pieces, whitespace-only and empty text included. */
const freeform = fc.array(fc.oneof(wordPiece, space), { maxLength: 20 }).map((pieces) => pieces.join(''));
const wellFormedText = fc.oneof({ weight: 4, arbitrary: sentence }, { weight: 1, arbitrary: freeform });
/** Half of an emoji (an unpaired surrogate), as `slice()` in an expression can produce. */
const textWithHalf = fc
	.tuple(wellFormedText, pick(['\uD83C', '\uDF99', '\uD83D']), wellFormedText)
	.map((parts) => parts.join(''));
const unicodeText = fc.oneof({ weight: 9, arbitrary: wellFormedText }, { weight: 1, arbitrary: textWithHalf });

const name = fc.oneof(
	{ weight: 6, arbitrary: unicodeText },
	// Around the 200-character limit, with surrounding whitespace that is trimmed away.
	{
		weight: 2,
		arbitrary: fc
			.tuple(pick(['', ' ', '\n ', '\u00A0']), pick(['س', 'a', '😀']), fc.integer({ min: 198, max: 202 }), pick(['', ' ', '\t']))
			.map(([before, character, count, after]) => before + character.repeat(count) + after),
	},
	{ weight: 1, arbitrary: fc.integer({ min: -1000, max: 1000 }) },
);

/** Mostly valid numbers (tiny ones included), some edge and invalid values, numeric and other strings. */
function numberish(min: number, max: number) {
	return fc.oneof(
		{ weight: 12, arbitrary: fc.double({ min, max, noNaN: true }) },
		{ weight: 1, arbitrary: fc.double() },
		{ weight: 2, arbitrary: fc.constantFrom(min, max, -0, 0, 0.5, 1, 1e-7, 5e-324, 0.1 + 0.2, 1 + Number.EPSILON, max + 1e-9, min - 1e-9, Number.NaN, Infinity) },
		{ weight: 2, arbitrary: pick(['0.5', ' 0.25 ', '1e-3', '0x1', '.5', '+0.9', '1', 'abc', '', ' ', '1,5', '٠٫٥', 'NaN', 'Infinity']) },
	);
}

const listEntry = fc.oneof(
	{ weight: 40, arbitrary: pick(['ar', 'AR', ' en ', 'En', '', '  ', 'najdi', ' HIJAZI', 'fusha ', 'x_y', 'a-b']) },
	{ weight: 1, arbitrary: pick(['ar en', 'é', 'ع', '🎙️']) },
);
const list = fc.oneof(
	fc.array(listEntry, { maxLength: 6 }),
	fc.tuple(fc.array(listEntry, { maxLength: 6 }), pick([',', ' , ', ',,'])).map(([entries, separator]) => entries.join(separator)),
);
const avatar = fc.oneof(
	{ weight: 14, arbitrary: pick(['https://example.com/a.png', ' http://cdn.example.com/x.jpg ', 'https://مثال.com/صورة.png', '', '   ']) },
	{ weight: 1, arbitrary: pick(['javascript:alert(1)', 'ftp://x.y/z', 'not a url']) },
);

// ------------------------------------------------------------------------------- the oracle

/** Exactly representable in UTF-8, i.e. no half characters. */
const wellFormed = (text: string) => Buffer.from(text, 'utf8').toString('utf8') === text;
/** Numbers, and numeric strings from expressions, as documented. */
const toNumber = (value: unknown) =>
	typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
const inRange = (value: number, min: number, max: number) => Number.isFinite(value) && value >= min && value <= max;
const usableText = (text: string) => text.trim() !== '' && wellFormed(text);

/** Trimmed, lower-cased, empty entries dropped, de-duplicated; undefined when an entry is not a code. */
function normalisedList(value: unknown): string | undefined {
	const entries = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
	const codes: string[] = [];
	for (const entry of entries) {
		const code = entry.trim().toLowerCase();
		if (code === '') continue;
		if (!/^[a-z0-9_-]+$/.test(code)) return undefined;
		if (!codes.includes(code)) codes.push(code);
	}
	return codes.join(',');
}

interface Expected {
	/** Parameters that are invalid (empty: the request must be sent and accepted). */
	invalid: string[];
	/** Text fields and their exact values. */
	texts: Record<string, string>;
	/** Number fields and the numbers they must parse back to. */
	numbers: Record<string, number>;
}

/** A multipart number field: a plain decimal the strict sandbox accepts, parsing back exactly. */
function expectDecimal(received: string | undefined, value: number): void {
	expect(received).toMatch(/^\d+(\.\d+)?$/);
	expect(Number(received)).toBe(value === 0 ? 0 : value);
}

/** How many runs of each property were sent and accepted. */
const accepted: Record<string, number> = { Z1: 0, Z2: 0, Z3: 0 };

/** The shared half of each property: refused before sending, or sent and accepted exactly. */
function expectRefusedOrExact(
	property: string,result: NodeRunResult, expected: Expected, requests: RecordedRequest[]): RecordedRequest | undefined {
	const error = result.error;
	if (error !== undefined) expect(error instanceof NodeOperationError || error instanceof NodeApiError).toBe(true);
	if (expected.invalid.length > 0) {
		expect(error).toBeInstanceOf(NodeOperationError);
		const named = /^Parameter "([^"]+)" .* \[item 0\]$/s.exec(error?.message ?? '');
		expect(expected.invalid).toContain(named?.[1]);
		expect(sandbox.requests).toHaveLength(0);
		return undefined;
	}
	expect(error).toBeUndefined();
	expect(requests).toHaveLength(1);
	expect(requests[0].status).toBe(200);
	accepted[property]++;
	return requests[0];
}

/** Each text part must carry exactly the UTF-8 bytes of its expected value. */
function expectTextParts(request: RecordedRequest, texts: Record<string, string>): void {
	for (const [field, value] of Object.entries(texts)) {
		expect(part(request, field).data.toString('hex')).toBe(Buffer.from(value, 'utf8').toString('hex'));
	}
}

// ------------------------------------------------------------------------------- properties

fuzz('Z1 clone: any text, name, stability, description, lists and avatar URL are refused up front or sent exactly', async () => {
	const input = fc.record({
		text: unicodeText,
		name,
		stability: numberish(0, 1),
		description: fc.option(unicodeText),
		languages: fc.option(list),
		dialects: fc.option(list),
		avatarUrl: fc.option(avatar),
	});
	await fc.assert(
		fc.asyncProperty(input, async (values) => {
			sandbox.reset();
			const additionalFields: INodeParameters = {};
			for (const key of ['description', 'languages', 'dialects', 'avatarUrl'] as const) {
				if (values[key] !== null) additionalFields[key] = `={{ $json.${key} }}`;
			}
			const parameters: INodeParameters = {
				text: '={{ $json.text }}',
				name: '={{ $json.name }}',
				stability: '={{ $json.stability }}',
				additionalFields,
			};
			const result = await runClone(sandbox, parameters, [cloneItem(values as IDataObject)], { binaryMode: 'default' });

			const expected: Expected = { invalid: [], texts: { model: 'faseeh-v1-preview' }, numbers: {} };
			if (usableText(values.text)) expected.texts.text = values.text;
			else expected.invalid.push('Text');
			const stability = toNumber(values.stability);
			if (inRange(stability, 0, 1)) expected.numbers.stability = stability;
			else expected.invalid.push('Stability');
			const trimmedName = typeof values.name === 'string' ? values.name.trim() : String(values.name);
			if (usableText(trimmedName) && [...trimmedName].length <= 200) expected.texts.name = trimmedName;
			else expected.invalid.push('Name');
			if (typeof values.description === 'string' && values.description.trim() !== '') {
				if (wellFormed(values.description)) expected.texts.description = values.description;
				else expected.invalid.push('Description');
			}
			for (const [key, label] of [['languages', 'Languages'], ['dialects', 'Dialects']] as const) {
				const normalised = normalisedList(values[key]);
				if (normalised === undefined) expected.invalid.push(label);
				else if (normalised !== '') expected.texts[key] = normalised;
			}
			if (typeof values.avatarUrl === 'string' && values.avatarUrl.trim() !== '') {
				const url = values.avatarUrl.trim();
				if (/^https?:\/\/[^\s/]+/.test(url)) expected.texts.avatar_url = url;
				else expected.invalid.push('Avatar URL');
			}

			const request = expectRefusedOrExact('Z1', result, expected, requestsTo(sandbox, 'POST', '/voices/clone'));
			if (!request) return;
			const textFields = Object.keys(request.fields ?? {}).sort();
			expect(textFields).toEqual([...Object.keys(expected.texts), 'stability'].sort());
			expectTextParts(request, expected.texts);
			expectDecimal(request.fields?.stability, expected.numbers.stability);
			expect(result.items[0].json.name).toBe(expected.texts.name);
		}),
		settings,
	);
	expectBothOutcomes('Z1');
});

fuzz('Z2 speech: any text, stability and speed are refused up front or sent as exactly that JSON', async () => {
	const input = fc.record({ text: unicodeText, stability: numberish(0, 1), speed: fc.option(numberish(0.7, 1.2)) });
	await fc.assert(
		fc.asyncProperty(input, async (values) => {
			sandbox.reset();
			const parameters: INodeParameters = { text: '={{ $json.text }}', stability: '={{ $json.stability }}' };
			if (values.speed !== null) parameters.options = { speed: '={{ $json.speed }}' };
			const result = await runSpeech(sandbox, parameters, [{ json: values as IDataObject }]);

			const expected: Expected = { invalid: [], texts: {}, numbers: {} };
			if (!usableText(values.text)) expected.invalid.push('Text');
			const stability = toNumber(values.stability);
			if (!inRange(stability, 0, 1)) expected.invalid.push('Stability');
			const speed = toNumber(values.speed);
			if (values.speed !== null && !inRange(speed, 0.7, 1.2)) expected.invalid.push('Speed');

			const request = expectRefusedOrExact('Z2', result, expected, requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-mini-v1-preview'));
			if (!request) return;
			const json: IDataObject = { voice_id: 'ar-najdi-male-2', text: values.text, stability: stability === 0 ? 0 : stability, streaming: false };
			if (values.speed !== null) json.speed = speed;
			expect(request.json).toEqual(json);
			expect(result.items[0].json.characters).toBe([...values.text].length);
		}),
		settings,
	);
	expectBothOutcomes('Z2');
});

fuzz('Z3 preview: any text, similarity and speed are refused up front or sent exactly', async () => {
	const input = fc.record({ text: unicodeText, similarity: numberish(0, 1), speed: fc.option(numberish(0.7, 1.2)) });
	await fc.assert(
		fc.asyncProperty(input, async (values) => {
			sandbox.reset();
			const parameters: INodeParameters = { text: '={{ $json.text }}', similarity: '={{ $json.similarity }}' };
			if (values.speed !== null) parameters.options = { speed: '={{ $json.speed }}' };
			const result = await runPreview(sandbox, parameters, [recordingItem(values as IDataObject)], { binaryMode: 'default' });

			const expected: Expected = { invalid: [], texts: { model_id: 'faseeh-mini-v1-preview' }, numbers: {} };
			const trimmed = values.text.trim();
			// Faseeh's documented rule: at least 3 words and 10 characters.
			if (usableText(values.text) && trimmed.split(/\s+/u).length >= 3 && [...trimmed].length >= 10) expected.texts.text = values.text;
			else expected.invalid.push('Text');
			const similarity = toNumber(values.similarity);
			if (inRange(similarity, 0, 1)) expected.numbers.similarity = similarity;
			else expected.invalid.push('Similarity');
			const speed = toNumber(values.speed);
			if (values.speed !== null) {
				if (inRange(speed, 0.7, 1.2)) expected.numbers.speed = speed;
				else expected.invalid.push('Speed');
			}

			const request = expectRefusedOrExact('Z3', result, expected, requestsTo(sandbox, 'POST', '/voices/preview'));
			if (!request) return;
			expect(Object.keys(request.fields ?? {}).sort()).toEqual([...Object.keys(expected.texts), ...Object.keys(expected.numbers)].sort());
			expectTextParts(request, expected.texts);
			for (const [field, value] of Object.entries(expected.numbers)) expectDecimal(request.fields?.[field], value);
		}),
		settings,
	);
	expectBothOutcomes('Z3');
});
