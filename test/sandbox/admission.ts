/**
 * Admission, decided when a request's headers arrive: 404 outside /api/v1, 401 for a wrong or
 * missing key (the sample WAVs need none), 429 when maxConcurrent requests are already served.
 */
import type * as http from 'node:http';
import { ApiError, notFound } from './errors';

export class Admission {
	/** Requests being served (not answered by an early 401/404/429): what maxConcurrent limits. */
	private admitted = 0;

	constructor(
		private readonly apiKey: string,
		private readonly maxConcurrent: number | undefined,
		private readonly retryAfterSeconds: number | undefined,
	) {}

	/** Requests being served now. */
	get count(): number {
		return this.admitted;
	}

	/** Headers every 429 carries. */
	retryAfterHeader(): Record<string, string> {
		return this.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(this.retryAfterSeconds) };
	}

	/**
	 * The early answer for this request, or undefined when it is admitted (then `release()` must
	 * be called once it is done). `sub` is the path after /api/v1, undefined outside the API.
	 */
	check(req: http.IncomingMessage, method: string, sub: string | undefined): ApiError | undefined {
		const isSample = method === 'GET' && sub !== undefined && /^\/samples\/[^/]+\.wav$/.test(sub);
		const max = this.maxConcurrent;
		if (sub === undefined) return notFound();
		if (!isSample && req.headers['x-api-key'] !== this.apiKey) {
			return new ApiError(401, 40101, 'Invalid or missing API key');
		}
		if (max !== undefined && this.admitted >= max) {
			return new ApiError(
				429,
				42901,
				`Concurrency limit exceeded. Current: ${this.admitted}, Maximum: ${max}`,
				this.retryAfterHeader(),
			);
		}
		return undefined;
	}

	/** Counts a request as served (also those carrying a fault: they hold a slot too). */
	admit(): void {
		this.admitted++;
	}

	release(): void {
		this.admitted--;
	}
}
