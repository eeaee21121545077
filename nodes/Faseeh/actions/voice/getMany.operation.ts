import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { listOf } from '../../../shared/methods/loadOptions';
import { API_PATHS, faseehJson, isFaseehStatus } from '../../../shared/transport';
import { voiceListMissingError } from '../../../shared/transport/errors';
import { applyLimit, limitProperties, listOptions, retryServerErrors } from '../common';

export const description = updateDisplayOptions(
	{ show: { resource: ['voice'], operation: ['getMany'] } },
	[...limitProperties, listOptions],
);

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const result = await faseehJson
		.call(this, { method: 'GET', path: API_PATHS.voices, itemIndex, retryServerErrors: retryServerErrors(this, itemIndex) })
		.then((voices) => ({ voices }), (error: unknown) => ({ error }));
	// Only the 404 gets its own words; every other error goes on as the transport built it.
	if ('error' in result) {
		if (isFaseehStatus(result.error, 404)) throw voiceListMissingError(this.getNode(), result.error, itemIndex);
		throw result.error;
	}
	const { voices } = result;
	return applyLimit(this, itemIndex, listOf<IDataObject>(voices)).map((voice) => ({ json: voice }));
}
