/** Injected faults: which request a fault applies to, and the answer a status/redirect/raw fault sends. */
import type * as http from 'node:http';
import { DEFAULT_ERRORS, type ErrorBody } from './errors';
import { sendRaw } from './responses';
import { JSON_CONTENT_TYPE, type Fault } from './types';

interface FaultEntry {
	fault: Fault;
	remaining: number;
}

/** Faults waiting for matching requests, each used `times` times (default once), first injected first. */
export class FaultQueue {
	private entries: FaultEntry[] = [];

	add(fault: Fault): void {
		this.entries.push({ fault, remaining: fault.times ?? 1 });
	}

	clear(): void {
		this.entries = [];
	}

	/** The first fault for this request, counted as used; `sub` is the path after /api/v1. */
	take(method: string, sub: string | undefined): Fault | undefined {
		const index = this.entries.findIndex(
			(entry) => entry.remaining > 0 && routeMatches(entry.fault.route, method, sub),
		);
		if (index < 0) return undefined;
		const entry = this.entries[index];
		entry.remaining--;
		if (entry.remaining <= 0) this.entries.splice(index, 1);
		return entry.fault;
	}
}

/** 'METHOD /path' with ':name' segments matching any non-empty segment; undefined matches all. */
export function routeMatches(route: string | undefined, method: string, sub: string | undefined): boolean {
	if (route === undefined) return true;
	if (sub === undefined) return false;
	const space = route.indexOf(' ');
	if (space < 0 || route.slice(0, space).toUpperCase() !== method) return false;
	const want = route.slice(space + 1).split('/');
	const got = sub.split('/');
	return want.length === got.length && want.every((seg, i) => (seg.startsWith(':') && got[i] !== '') || seg === got[i]);
}

/** Answers a status, redirect or raw fault (hang and reset are handled by the pipeline). */
export function sendFault(
	res: http.ServerResponse,
	fault: Fault,
	errBody: (code: number, message: string) => ErrorBody,
	retryAfter: Record<string, string>,
): void {
	switch (fault.kind) {
		case 'status': {
			let body: string | Buffer = '';
			let contentType: string | undefined = fault.contentType;
			if (typeof fault.body === 'string' || Buffer.isBuffer(fault.body)) {
				body = fault.body;
				contentType ??= typeof fault.body === 'string' ? 'text/plain; charset=utf-8' : 'application/octet-stream';
			} else if (fault.body !== undefined) {
				body = JSON.stringify(fault.body);
				contentType ??= JSON_CONTENT_TYPE;
			} else if (fault.status >= 400) {
				const [code, message] = DEFAULT_ERRORS[fault.status] ?? [fault.status * 100 + 1, 'Error'];
				body = JSON.stringify(errBody(code, message));
				contentType ??= JSON_CONTENT_TYPE;
			}
			const headers = { ...(fault.status === 429 ? retryAfter : {}), ...fault.headers };
			return sendRaw(res, fault.status, contentType, body, headers);
		}
		case 'redirect':
			return sendRaw(res, fault.status ?? 307, undefined, '', { Location: fault.location });
		case 'raw':
			return sendRaw(res, fault.status, fault.contentType, fault.body);
		default:
			// hang and reset never reach here.
			return;
	}
}
