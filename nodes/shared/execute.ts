import type { IDataObject, IExecuteFunctions, INodeExecutionData, JsonObject } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { GateClosedError, MAX_CONCURRENCY, RequestGate, setRequestGate } from './concurrency';
import { ParameterValidator } from './validate';

export type ItemOperation = (itemIndex: number) => Promise<INodeExecutionData[]>;

/**
 * Runs `operation` for every input item with at most Options → Concurrency Faseeh requests in
 * flight (adapting to 429s; see RequestGate), and returns the outputs in input order with
 * `pairedItem` set.
 *
 * Twice as many items as the concurrency are worked on at once: while `concurrency` requests are
 * in flight, the next items are already checked (parameters, binary metadata) and wait for a
 * slot, so a freed slot is used at once. Requests still go out in input order, and a batch never
 * reads all its files up front.
 *
 * With "continue on fail" a failed item yields an error item and the others go on. Otherwise the
 * first failure stops the batch: no further request is sent (items checked ahead but not yet sent
 * are dropped, so a bad item found early spends nothing on the ones before it), requests in
 * flight finish, and the lowest failed item's error is thrown.
 */
export interface RunOptions {
	/**
	 * Without continue-on-fail the outputs of items that succeeded are lost with the failure: what
	 * to tell about them in the error (the voices a clone batch already created, say), or undefined.
	 */
	describeCompleted?: (completed: Array<{ itemIndex: number; json: IDataObject }>) => string | undefined;
}

export async function runForEachItem(
	this: IExecuteFunctions,
	operation: ItemOperation,
	options: RunOptions = {},
): Promise<INodeExecutionData[]> {
	const itemCount = this.getInputData().length;
	const concurrency = itemCount > 0 ? readConcurrency(this) : 1;
	const gate = new RequestGate(concurrency);
	setRequestGate(this, gate);
	const results: INodeExecutionData[][] = new Array(itemCount);
	const continueOnFail = this.continueOnFail();
	const toErrorOutput = continueOnFail && this.getNode().onError === 'continueErrorOutput';
	const cancelSignal = this.getExecutionCancelSignal?.();
	const onCancel = () => gate.close();
	cancelSignal?.addEventListener('abort', onCancel);
	let nextItem = 0;
	const failures: Array<{ itemIndex: number; error: unknown }> = [];

	const worker = async () => {
		while (failures.length === 0 && !cancelSignal?.aborted && nextItem < itemCount) {
			const itemIndex = nextItem++;
			try {
				const output = await operation(itemIndex);
				results[itemIndex] = output.map((data) => ({ ...data, pairedItem: { item: itemIndex } }));
			} catch (caught) {
				// Not sent because the batch stopped: the error that stopped it is what counts.
				if (caught instanceof GateClosedError) continue;
				const error = withItemIndex(this, caught, itemIndex);
				if (continueOnFail) {
					const json = toErrorOutput ? errorOutputJson(error) : errorJson(error);
					results[itemIndex] = [{ json, pairedItem: { item: itemIndex } }];
				} else {
					failures.push({ itemIndex, error });
					gate.close();
				}
			} finally {
				gate.finished(itemIndex);
			}
		}
	};
	const workers = Math.max(1, Math.min(2 * concurrency, itemCount));
	try {
		await Promise.all(Array.from({ length: workers }, worker));
	} finally {
		cancelSignal?.removeEventListener('abort', onCancel);
	}

	if (failures.length > 0) {
		const first = failures.reduce((a, b) => (b.itemIndex < a.itemIndex ? b : a));
		const completed = results.flatMap((output, itemIndex) => (output?.[0] ? [{ itemIndex, json: output[0].json }] : []));
		const note = completed.length > 0 ? options.describeCompleted?.(completed) : undefined;
		if (note) addBeforeItemTag(first.error as NodeApiError | NodeOperationError, note, completed.map((done) => done.itemIndex));
		throw first.error;
	}
	if (cancelSignal?.aborted) {
		throw new NodeOperationError(this.getNode(), 'The execution was cancelled');
	}
	return results.flat();
}

/** Options → Concurrency, read once per execution (from the first item). */
function readConcurrency(context: IExecuteFunctions): number {
	const options = context.getNodeParameter('options', 0, {}) as IDataObject;
	if (options.concurrency === undefined) return 1;
	const value = new ParameterValidator(context.getNode(), 0).numberInRange('Concurrency', options.concurrency, 1, MAX_CONCURRENCY);
	if (!Number.isInteger(value)) {
		throw new ParameterValidator(context.getNode(), 0).fail('Concurrency', `must be a whole number, got ${value}`);
	}
	return value;
}

/** The JSON of an error item under "continue on fail": message, details and Faseeh's codes. */
export function errorJson(error: unknown): IDataObject {
	if (error instanceof NodeApiError) {
		return {
			error: error.message,
			description: error.description ?? undefined,
			httpCode: error.httpCode ?? (error.context.httpCode as string | undefined) ?? null,
			errorCode: (error.context.errorCode as string | number | null | undefined) ?? null,
		};
	}
	if (error instanceof NodeOperationError) {
		return { error: error.message, description: error.description ?? undefined };
	}
	return { error: error instanceof Error ? error.message : String(error) };
}

/**
 * The failed item under "On Error: Continue (using error output)". n8n sends an item to the error
 * output only when its JSON has no keys but `error`, `message` and `details`, so the codes go under
 * `details`. (Setting the item's `error` instead would route it too, but n8n then replaces the
 * JSON with the bare message and Faseeh's codes would be lost.)
 */
export function errorOutputJson(error: unknown): IDataObject {
	const { error: message, ...details } = errorJson(error);
	return { error: message, details };
}

/**
 * Makes every error name its item. n8n's error constructors return an existing instance unchanged,
 * so the index is set on it. Messages the node builds already end with "[item N]"; Faseeh's own
 * messages are kept exactly as sent, so for those the item is named at the end of the description.
 */
function withItemIndex(
	context: IExecuteFunctions,
	caught: unknown,
	itemIndex: number,
): NodeApiError | NodeOperationError {
	const error =
		caught instanceof NodeApiError || caught instanceof NodeOperationError
			? caught
			: new NodeOperationError(context.getNode(), caught as JsonObject, { itemIndex });
	error.context.itemIndex ??= itemIndex;
	const tag = `[item ${itemIndex}]`;
	if (!error.message.endsWith(tag) && !(error.description ?? '').endsWith(tag)) {
		error.description = error.description ? `${error.description} ${tag}` : tag;
	}
	return error;
}

/** Adds a sentence to an error's description, before its closing "[item N]". */
function addBeforeItemTag(error: NodeApiError | NodeOperationError, note: string, completedItems: number[]): void {
	const description = error.description ?? '';
	const tag = /\s*\[item \d+\]$/.exec(description);
	error.description = tag
		? `${description.slice(0, tag.index)} ${note}${tag[0]}`.trim()
		: `${description} ${note}`.trim();
	error.context.completedItems = completedItems;
}
