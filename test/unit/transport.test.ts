import type { INode } from 'n8n-workflow';

import { parseFaseehError, parseRetryAfter } from '../../nodes/shared/transport';
import { findCause, networkError } from '../../nodes/shared/transport/errors';

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

describe('what n8n wraps a failed request in, per version (shapes seen by a probe node in real n8n 2.41.1, 1.123.81 and 1.85.4)', () => {
	const node: INode = { id: '1', name: 'Faseeh', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
	const classify = (error: unknown, elapsedMs = 100) =>
		networkError(node, findCause(error), { timeoutSeconds: 3, target: '127.0.0.1:8787', elapsedMs }).message;
	// 2.41.1 and 1.85.4 keep the AxiosError as `cause`; 1.123.81 resets `cause` to undefined and keeps
	// only httpCode (the axios code) and messages (axios's texts).
	const v2 = (code: string, message: string) => ({ message: 'n8n generic text', httpCode: code, cause: { code, message } });
	const v1123 = (httpCode: string, messages: string[]) => ({ message: 'n8n generic text', httpCode, messages, cause: undefined });

	it.each([
		['2.41.1 timeout', v2('ECONNABORTED', 'timeout of 3000ms exceeded'), 'Faseeh did not answer within 3 seconds (timeout)'],
		['1.123.81 timeout', v1123('ECONNABORTED', ['timeout of 3000ms exceeded', 'timeout of 3000ms exceeded']), 'Faseeh did not answer within 3 seconds (timeout)'],
		['1.123.81 reset', v1123('ECONNRESET', ['socket hang up', 'socket hang up']), 'The connection to Faseeh was closed before an answer arrived'],
		['1.123.81 refused', v1123('ECONNREFUSED', ['connect ECONNREFUSED 127.0.0.1:8787']), 'Could not connect to Faseeh at 127.0.0.1:8787: the connection was refused'],
		['2.41.1 cut off', v2('ERR_BAD_RESPONSE', 'stream has been aborted'), 'Faseeh’s answer was cut off: the connection closed before the whole answer arrived'],
		['1.123.81 cut off', v1123('200', ['stream has been aborted']), 'Faseeh’s answer was cut off: the connection closed before the whole answer arrived'],
	])('%s', (_name, error, message) => {
		expect(classify(error)).toBe(message);
	});

	it('an answer cut off by the timeout firing mid-body is the timeout', () => {
		expect(classify(v2('ERR_BAD_RESPONSE', 'stream has been aborted'), 3000)).toBe('Faseeh did not answer within 3 seconds (timeout)');
		expect(classify(v1123('200', ['stream has been aborted']), 3010)).toBe('Faseeh did not answer within 3 seconds (timeout)');
	});
});
