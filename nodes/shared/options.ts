import type { IDataObject, IExecuteFunctions } from 'n8n-workflow';

import { DEFAULT_MAX_FILE_SIZE_MB } from './binary';
import type { ConvertMode } from './decode/convert';
import { CONVERT_MODES } from './decode/convert';
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

/** Options → Convert Input to WAV, checked (default Auto). */
export function convertMode(this: IExecuteFunctions, itemIndex: number): ConvertMode {
	const options = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
	const value = options.convertInput ?? 'auto';
	if (!CONVERT_MODES.includes(value as ConvertMode)) {
		throw new ParameterValidator(this.getNode(), itemIndex).fail('Convert Input to WAV', `must be Auto, Always or Never, got ${JSON.stringify(value)}`);
	}
	return value as ConvertMode;
}
