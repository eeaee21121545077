import type {
	Icon,
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	ICredentialType,
	IHttpRequestOptions,
	INodeProperties,
} from 'n8n-workflow';

import {
	BASE_URL_CHOICES,
	DEFAULT_BASE_URL,
	insecureUrlReason,
	PLAN_CHOICES,
} from '../nodes/shared/transport/baseUrl';

export class FaseehApi implements ICredentialType {
	name = 'faseehApi';

	displayName = 'Faseeh API';

	icon: Icon = { light: 'file:../icons/faseeh.svg', dark: 'file:../icons/faseeh.dark.svg' };

	documentationUrl = 'https://github.com/faseeh-n8n/n8n-nodes-faseeh#credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'API Key',
			name: 'apiKey',
			type: 'string',
			typeOptions: { password: true },
			required: true,
			default: '',
			description: 'The API key from the Faseeh dashboard. It is sent as the x-api-key header.',
		},
		{
			// Before 0.2 this was a text field: a URL saved then is still used as it is.
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'options',
			options: BASE_URL_CHOICES,
			default: DEFAULT_BASE_URL,
			description:
				'Where requests go. Faseeh and Munsit are one product: choose Munsit for a new credential (speech and speech-to-text with one key). UAE keys work only with the UAE host. The default stays Faseeh (Global) so that credentials saved with it keep their host.',
		},
		{
			displayName: 'Custom Base URL',
			name: 'customBaseUrl',
			type: 'string',
			default: '',
			placeholder: 'e.g. https://faseeh-proxy.example.com/api/v1',
			description: 'Must be https; plain http is accepted only for loopback hosts used in local testing',
			displayOptions: { show: { baseUrl: ['custom'] } },
		},
		{
			displayName: 'Plan (Concurrent Requests)',
			name: 'plan',
			type: 'options',
			options: PLAN_CHOICES,
			default: 'unknown',
			description:
				'Your Faseeh plan’s limit of concurrent requests per key. With it set, this n8n process never sends more at once, across all executions, so Faseeh does not answer 429.',
		},
		{
			displayName: 'Max Concurrent Requests',
			name: 'maxConcurrentRequests',
			type: 'number',
			typeOptions: { minValue: 1, numberPrecision: 0 },
			default: 2,
			description: 'How many requests Faseeh accepts at once for this key',
			displayOptions: { show: { plan: ['custom'] } },
		},
	];

	/**
	 * Adds the key header, and refuses to: this is the one place the key is attached, so a request
	 * over plain http to anything but loopback never carries it (the node checks the Base URL
	 * first; this also covers the credential test when the credential is saved).
	 *
	 * A function rather than a generic `={{$credentials.apiKey}}` header: n8n runs it for every
	 * request, and a plain assignment costs nothing where the expression engine would be started per
	 * request (it showed in the batch throughput profile).
	 */
	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		requestOptions: IHttpRequestOptions,
	): Promise<IHttpRequestOptions> {
		const target = requestTarget(requestOptions);
		const reason = insecureUrlReason(target);
		if (reason) {
			throw new Error(
				`The Base URL in the Faseeh API credential ${reason}: the API key is only sent over https (plain http only to localhost, 127.0.0.1 or ::1)`,
			);
		}
		requestOptions.headers = { ...requestOptions.headers, 'x-api-key': String(credentials.apiKey ?? '') };
		return requestOptions;
	}

	// GET /models is cheap, needs the key and spends nothing from the wallet. Redirects are not
	// followed: n8n's HTTP client keeps custom headers such as x-api-key on a redirect to another
	// host (it strips only Authorization and Cookie), so following one would hand the key to
	// whatever host the Location names, possibly over plain http. A 3xx fails the test instead.
	test: ICredentialTestRequest = {
		rules: REDIRECT_STATUSES.map((status) => ({
			type: 'responseCode' as const,
			properties: { value: status, message: redirectMessage(status) },
		})),
		request: {
			disableFollowRedirect: true,
			baseURL:
				'={{($credentials.baseUrl === "custom" ? String($credentials.customBaseUrl ?? "") : String($credentials.baseUrl || "' +
				DEFAULT_BASE_URL +
				'")).trim().replace(/\\/+$/, "")}}',
			url: '/models',
			method: 'GET',
		},
	};
}

const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

/** What the credential test says when the Base URL answers a redirect (never followed with the key). */
export function redirectMessage(status: number): string {
	return (
		`The Base URL answered a redirect (HTTP ${status}): the test does not follow it, because the API key would go ` +
		'with it to the host it names. Use the final URL as the Base URL (for example https instead of http, or the ' +
		'proxy’s real address), or choose one of the listed Faseeh hosts.'
	);
}

/** The absolute URL a request goes to (its url, resolved against its baseURL). */
function requestTarget(options: IHttpRequestOptions): string {
	const url = String(options.url ?? '');
	if (/^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
	const base = String(options.baseURL ?? '').replace(/\/+$/, '');
	return `${base}${url.startsWith('/') || url === '' ? '' : '/'}${url}`;
}
