/** The documented error shape (`{ errorCode, errorMessage }`) and the sandbox's error answers. */

/** A validation, routing or admission failure answered with the documented error body. */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly code: number,
		message: string,
		readonly headers: Record<string, string> = {},
	) {
		super(message);
	}
}

export const bad = (message: string) => new ApiError(400, 40001, message);
export const notFound = (message = 'Not found') => new ApiError(404, 40401, message);

/** Default bodies for status faults without an explicit body. */
export const DEFAULT_ERRORS: Record<number, [number, string]> = {
	400: [40001, 'Validation error'],
	401: [40101, 'Invalid or missing API key'],
	402: [40201, 'Insufficient wallet balance. Required: $0.05, Available: $0.02'],
	403: [40301, 'Model not enabled for this account'],
	404: [40401, 'Not found'],
	413: [41301, 'Payload too large'],
	415: [41501, 'Unsupported media type'],
	429: [42901, 'Concurrency limit exceeded. Current: 2, Maximum: 2'],
	500: [50001, 'Internal server error'],
};

export interface ErrorBody {
	errorCode: number | string;
	errorMessage: string;
}

/** `codeAsString`: errorCode as "40001", as some doc pages show. */
export function errorBody(code: number, message: string, codeAsString = false): ErrorBody {
	return { errorCode: codeAsString ? String(code) : code, errorMessage: message };
}
