import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { concurrencyOption, rateLimitWaitOption, retryOnServerErrorOption } from '../../shared/descriptions';

export const limitProperties: INodeProperties[] = [
	{
		displayName: 'Return All',
		name: 'returnAll',
		type: 'boolean',
		default: false,
		description: 'Whether to return all results or only up to a given limit',
	},
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		description: 'Max number of results to return',
		displayOptions: { show: { returnAll: [false] } },
	},
];

/** Faseeh lists are not paginated: the limit is applied to the full answer. */
export function applyLimit<T>(context: IExecuteFunctions, itemIndex: number, entries: T[]): T[] {
	if (context.getNodeParameter('returnAll', itemIndex, false)) return entries;
	const limit = context.getNodeParameter('limit', itemIndex, 50) as number;
	return entries.slice(0, Math.max(1, limit));
}

export const listOptions: INodeProperties = {
	displayName: 'Options',
	name: 'options',
	type: 'collection',
	placeholder: 'Add Option',
	default: {},
	options: [concurrencyOption, rateLimitWaitOption, retryOnServerErrorOption],
};

export function retryServerErrors(context: IExecuteFunctions, itemIndex: number): boolean {
	return (context.getNodeParameter('options', itemIndex, {}) as IDataObject).retryOnServerError === true;
}
