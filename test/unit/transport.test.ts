import { parseFaseehError, parseRetryAfter } from '../../nodes/shared/transport';

describe('parseFaseehError', () => {
	it.each([
		['errorCode number', { errorCode: 40201, errorMessage: 'Insufficient wallet balance' }, 40201, 'Insufficient wallet balance'],
		['errorCode string', { errorCode: '40001', errorMessage: 'text is required' }, '40001', 'text is required'],
		['code/message', { code: 40301, message: 'Model not enabled' }, 40301, 'Model not enabled'],
		['JSON in a Buffer', Buffer.from('{"errorCode":42901,"errorMessage":"Too many"}'), 42901, 'Too many'],
		['JSON text', '{"errorMessage":"x"}', undefined, 'x'],
		['HTML', '<html><body>Bad Gateway</body></html>', undefined, undefined],
		['array', [1, 2], undefined, undefined],
		['null', null, undefined, undefined],
	])('%s', (_name, body, code, message) => {
		expect(parseFaseehError(body)).toEqual({ code, message });
	});
});

describe('parseRetryAfter', () => {
	it('reads delay seconds and HTTP dates', () => {
		const now = Date.parse('2026-11-22T10:00:00Z');
		expect(parseRetryAfter('3', now)).toBe(3);
		expect(parseRetryAfter('0.5', now)).toBe(0.5);
		expect(parseRetryAfter('Sun, 22 Nov 2026 10:00:04 GMT', now)).toBe(4);
		expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0);
		expect(parseRetryAfter(undefined, now)).toBeUndefined();
		expect(parseRetryAfter('soon', now)).toBeUndefined();
	});
});
