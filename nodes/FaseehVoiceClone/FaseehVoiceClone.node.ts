import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { runForEachItem } from '../shared/execute';
import { describeCreatedVoices } from './actions/clone.operation';
import { getModels } from '../shared/methods/loadOptions';
import { cloneVoice } from './actions/clone.operation';
import { voiceCloneProperties } from './description';

/**
 * Programmatic rather than declarative: two binary inputs, per-item checks before any upload,
 * streamed multipart parts and per-item error mapping are explicit and testable in execute().
 */
export class FaseehVoiceClone implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Faseeh Voice Clone',
		name: 'faseehVoiceClone',
		icon: { light: 'file:../../icons/faseeh.svg', dark: 'file:../../icons/faseeh.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{"Clone: " + $parameter["name"]}}',
		description: 'Create a cloned Arabic voice in Faseeh from a preview audio file and the original recording',
		defaults: { name: 'Faseeh Voice Clone' },
		// As a tool it refuses with the reason (cloneVoice): n8n hands a tool only JSON, never the recordings.
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'faseehApi', required: true }],
		properties: voiceCloneProperties,
	};

	methods = { loadOptions: { getModels } };

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [
			await runForEachItem.call(this, (itemIndex) => cloneVoice.call(this, itemIndex), {
				describeCompleted: describeCreatedVoices,
			}),
		];
	}
}
