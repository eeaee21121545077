import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeApiError, updateDisplayOptions } from 'n8n-workflow';

import { listOf } from '../../../shared/methods/loadOptions';
import { API_PATHS, faseehJson } from '../../../shared/transport';
import { applyLimit, limitProperties, listOptions, retryServerErrors } from '../common';

export const description = updateDisplayOptions(
	{ show: { resource: ['voice'], operation: ['getMany'] } },
	[...limitProperties, listOptions],
);

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	let voices: unknown;
	try {
		voices = await faseehJson.call(this, {
			method: 'GET',
			path: API_PATHS.voices,
			itemIndex,
			retryServerErrors: retryServerErrors(this, itemIndex),
		});
	} catch (error) {
		if (error instanceof NodeApiError && error.httpCode === '404') {
			throw new NodeApiError(this.getNode(), { errorMessage: error.message, httpCode: '404' }, {
				message: 'This Faseeh host does not offer the voice list (GET /voices answered 404)',
				description:
					'The voice list is documented for the Munsit host and may be missing on others. Type voice IDs directly in Speech → Generate, or switch the Base URL in the credential.',
				httpCode: '404',
				itemIndex,
			});
		}
		throw new NodeApiError(this.getNode(), error);
	}
	return applyLimit(this, itemIndex, listOf<IDataObject>(voices)).map((voice) => ({ json: voice }));
}
