import type { INode } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

/**
 * Parameter checks run before any request, so a request that Faseeh would refuse never spends
 * wallet balance. Each failure names the parameter and the item.
 */
export class ParameterValidator {
	constructor(
		private readonly node: INode,
		private readonly itemIndex: number,
	) {}

	fail(parameterLabel: string, problem: string, description?: string): NodeOperationError {
		return new NodeOperationError(
			this.node,
			`Parameter "${parameterLabel}" ${problem} [item ${this.itemIndex}]`,
			{ itemIndex: this.itemIndex, description },
		);
	}

	/** A non-empty string (whitespace-only counts as empty), at most `maxLength` characters. */
	requiredText(parameterLabel: string, value: unknown, maxLength?: number): string {
		if (typeof value !== 'string' && typeof value !== 'number') {
			throw this.fail(parameterLabel, `must be text, got ${describe(value)}`);
		}
		const text = String(value);
		if (text.trim() === '') throw this.fail(parameterLabel, 'is empty');
		this.wellFormed(parameterLabel, text);
		if (maxLength !== undefined && [...text].length > maxLength) {
			throw this.fail(
				parameterLabel,
				`is ${[...text].length} characters long; the maximum is ${maxLength}`,
			);
		}
		return text;
	}

	/**
	 * Refuses text with half a character (an unpaired UTF-16 surrogate, e.g. an emoji cut in two by
	 * an expression's slice): it has no UTF-8 form, so it would reach Faseeh silently changed.
	 */
	wellFormed(parameterLabel: string, text: string): string {
		if (LONE_SURROGATE.test(text)) {
			throw this.fail(
				parameterLabel,
				'contains half of a character (an unpaired UTF-16 surrogate)',
				'This happens when an expression cuts text in the middle of an emoji or other character, e.g. with slice(). Cut at a whole character instead.',
			);
		}
		return text;
	}

	/** A finite number within [min, max]; numeric strings from expressions are accepted. */
	numberInRange(parameterLabel: string, value: unknown, min: number, max: number): number {
		const number =
			typeof value === 'number'
				? value
				: typeof value === 'string' && value.trim() !== ''
					? Number(value)
					: Number.NaN;
		if (!Number.isFinite(number) || number < min || number > max) {
			throw this.fail(
				parameterLabel,
				`must be a number from ${min} to ${max}, got ${describe(value)}`,
			);
		}
		return number;
	}

	/** An absolute http(s) URL. */
	httpUrl(parameterLabel: string, value: unknown): string {
		const text = typeof value === 'string' ? value.trim() : '';
		let url: URL | undefined;
		try {
			url = new URL(text);
		} catch {
			url = undefined;
		}
		if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
			throw this.fail(
				parameterLabel,
				`must be an http(s) URL, got ${describe(value)}`,
				'e.g. https://example.com/avatar.png',
			);
		}
		return text;
	}

	/**
	 * Joins list values into Faseeh's comma-separated form ("ar,en"): entries are trimmed and
	 * lower-cased, empty ones dropped and duplicates removed. Accepts an array or a comma-separated
	 * string (from an expression). An entry with inner spaces or symbols is refused, not guessed at.
	 */
	list(parameterLabel: string, value: unknown): string {
		const entries = Array.isArray(value)
			? value.map((entry) => String(entry))
			: typeof value === 'string'
				? value.split(',')
				: [];
		const seen = new Set<string>();
		for (const entry of entries) {
			const clean = entry.trim().toLowerCase();
			if (clean === '') continue;
			if (!/^[a-z0-9_-]+$/.test(clean)) {
				throw this.fail(
					parameterLabel,
					`has an entry that is not a code: ${describe(entry)}`,
					'Use codes such as ar, en or najdi, hijazi, separated by commas.',
				);
			}
			seen.add(clean);
		}
		return [...seen].join(',');
	}

	/** Speech text for preview: Faseeh needs at least 3 words and 10 characters. */
	previewText(parameterLabel: string, value: unknown): string {
		const text = this.requiredText(parameterLabel, value);
		const words = text.trim().split(/\s+/u).length;
		const characters = [...text.trim()].length;
		if (words < 3 || characters < 10) {
			throw this.fail(
				parameterLabel,
				`must have at least 3 words and 10 characters (it has ${words} words, ${characters} characters)`,
			);
		}
		return text;
	}
}

/** A high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function describe(value: unknown): string {
	if (typeof value === 'string') {
		const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
		return `"${shown}"`;
	}
	if (typeof value === 'number') return String(value);
	if (value === undefined || value === null) return 'nothing';
	return typeof value;
}
