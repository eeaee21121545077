import type { IHttpRequestOptions } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import { credentialBaseUrl, credentialPlanLimit } from '../../nodes/shared/transport/baseUrl';

const credential = new FaseehApi();
const KEY = 'fsk-unit-0f1e2d3c4b5a69788796a5b4c3d2e1f0';

describe('authenticate: the one place the key is attached', () => {
	it.each([
		['https://api.faseeh.ai/api/v1', '/models'],
		['http://127.0.0.1:8787/api/v1', '/voices/clone'],
		['http://localhost:8787/api/v1', '/models'],
		['http://[::1]:8787/api/v1', '/models'],
	])('adds x-api-key for %s', async (baseURL, url) => {
		const options = await credential.authenticate({ apiKey: KEY }, { baseURL, url, headers: { accept: 'x' } });
		expect(options.headers).toEqual({ accept: 'x', 'x-api-key': KEY });
	});

	it.each([
		['http://api.example.com/api/v1', '/models'],
		['http://[::ffff:127.0.0.1]:8787/api/v1', '/models'],
		['http://10.0.0.5/api/v1', '/models'],
		['', 'http://api.example.com/api/v1/models'],
		['ftp://api.example.com', '/models'],
	])('refuses plain http to %s %s (the credential test too): the key is never set', async (baseURL, url) => {
		const options: IHttpRequestOptions = { baseURL, url, headers: {} };
		await expect(credential.authenticate({ apiKey: KEY }, options)).rejects.toThrow(/must use https|not a valid URL/);
		expect(options.headers).toEqual({});
		await credential.authenticate({ apiKey: KEY }, options).catch((error: Error) => expect(error.message).not.toContain(KEY));
	});

	it('the credential test goes to the chosen host, the custom URL, or a URL saved before the choices existed', () => {
		const expression = String(credential.test.request.baseURL);
		expect(expression).toContain('$credentials.customBaseUrl');
		expect(credential.properties.find((property) => property.name === 'baseUrl')?.type).toBe('options');
	});
});

describe('credentialBaseUrl', () => {
	it.each([
		[{}, 'https://api.faseeh.ai/api/v1'],
		[{ baseUrl: 'https://ae.api.faseeh.ai/api/v1' }, 'https://ae.api.faseeh.ai/api/v1'],
		[{ baseUrl: 'https://api.munsit.com/api/v1' }, 'https://api.munsit.com/api/v1'],
		[{ baseUrl: 'custom', customBaseUrl: ' https://proxy.example.com/faseeh/api/v1/ ' }, 'https://proxy.example.com/faseeh/api/v1'],
		[{ baseUrl: 'custom' }, ''],
		// Saved with 0.1's text field: used as it is.
		[{ baseUrl: 'http://127.0.0.1:8787/api/v1/' }, 'http://127.0.0.1:8787/api/v1'],
	])('%j → %s', (data, expected) => {
		expect(credentialBaseUrl(data)).toBe(expected);
	});
});

describe('credentialPlanLimit', () => {
	it.each([
		[{}, undefined],
		[{ plan: 'unknown' }, undefined],
		[{ plan: 'basic' }, 2],
		[{ plan: 'starter' }, 5],
		[{ plan: 'growth' }, 10],
		[{ plan: 'custom', maxConcurrentRequests: 25 }, 25],
		[{ plan: 'custom', maxConcurrentRequests: 0 }, undefined],
		[{ plan: 'custom', maxConcurrentRequests: 2.5 }, undefined],
	])('%j → %s', (data, expected) => {
		expect(credentialPlanLimit(data)).toBe(expected);
	});
});
