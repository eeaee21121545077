import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';

import { runForEachItem } from '../shared/execute';
import type { ItemOperation } from '../shared/execute';
import { searchVoices } from '../shared/methods/listSearch';
import { getModels, getVoices } from '../shared/methods/loadOptions';
import * as audioTranscribe from './actions/audio/transcribe.operation';
import * as modelGetMany from './actions/model/getMany.operation';
import * as speechGenerate from './actions/speech/generate.operation';
import * as speechGenerateDialogue from './actions/speech/generateDialogue.operation';
import * as voiceGetMany from './actions/voice/getMany.operation';
import * as voicePreview from './actions/voice/preview.operation';

type Operation = (this: IExecuteFunctions, itemIndex: number) => Promise<INodeExecutionData[]>;

const OPERATIONS: Record<string, Record<string, Operation>> = {
	voice: { preview: voicePreview.execute, getMany: voiceGetMany.execute },
	speech: { generate: speechGenerate.execute, generateDialogue: speechGenerateDialogue.execute },
	model: { getMany: modelGetMany.execute },
	audio: { transcribe: audioTranscribe.execute },
};

/** Programmatic: preview uploads a binary and outputs two, which the declarative style cannot express cleanly. */
export class Faseeh implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Faseeh',
		name: 'faseeh',
		icon: { light: 'file:../../icons/faseeh.svg', dark: 'file:../../icons/faseeh.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Arabic text to speech, voice previews and speech-to-text with Faseeh and Munsit',
		defaults: { name: 'Faseeh' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'faseehApi', required: true }],
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Audio', value: 'audio' },
					{ name: 'Model', value: 'model' },
					{ name: 'Speech', value: 'speech' },
					{ name: 'Voice', value: 'voice' },
				],
				default: 'speech',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['speech'] } },
				options: [
					{
						name: 'Generate',
						value: 'generate',
						action: 'Generate speech from text',
						description: 'Speak Arabic text with a Faseeh voice and return a WAV, MP3 or OGG/Opus file',
					},
					{
						name: 'Generate Dialogue',
						value: 'generateDialogue',
						action: 'Generate a dialogue with several voices',
						description: 'Speak turns with their own voices (a two-host podcast) as one audio file, with each turn’s times',
					},
				],
				default: 'generate',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['voice'] } },
				options: [
					{
						name: 'Get Many',
						value: 'getMany',
						action: 'Get many voices',
						description: 'List the stock voices and the voices you cloned, with their voice IDs',
					},
					{
						name: 'Preview',
						value: 'preview',
						action: 'Preview a voice from a recording',
						description: 'Speak text in the voice of a recording; the output feeds the Faseeh Voice Clone node',
					},
				],
				default: 'preview',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['model'] } },
				options: [
					{
						name: 'Get Many',
						value: 'getMany',
						action: 'Get many models',
						description: 'List the Faseeh models with their IDs and cost per character',
					},
				],
				default: 'getMany',
			},
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				displayOptions: { show: { resource: ['audio'] } },
				options: [
					{
						name: 'Transcribe',
						value: 'transcribe',
						action: 'Transcribe a recording',
						description:
							'Turn Arabic speech into text with Munsit speech-to-text (same API key). Served by the Munsit host (https://api.munsit.com/api/v1): choose it as the credential’s Base URL.',
					},
				],
				default: 'transcribe',
			},
			{
				displayName:
					'Speech-to-text is served by the Munsit host. Choose "Munsit" as the Base URL in the Faseeh API credential: the Faseeh hosts are not known to serve it.',
				name: 'sttHostNotice',
				type: 'notice',
				default: '',
				displayOptions: { show: { resource: ['audio'] } },
			},
			...audioTranscribe.description,
			...voicePreview.description,
			...voiceGetMany.description,
			...speechGenerate.description,
			...speechGenerateDialogue.description,
			...modelGetMany.description,
		],
	};

	methods = {
		loadOptions: { getModels, getVoices },
		listSearch: { searchVoices },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const resource = this.getNodeParameter('resource', 0) as string;
		const operation = this.getNodeParameter('operation', 0) as string;
		const run = OPERATIONS[resource]?.[operation];
		if (!run) {
			throw new NodeOperationError(this.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
		}
		const forItem: ItemOperation = async (itemIndex) => await run.call(this, itemIndex);
		return [await runForEachItem.call(this, forItem)];
	}
}
