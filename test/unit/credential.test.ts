import type { ICredentialDataDecryptedObject, IHttpRequestOptions, INodeParameters } from 'n8n-workflow';
import { NodeHelpers } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import {
	credentialBaseUrl,
	credentialPlanLimit,
	DEFAULT_BASE_URL,
	FASEEH_GLOBAL_BASE_URL,
	FASEEH_UAE_BASE_URL,
	MUNSIT_BASE_URL,
} from '../../nodes/shared/transport/baseUrl';

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

/**
 * What n8n keeps of a credential saved in its editor, and what the nodes get from it at run time,
 * with n8n-workflow's own functions called as n8n calls them:
 * - the editor starts a new credential from every field's default, and before saving keeps only
 *   the values that differ from their defaults (`getNodeParameters(properties, data, false, false,
 *   null, null)`: CredentialEdit.vue `saveCredential` in n8n 1.85.4; the same call in 2.41.1's
 *   credential form, read in their editor bundles);
 * - at run time CredentialsHelper.applyDefaultsAndOverwrites fills the defaults back in
 *   (`getNodeParameters(properties, stored, true, false, null, null)`).
 * n8n's REST API and `n8n import:credentials` store the data as given.
 */
describe('the Base URL n8n stores, and the host a stored credential reaches', () => {
	const properties = credential.properties;
	const editorSave = (changes: INodeParameters): INodeParameters => {
		const form = Object.fromEntries(properties.map((property) => [property.name, property.default])) as INodeParameters;
		return NodeHelpers.getNodeParameters(properties, { ...form, ...changes }, false, false, null, null) ?? {};
	};
	const hostAtRunTime = (stored: INodeParameters) =>
		credentialBaseUrl(NodeHelpers.getNodeParameters(properties, stored, true, false, null, null) as ICredentialDataDecryptedObject);

	it('left at its default, the Base URL is not stored at all: a credential saved so keeps calling api.faseeh.ai', () => {
		const stored = editorSave({ apiKey: KEY });
		expect(stored).toEqual({ apiKey: KEY });
		expect(hostAtRunTime(stored)).toBe('https://api.faseeh.ai/api/v1');
		// Why the default stays the Faseeh (Global) host although Munsit is recommended: a credential
		// saved at the old default and a new one left at the default are the same stored data, so a new
		// default would move every credential saved with the old one.
		expect(DEFAULT_BASE_URL).toBe(FASEEH_GLOBAL_BASE_URL);
		expect(properties.find((property) => property.name === 'baseUrl')?.default).toBe(FASEEH_GLOBAL_BASE_URL);
	});

	it.each([
		['Munsit (the recommended host)', { baseUrl: MUNSIT_BASE_URL }, { baseUrl: MUNSIT_BASE_URL }, 'https://api.munsit.com/api/v1'],
		['the UAE host', { baseUrl: FASEEH_UAE_BASE_URL }, { baseUrl: FASEEH_UAE_BASE_URL }, 'https://ae.api.faseeh.ai/api/v1'],
		['a custom URL', { baseUrl: 'custom', customBaseUrl: 'https://proxy.example.com/api/v1/' }, { baseUrl: 'custom', customBaseUrl: 'https://proxy.example.com/api/v1/' }, 'https://proxy.example.com/api/v1'],
		['a plan only', { plan: 'growth' }, { plan: 'growth' }, 'https://api.faseeh.ai/api/v1'],
	])('chosen in the editor, %s is stored and used', (_label, changes, expected, host) => {
		const stored = editorSave({ apiKey: KEY, ...changes });
		expect(stored).toEqual({ apiKey: KEY, ...expected });
		expect(hostAtRunTime(stored)).toBe(host);
	});

	it.each([
		['the Faseeh (Global) URL, stored by the API or a CLI import', { baseUrl: FASEEH_GLOBAL_BASE_URL }, 'https://api.faseeh.ai/api/v1'],
		['a URL typed into the text field this was before the choices', { baseUrl: 'https://api.faseeh.ai/api/v1/' }, 'https://api.faseeh.ai/api/v1'],
		['the Munsit URL typed into that text field', { baseUrl: 'https://api.munsit.com/api/v1' }, 'https://api.munsit.com/api/v1'],
	])('stored as given, %s is used as it is', (_label, stored, host) => {
		expect(hostAtRunTime({ apiKey: KEY, ...stored })).toBe(host);
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
