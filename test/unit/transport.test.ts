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

describe('TLS failures and a connect timeout keep their reason and say the fix', () => {
	const node: INode = { id: '1', name: 'Faseeh', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
	const classify = (error: unknown) => networkError(node, findCause(error), { timeoutSeconds: 3, target: 'faseeh.example:443', elapsedMs: 40 });
	const v2 = (code: string, message: string) => ({ message: 'n8n generic text', httpCode: code, cause: { code, message } });
	const v1123 = (httpCode: string, messages: string[]) => ({ message: 'n8n generic text', httpCode, messages, cause: undefined });

	it.each([
		['self-signed (2.x)', v2('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), /self-signed TLS certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/, /NODE_EXTRA_CA_CERTS/],
		['self-signed in chain (1.123)', v1123('SELF_SIGNED_CERT_IN_CHAIN', ['self-signed certificate in certificate chain']), /self-signed TLS certificate/, /NODE_EXTRA_CA_CERTS/],
		['expired', v2('CERT_HAS_EXPIRED', 'certificate has expired'), /expired or not yet valid \(CERT_HAS_EXPIRED\)$/, /clock/],
		['wrong host', v2('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), /certificate for another host name/, /host name the certificate is for/],
		['chain not verifiable', v1123('UNABLE_TO_VERIFY_LEAF_SIGNATURE', ['unable to verify the first certificate']), /cannot verify/, /intermediate certificates/],
		['http on an https URL', v2('EPROTO', 'SSL routines:ssl3_get_record:wrong version number'), /did not complete a TLS handshake \(EPROTO\)$/, /http-only server/],
	])('%s', (_name, error, message, fix) => {
		const built = classify(error);
		expect(built.message).toMatch(message);
		expect(built.message).toContain('faseeh.example:443');
		expect(built.description).toMatch(fix);
		expect(built.context.errorCode).toBe(findCause(error).code);
		expect(built.context.errorCode).not.toBeNull();
	});

	it('the operating system giving up on connecting is not the node’s Timeout', () => {
		const built = classify(v2('ETIMEDOUT', 'connect ETIMEDOUT 10.255.255.1:443'));
		expect(built.message).toBe('Could not connect to Faseeh at faseeh.example:443: the connection attempt timed out');
		expect(built.description).toMatch(/firewall/);
		expect(classify(v2('ECONNABORTED', 'timeout of 3000ms exceeded')).message).toBe('Faseeh did not answer within 3 seconds (timeout)');
	});
});
