import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';

import { DEFAULT_MAX_FILE_SIZE_MB } from './binary';
import { DEFAULT_TIMEOUT_SECONDS } from './transport';
import { ParameterValidator } from './validate';

/** Options → Timeout, in seconds, checked. */
export function timeoutSeconds(this: IExecuteFunctions, itemIndex: number): number {
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	if (options.timeout === undefined) return DEFAULT_TIMEOUT_SECONDS;
	return new ParameterValidator(this.getNode(), itemIndex).numberInRange('Timeout', options.timeout, 1, 86400);
}

/** Options → Max File Size (MB), as bytes, checked. */
export function maxFileBytes(this: IExecuteFunctions, itemIndex: number): number {
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const check = new ParameterValidator(this.getNode(), itemIndex);
	const megabytes = check.numberInRange(
		'Max File Size (MB)',
		options.maxFileSizeMb ?? DEFAULT_MAX_FILE_SIZE_MB,
		0.001,
		Number.MAX_SAFE_INTEGER,
	);
	return Math.floor(megabytes * 1024 * 1024);
}
