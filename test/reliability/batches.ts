/**
 * Batches where every 7th item fails (items 6, 13, 20, …), either before any request (an empty
 * name) or at the API (a model the sandbox does not know: 400 / 40001). Shared by batches.test.ts
 * and the secrets sweep.
 */
import type { IDataObject, INodeParameters } from 'n8n-workflow';

import type { FixtureItem, NodeRunResult } from '../harness/n8nHarness';
import type { RunOptions } from '../helpers/faseeh';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { cloneItem, runClone } from './support';

export type BatchFailure = 'pre-request' | 'api';

export const RETIRED_MODEL = 'faseeh-v0-retired';

/** Every 7th item: 6, 13, 20, … */
export function failsInBatch(index: number): boolean {
	return (index + 1) % 7 === 0;
}

export function batchItems(count: number): FixtureItem[] {
	return Array.from({ length: count }, (_unused, index) => cloneItem({ index }));
}

/** The failure is made item-specific with an expression on the item's own index. */
export function batchParameters(failure: BatchFailure, concurrency: number): INodeParameters {
	const every7th = '($json.index + 1) % 7 === 0';
	return {
		name: failure === 'pre-request' ? `={{ ${every7th} ? "" : "Voice " + $json.index }}` : '={{ "Voice " + $json.index }}',
		model: failure === 'api' ? `={{ ${every7th} ? "${RETIRED_MODEL}" : "faseeh-v1-preview" }}` : 'faseeh-v1-preview',
		options: { concurrency },
	};
}

/** The JSON a failed item carries under "On Error: Continue". */
export function expectedFailureJson(failure: BatchFailure, index: number): IDataObject {
	if (failure === 'pre-request') return { error: `Parameter "Name" is empty [item ${index}]` };
	return {
		error: `Model not found: ${RETIRED_MODEL}`,
		description: `Faseeh rejected the request as invalid. Check the parameter the message names. (HTTP 400, Faseeh error code 40001) [item ${index}]`,
		httpCode: '400',
		errorCode: 40001,
	};
}

export async function runBatch(
	sandbox: FaseehSandbox,
	failure: BatchFailure,
	count: number,
	concurrency: number,
	options: RunOptions = {},
): Promise<NodeRunResult> {
	return await runClone(sandbox, batchParameters(failure, concurrency), batchItems(count), options);
}

/** Item indexes the sandbox received a clone request for (from the "Voice N" name), sorted. */
export function sentIndexes(sandbox: FaseehSandbox): number[] {
	return sandbox.requests
		.map((request) => Number(/^Voice (\d+)$/.exec(request.fields?.name ?? '')?.[1]))
		.filter((index) => Number.isInteger(index))
		.sort((a, b) => a - b);
}

export function range(from: number, to: number): number[] {
	return Array.from({ length: to - from }, (_unused, offset) => from + offset);
}
