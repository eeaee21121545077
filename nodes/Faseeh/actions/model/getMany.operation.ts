import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { listOf } from '../../../shared/methods/loadOptions';
import { API_PATHS, faseehJson } from '../../../shared/transport';
import { listOptions, retryServerErrors } from '../common';

const properties: INodeProperties[] = [listOptions];

export const description = updateDisplayOptions({ show: { resource: ['model'], operation: ['getMany'] } }, properties);

export async function execute(this: IExecuteFunctions, itemIndex: number): Promise<INodeExecutionData[]> {
	const models = await faseehJson.call(this, {
		method: 'GET',
		path: API_PATHS.models,
		itemIndex,
		retryServerErrors: retryServerErrors(this, itemIndex),
	});
	return listOf<IDataObject>(models).map((model) => ({ json: model }));
}
