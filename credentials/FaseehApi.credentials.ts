import type {
	Icon,
	ICredentialDataDecryptedObject,
	ICredentialTestRequest,
	ICredentialType,
	IHttpRequestOptions,
	INodeProperties,
} from 'n8n-workflow';

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
			displayName: 'Base URL',
			name: 'baseUrl',
			type: 'string',
			default: 'https://api.faseeh.ai/api/v1',
			placeholder: 'e.g. https://api.faseeh.ai/api/v1',
			description:
				'The Faseeh API host. Use https://ae.api.faseeh.ai/api/v1 for the UAE data-residency host (its keys are region-specific). Must be https; plain http is accepted only for loopback hosts used in local testing.',
		},
	];

	/**
	 * Adds the key header. A function rather than a generic `={{$credentials.apiKey}}` header:
	 * n8n runs it for every request, and a plain assignment costs nothing where the expression
	 * engine would be started per request (it showed in the batch throughput profile).
	 */
	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		requestOptions: IHttpRequestOptions,
	): Promise<IHttpRequestOptions> {
		requestOptions.headers = { ...requestOptions.headers, 'x-api-key': String(credentials.apiKey ?? '') };
		return requestOptions;
	}

	// GET /models is cheap, needs the key and spends nothing from the wallet.
	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{$credentials.baseUrl.replace(/\\/+$/, "")}}',
			url: '/models',
			method: 'GET',
		},
	};
}
