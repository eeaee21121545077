import type { INode } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { ParameterValidator } from '../../nodes/shared/validate';

const node: INode = {
	id: 'n1',
	name: 'Faseeh Voice Clone',
	type: 'n8n-nodes-faseeh.faseehVoiceClone',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};
const check = new ParameterValidator(node, 3);

function failure(run: () => unknown): NodeOperationError {
	try {
		run();
	} catch (error) {
		expect(error).toBeInstanceOf(NodeOperationError);
		return error as NodeOperationError;
	}
	throw new Error('expected a NodeOperationError');
}

describe('ParameterValidator', () => {
	it('names the parameter and the item', () => {
		const error = failure(() => check.requiredText('Name', '   '));
		expect(error.message).toBe('Parameter "Name" is empty [item 3]');
		expect(error.context.itemIndex).toBe(3);
	});

	it('keeps text exactly, Arabic, diacritics and emoji included', () => {
		const text = '  مَرْحَبًا بِكَ 👋 في فصيح ';
		expect(check.requiredText('Text', text)).toBe(text);
	});

	it('counts characters, not UTF-16 units, against the maximum', () => {
		expect(check.requiredText('Name', '😀'.repeat(200), 200)).toHaveLength(400);
		expect(failure(() => check.requiredText('Name', 'a'.repeat(201), 200)).message).toContain(
			'is 201 characters long; the maximum is 200',
		);
	});

	it.each([
		[-0.1, '-0.1'],
		[1.1, '1.1'],
		[Number.NaN, 'NaN'],
		['abc', '"abc"'],
		['', '""'],
		[undefined, 'nothing'],
		[{}, 'object'],
	])('refuses stability %p', (value, shown) => {
		expect(failure(() => check.numberInRange('Stability', value, 0, 1)).message).toBe(
			`Parameter "Stability" must be a number from 0 to 1, got ${shown} [item 3]`,
		);
	});

	it.each([
		[0, 0],
		[1, 1],
		['0.75', 0.75],
		[' 0.2 ', 0.2],
	])('accepts stability %p', (value, expected) => {
		expect(check.numberInRange('Stability', value, 0, 1)).toBe(expected);
	});

	it.each(['javascript:alert(1)', 'ftp://example.com/a.png', 'not a url', '/relative.png', ''])(
		'refuses avatar URL %p',
		(url) => {
			expect(failure(() => check.httpUrl('Avatar URL', url)).message).toMatch(
				/^Parameter "Avatar URL" must be an http\(s\) URL/,
			);
		},
	);

	it('accepts http and https URLs', () => {
		expect(check.httpUrl('Avatar URL', ' https://example.com/a.png ')).toBe('https://example.com/a.png');
		expect(check.httpUrl('Avatar URL', 'http://example.com/a.png')).toBe('http://example.com/a.png');
	});

	it('normalises lists: spaces, case, duplicates and empty entries', () => {
		expect(check.list('Languages', ['ar', ' en ', 'AR', '', 'en'])).toBe('ar,en');
		expect(check.list('Dialects', ' najdi , ,hijazi,najdi,')).toBe('najdi,hijazi');
		expect(check.list('Dialects', [])).toBe('');
		expect(check.list('Dialects', undefined)).toBe('');
	});

	it('refuses a list entry that is not a code', () => {
		expect(failure(() => check.list('Dialects', ['gulf arabic'])).message).toBe(
			'Parameter "Dialects" has an entry that is not a code: "gulf arabic" [item 3]',
		);
	});

	it('checks preview text length in words and characters', () => {
		expect(check.previewText('Text', 'مرحبا بك في فصيح')).toBe('مرحبا بك في فصيح');
		expect(failure(() => check.previewText('Text', 'مرحبا بك')).message).toContain('it has 2 words');
		expect(failure(() => check.previewText('Text', 'a b c')).message).toContain('5 characters');
	});
});
