import { createHash } from 'node:crypto';

import type { INodeExecutionData, INodeParameters, INodeType } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import type { BinaryMode, FixtureItem, NodeRunResult } from '../harness/n8nHarness';
import { runNode } from '../harness/n8nHarness';
import { makePcm16, wrapWav } from '../sandbox/audio';
import { FaseehSandbox } from '../sandbox/FaseehSandbox';
import type { FaseehSandboxOptions, RecordedRequest } from '../sandbox/FaseehSandbox';

/** A key long and random enough that finding it anywhere cannot be a coincidence. */
export const TEST_API_KEY = `fsk-test-${createHash('sha256').update('faseeh wire tests').digest('hex').slice(0, 32)}`;

export async function startSandbox(options: FaseehSandboxOptions = {}): Promise<FaseehSandbox> {
	const sandbox = new FaseehSandbox({ apiKey: TEST_API_KEY, ...options });
	await sandbox.start();
	return sandbox;
}

export function sha256(data: Buffer): string {
	return createHash('sha256').update(data).digest('hex');
}

/** Distinct, valid WAV recordings: `seconds` of a tone at `frequency` Hz. */
export function wavRecording(seconds: number, frequency: number): Buffer {
	return wrapWav(makePcm16(seconds, 24000, frequency));
}

export interface RunOptions {
	binaryMode?: BinaryMode;
	onError?: 'stopWorkflow' | 'continueRegularOutput' | 'continueErrorOutput';
	apiKey?: string;
	baseUrl?: string;
	/** More credential fields, e.g. `{ plan: 'basic' }`. */
	credential?: Record<string, string | number>;
	/** Cancel the execution when this settles (see RunNodeOptions.cancelWhen). */
	cancelWhen?: Promise<unknown>;
}

export async function runAgainst(
	sandbox: FaseehSandbox,
	nodeType: INodeType,
	parameters: INodeParameters,
	items: FixtureItem[],
	options: RunOptions = {},
): Promise<NodeRunResult> {
	return await runNode({
		nodeType,
		parameters,
		items,
		credentials: {
			faseehApi: { apiKey: options.apiKey ?? TEST_API_KEY, baseUrl: options.baseUrl ?? sandbox.baseUrl, ...options.credential },
		},
		credentialTypes: [new FaseehApi()],
		binaryMode: options.binaryMode,
		onError: options.onError,
		cancelWhen: options.cancelWhen,
	});
}

export function requestsTo(sandbox: FaseehSandbox, method: string, path: string): RecordedRequest[] {
	return sandbox.requests.filter((request) => request.method === method && request.path === `/api/v1${path}`);
}

export function partNames(request: RecordedRequest): string[] {
	return (request.parts ?? []).map((part) => part.name).sort();
}

export function part(request: RecordedRequest, name: string) {
	const found = (request.parts ?? []).filter((candidate) => candidate.name === name);
	if (found.length !== 1) throw new Error(`expected one part "${name}", found ${found.length}`);
	return found[0];
}

/** Serialises anything the way n8n would show or store it, to search it for the key. */
export function serialised(value: unknown): string {
	const seen = new WeakSet<object>();
	return JSON.stringify(value, function (key, inner: unknown) {
		if (inner instanceof Error) {
			const copy: Record<string, unknown> = { name: inner.name, message: inner.message, stack: inner.stack };
			for (const own of Object.getOwnPropertyNames(inner)) copy[own] = (inner as unknown as Record<string, unknown>)[own];
			return copy;
		}
		if (typeof inner === 'object' && inner !== null) {
			if (seen.has(inner)) return '[circular]';
			seen.add(inner);
		}
		return inner;
	});
}

export function outputJson(items: INodeExecutionData[]) {
	return items.map((item) => item.json);
}
