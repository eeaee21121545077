import * as fs from 'node:fs';
import * as path from 'node:path';

import type { INodeProperties, INodeType } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { FaseehVoiceClone } from '../../nodes/FaseehVoiceClone/FaseehVoiceClone.node';

interface ExampleNode {
	name: string;
	type: string;
	typeVersion: number;
	parameters: Record<string, unknown>;
	credentials?: Record<string, { id: string; name: string }>;
}

const EXAMPLES = path.resolve(__dirname, '..', '..', 'examples');
const NODE_TYPES: Record<string, INodeType> = {
	'n8n-nodes-faseeh.faseeh': new Faseeh(),
	'n8n-nodes-faseeh.faseehTool': new Faseeh(),
	'n8n-nodes-faseeh.faseehVoiceClone': new FaseehVoiceClone(),
};
// Added by n8n to every tool variant of a node.
const TOOL_PARAMETERS = ['descriptionType', 'toolDescription'];

function visible(properties: INodeProperties[], parameters: Record<string, unknown>): INodeProperties[] {
	return properties.filter((property) =>
		Object.entries(property.displayOptions?.show ?? {}).every(([name, values]) =>
			(values as unknown[]).includes(parameters[name] ?? properties.find((p) => p.name === name)?.default),
		),
	);
}

const files = fs.readdirSync(EXAMPLES).filter((file) => file.endsWith('.json'));

describe.each(files)('examples/%s', (file) => {
	const workflow = JSON.parse(fs.readFileSync(path.join(EXAMPLES, file), 'utf8')) as {
		id: string;
		nodes: ExampleNode[];
		connections: Record<string, Record<string, Array<Array<{ node: string }>>>>;
	};
	const ours = workflow.nodes.filter((node) => node.type.startsWith('n8n-nodes-faseeh.'));

	it('has an importable id and connections between existing nodes', () => {
		expect(workflow.id.length).toBeLessThanOrEqual(21);
		const names = new Set(workflow.nodes.map((node) => node.name));
		for (const [from, outputs] of Object.entries(workflow.connections)) {
			expect(names.has(from)).toBe(true);
			for (const target of Object.values(outputs).flat(2)) expect(names.has(target.node)).toBe(true);
		}
		expect(ours.length).toBeGreaterThan(0);
	});

	it('uses only parameters and option values our nodes define, with the credential', () => {
		for (const node of ours) {
			const nodeType = NODE_TYPES[node.type];
			expect(nodeType).toBeDefined();
			expect(node.typeVersion).toBe(nodeType.description.version);
			expect(node.credentials?.faseehApi).toBeDefined();
			const properties = visible(nodeType.description.properties, node.parameters);
			for (const [name, value] of Object.entries(node.parameters)) {
				if (node.type.endsWith('Tool') && TOOL_PARAMETERS.includes(name)) continue;
				const property = properties.find((candidate) => candidate.name === name);
				expect({ node: node.name, parameter: name, known: property !== undefined }).toEqual({ node: node.name, parameter: name, known: true });
				if (property?.type === 'options' && typeof value === 'string' && !value.startsWith('=') && !property.typeOptions?.loadOptionsMethod) {
					expect(property.options?.map((option) => (option as { value: unknown }).value)).toContain(value);
				}
				if ((property?.type === 'collection') && value && typeof value === 'object') {
					const childNames = (property.options as INodeProperties[]).map((option) => option.name);
					for (const child of Object.keys(value)) expect(childNames).toContain(child);
				}
			}
		}
	});
});
