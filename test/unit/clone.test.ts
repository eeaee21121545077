import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';

import type { IBinaryData, IExecuteFunctions, INode } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import type { AudioInput } from '../../nodes/shared/binary';
import { cloneVoice, sendCloneRequest } from '../../nodes/FaseehVoiceClone/actions/clone.operation';

const node: INode = { id: '1', name: 'Faseeh Voice Clone', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };

function idBacked(field: string, label: string, id: string): AudioInput {
	const binary: IBinaryData = { id, data: 'filesystem-v2', mimeType: 'audio/wav', fileName: `${field}.wav` };
	return { spec: { parameterLabel: label, field, maxBytes: 1e6 }, binary, fileName: `${field}.wav`, mimeType: 'audio/wav', size: 4 };
}

describe('a half-built upload', () => {
	it('closes the file it opened when the second file cannot be read, and names that field and item', async () => {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-half-'));
		const file = path.join(dir, 'voice.wav');
		fs.writeFileSync(file, 'RIFF');
		const opened: Readable[] = [];
		let sent = 0;
		const context = {
			getNode: () => node,
			getCredentials: async () => ({ apiKey: 'k', baseUrl: 'http://127.0.0.1:9/api/v1' }),
			getNodeParameter: (_name: string, _item: number, fallback: unknown) => fallback,
			getInputData: () => [{ json: {} }],
			helpers: {
				getBinaryStream: async (id: string) => {
					if (id === 'filesystem-v2:gone') throw new Error('ENOENT: no such file or directory');
					const stream = fs.createReadStream(file);
					opened.push(stream);
					return stream;
				},
				httpRequestWithAuthentication: async () => {
					sent++;
					return { statusCode: 200, headers: {}, body: {} };
				},
			},
		} as unknown as IExecuteFunctions;
		const fields = { text: 'نص', stability: 0.5, name: 'n', model: 'faseeh-v1-preview' };
		const error = await sendCloneRequest
			.call(
				context,
				3,
				fields,
				idBacked('voice_file', 'Voice File Field', 'filesystem-v2:ok'),
				idBacked('reference_audio_file', 'Reference Audio Field', 'filesystem-v2:gone'),
			)
			.catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(NodeOperationError);
		expect((error as Error).message).toBe(
			'Parameter "Reference Audio Field": could not read the binary field "reference_audio_file" from n8n\'s binary data store [item 3]',
		);
		expect((error as NodeOperationError).description).toMatch(/^The stored file is gone: .*Nothing was sent to Faseeh\.$/);
		expect(opened).toHaveLength(1);
		expect(opened[0].destroyed).toBe(true);
		expect(sent).toBe(0);
		fs.rmSync(dir, { recursive: true, force: true });
	});
});

describe('run as an AI Agent tool', () => {
	it('says why it cannot clone (a tool gets JSON only), before any request', async () => {
		let sent = 0;
		const context = {
			getNode: () => ({ ...node, type: 'n8n-nodes-faseeh.faseehVoiceCloneTool' }),
			getNodeParameter: (_name: string, _item: number, fallback: unknown) => fallback,
			getInputData: () => [{ json: { name: 'from the model' } }],
			helpers: { httpRequestWithAuthentication: async () => void sent++ },
		} as unknown as IExecuteFunctions;
		const error = await cloneVoice.call(context, 0).catch((caught: unknown) => caught);
		expect(error).toBeInstanceOf(NodeOperationError);
		expect((error as Error).message).toMatch(/^Parameter "Reference Audio Field" cannot receive a recording when Faseeh Voice Clone runs as an AI Agent tool/);
		expect(sent).toBe(0);
	});
});
