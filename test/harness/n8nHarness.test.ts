/**
 * Proves the n8n harness drives a node through n8n-core's real engine: real binary data
 * service (filesystem + default), real expressions, real httpRequestWithAuthentication over a
 * local socket, real NodeApiError / continueOnFail flow and a real LoadOptionsContext.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import FormData from 'form-data';
import { NodeApiError, NodeConnectionTypes } from 'n8n-workflow';
import type {
	IAuthenticateGeneric,
	ICredentialType,
	IDataObject,
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeExecutionData,
	INodeProperties,
	INodePropertyOptions,
	INodeType,
	INodeTypeDescription,
	JsonObject,
} from 'n8n-workflow';

import { binaryFilePath, cleanupHarness, runLoadOptions, runNode } from './n8nHarness';

// ---------------------------------------------------------------------------------------------
// Local HTTP server that records what it receives
// ---------------------------------------------------------------------------------------------

interface ReceivedRequest {
	method: string;
	url: string;
	headers: IncomingHttpHeaders;
	body: Buffer;
}

let server: Server;
let baseUrl: string;
const received: ReceivedRequest[] = [];
/** Status and JSON body the server answers /upload with; tests change it. */
let uploadReply: { status: number; body: unknown } = { status: 200, body: { ok: true } };

/** Minimal multipart parser: enough to pull out named parts of one form-data request. */
function parseMultipart(req: ReceivedRequest): Record<string, { data: Buffer; headers: string }> {
	const match = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(String(req.headers['content-type']));
	if (!match) throw new Error('not multipart');
	const boundary = Buffer.from(`--${match[1] ?? match[2]}`);
	const parts: Record<string, { data: Buffer; headers: string }> = {};
	let start = req.body.indexOf(boundary);
	while (start !== -1) {
		const next = req.body.indexOf(boundary, start + boundary.length);
		if (next === -1) break;
		const part = req.body.subarray(start + boundary.length + 2, next - 2); // strip CRLFs
		const headerEnd = part.indexOf('\r\n\r\n');
		const headers = part.subarray(0, headerEnd).toString('utf8');
		const name = /name="([^"]+)"/.exec(headers)?.[1] ?? '';
		parts[name] = { headers, data: part.subarray(headerEnd + 4) };
		start = next;
	}
	return parts;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

beforeAll(async () => {
	server = createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (chunk: Buffer) => chunks.push(chunk));
		req.on('end', () => {
			const request: ReceivedRequest = {
				method: req.method ?? '',
				url: req.url ?? '',
				headers: req.headers,
				body: Buffer.concat(chunks),
			};
			received.push(request);
			res.setHeader('content-type', 'application/json');
			if (req.headers['x-api-key'] !== 'secret-key') {
				res.statusCode = 401;
				res.end(JSON.stringify({ message: 'bad key' }));
				return;
			}
			if (request.url === '/api/voices') {
				res.end(JSON.stringify({ voices: [{ id: 'v1', name: 'Voice One' }, { id: 'v2', name: 'Voice Two' }] }));
				return;
			}
			if (request.url === '/api/upload') {
				const parts = parseMultipart(request);
				const file = parts.file?.data ?? Buffer.alloc(0);
				res.statusCode = uploadReply.status;
				const body =
					uploadReply.status === 200
						? { ...(uploadReply.body as IDataObject), sha256: sha256(file), size: file.length, label: parts.label?.data.toString() }
						: uploadReply.body;
				res.end(JSON.stringify(body));
				return;
			}
			res.statusCode = 404;
			res.end(JSON.stringify({ message: 'not found' }));
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
});

afterAll(async () => {
	await new Promise<void>((resolve) => server.close(() => resolve()));
	await cleanupHarness();
});

beforeEach(() => {
	received.length = 0;
	uploadReply = { status: 200, body: { ok: true } };
});

// ---------------------------------------------------------------------------------------------
// Test credential type and test node
// ---------------------------------------------------------------------------------------------

class TestApi implements ICredentialType {
	name = 'testApi';
	displayName = 'Test API';
	properties: INodeProperties[] = [
		{ displayName: 'API Key', name: 'apiKey', type: 'string', typeOptions: { password: true }, default: '' },
		{ displayName: 'Base URL', name: 'baseUrl', type: 'string', default: 'https://example.invalid' },
	];
	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: { headers: { 'x-api-key': '={{$credentials.apiKey}}' } },
	};
}

class TestUpload implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Test Upload',
		name: 'testUpload',
		group: ['transform'],
		version: 1,
		description: 'Uploads a binary as multipart',
		defaults: { name: 'Test Upload' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'testApi', required: true }],
		properties: [
			{ displayName: 'Binary Field', name: 'field', type: 'string', default: 'data' },
			{ displayName: 'Label', name: 'label', type: 'string', default: '' },
			{ displayName: 'Voice', name: 'voice', type: 'options', typeOptions: { loadOptionsMethod: 'getVoices' }, default: '' },
			{ displayName: 'Output Binary', name: 'outputBinary', type: 'boolean', default: false },
		],
	};

	methods = {
		loadOptions: {
			async getVoices(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
				const credentials = await this.getCredentials('testApi');
				const response = (await this.helpers.httpRequestWithAuthentication.call(this, 'testApi', {
					method: 'GET',
					url: `${String(credentials.baseUrl)}/voices`,
					json: true,
				})) as { voices: Array<{ id: string; name: string }> };
				return response.voices.map((voice) => ({ name: voice.name, value: voice.id }));
			},
		},
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const items = this.getInputData();
		const output: INodeExecutionData[] = [];
		for (let i = 0; i < items.length; i++) {
			try {
				const field = this.getNodeParameter('field', i) as string;
				const label = this.getNodeParameter('label', i) as string;
				const binary = this.helpers.assertBinaryData(i, field);
				const credentials = await this.getCredentials('testApi', i);

				const form = new FormData();
				if (binary.id) {
					// Stream from disk with a known length so form-data can compute Content-Length.
					const metadata = await this.helpers.getBinaryMetadata(binary.id);
					const stream = await this.helpers.getBinaryStream(binary.id);
					form.append('file', stream, {
						filename: metadata.fileName ?? 'file',
						contentType: metadata.mimeType,
						knownLength: metadata.fileSize,
					});
				} else {
					const buffer = await this.helpers.getBinaryDataBuffer(i, field);
					form.append('file', buffer, { filename: binary.fileName ?? 'file', contentType: binary.mimeType });
				}
				form.append('label', label);

				const response = (await this.helpers.httpRequestWithAuthentication.call(this, 'testApi', {
					method: 'POST',
					url: `${String(credentials.baseUrl)}/upload`,
					body: form,
					json: true,
				})) as IDataObject;

				const item: INodeExecutionData = {
					json: { ...response, hadId: binary.id !== undefined },
					pairedItem: { item: i },
				};
				if (this.getNodeParameter('outputBinary', i) as boolean) {
					const audio = Buffer.from(`audio for ${label}`);
					item.binary = { audio: await this.helpers.prepareBinaryData(audio, 'out.mp3', 'audio/mpeg') };
				}
				output.push(item);
			} catch (error) {
				if (this.continueOnFail()) {
					output.push({ json: { error: (error as Error).message }, pairedItem: { item: i } });
					continue;
				}
				if (error instanceof NodeApiError) {
					error.context.itemIndex = i;
					throw error;
				}
				throw new NodeApiError(this.getNode(), error as JsonObject, { itemIndex: i });
			}
		}
		return [output];
	}
}

const credentials = () => ({ testApi: { apiKey: 'secret-key', baseUrl } });
const credentialTypes = [new TestApi()];
// Not a multiple of any chunk size, and binary (non-UTF-8) content.
const fileBytes = Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 31 + 7) % 256));

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('n8n harness (real n8n-core execution)', () => {
	test('filesystem mode: id-backed binary is streamed with exact bytes, Content-Length and auth header', async () => {
		const result = await runNode({
			nodeType: new TestUpload(),
			parameters: { field: 'data', label: 'fs' },
			items: [{ json: {}, binary: { data: { data: fileBytes, fileName: 'voice.wav', mimeType: 'audio/wav' } } }],
			credentials: credentials(),
			credentialTypes,
			binaryMode: 'filesystem',
		});

		expect(result.error).toBeUndefined();
		expect(result.items).toHaveLength(1);
		expect(result.items[0].json).toMatchObject({ ok: true, hadId: true, sha256: sha256(fileBytes), size: fileBytes.length });

		// The source node's binary really is stored on disk with an id.
		const sourceItem = result.run?.data.resultData.runData['Fixture Source'][0].data?.main[0]?.[0];
		const id = sourceItem?.binary?.data.id ?? '';
		expect(id).toMatch(/^filesystem-v2:/);
		expect(sourceItem?.binary?.data.data).toBe('filesystem-v2'); // no base64 in the item
		const filePath = binaryFilePath(id);
		expect(filePath.startsWith(tmpdir())).toBe(true);
		expect(sha256(readFileSync(filePath))).toBe(sha256(fileBytes));

		expect(received).toHaveLength(1);
		const request = received[0];
		expect(request.method).toBe('POST');
		expect(request.headers['x-api-key']).toBe('secret-key');
		expect(request.headers['content-length']).toBe(String(request.body.length));
		expect(request.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
		const parts = parseMultipart(request);
		expect(sha256(parts.file.data)).toBe(sha256(fileBytes));
		expect(parts.file.headers).toContain('filename="voice.wav"');
		expect(parts.file.headers).toContain('Content-Type: audio/wav');
	});

	test('default mode: binary stays in memory (no id) and bytes are equal', async () => {
		const result = await runNode({
			nodeType: new TestUpload(),
			parameters: { field: 'data', label: 'mem' },
			items: [{ binary: { data: { data: fileBytes, fileName: 'voice.wav', mimeType: 'audio/wav' } } }],
			credentials: credentials(),
			credentialTypes,
			binaryMode: 'default',
		});

		expect(result.error).toBeUndefined();
		expect(result.items[0].json).toMatchObject({ hadId: false, sha256: sha256(fileBytes) });
		const sourceItem = result.run?.data.resultData.runData['Fixture Source'][0].data?.main[0]?.[0];
		expect(sourceItem?.binary?.data.id).toBeUndefined();
		expect(sourceItem?.binary?.data.data).toBe(fileBytes.toString('base64'));
		expect(sha256(parseMultipart(received[0]).file.data)).toBe(sha256(fileBytes));
		expect(received[0].headers['x-api-key']).toBe('secret-key');
	});

	test('expression parameters resolve against $json per item', async () => {
		const result = await runNode({
			nodeType: new TestUpload(),
			parameters: { field: '={{ $json.prop }}', label: '={{ $json.text.toUpperCase() }}' },
			items: [
				{ json: { prop: 'first', text: 'one' }, binary: { first: { data: Buffer.from('a'), fileName: 'a.txt' } } },
				{ json: { prop: 'second', text: 'two' }, binary: { second: { data: Buffer.from('bb'), fileName: 'b.txt' } } },
			],
			credentials: credentials(),
			credentialTypes,
		});

		expect(result.error).toBeUndefined();
		expect(result.items.map((item) => item.json.label)).toEqual(['ONE', 'TWO']);
		expect(result.items.map((item) => item.json.size)).toEqual([1, 2]);
		expect(result.items.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
	});

	test('a 402 JSON answer ends the run with a real NodeApiError carrying httpCode and itemIndex', async () => {
		uploadReply = { status: 402, body: { message: 'Insufficient balance' } };
		const result = await runNode({
			nodeType: new TestUpload(),
			parameters: { field: 'data' },
			items: [{ binary: { data: { data: fileBytes, fileName: 'voice.wav', mimeType: 'audio/wav' } } }],
			credentials: credentials(),
			credentialTypes,
		});

		expect(result.items).toEqual([]);
		expect(result.error).toBeInstanceOf(NodeApiError);
		const error = result.error as NodeApiError;
		expect(error.httpCode).toBe('402');
		expect(error.context.itemIndex).toBe(0);
		expect(error.description).toBe('Insufficient balance');
		// The engine recorded the failure too.
		expect(result.run?.data.resultData.error?.message).toBe(error.message);
	});

	test('onError continueRegularOutput yields an error item with pairedItem', async () => {
		uploadReply = { status: 402, body: { message: 'Insufficient balance' } };
		const result = await runNode({
			nodeType: new TestUpload(),
			parameters: { field: 'data' },
			items: [
				{ binary: { data: { data: fileBytes, fileName: 'voice.wav', mimeType: 'audio/wav' } } },
				{ json: { nothing: true } },
			],
			credentials: credentials(),
			credentialTypes,
			onError: 'continueRegularOutput',
		});

		expect(result.error).toBeUndefined();
		expect(result.items).toHaveLength(2);
		expect(result.items[0].json.error).toEqual(expect.stringContaining('Payment required'));
		expect(result.items[0].pairedItem).toEqual({ item: 0 });
		// Item 1 fails inside assertBinaryData (n8n-core's own message).
		expect(result.items[1].json.error).toBe("This operation expects the node's input data to contain a binary file 'data', but none was found [item 1]");
		expect(result.items[1].pairedItem).toEqual({ item: 1 });
	});

	test('runLoadOptions calls methods.loadOptions through a real LoadOptionsContext', async () => {
		const options = await runLoadOptions({
			nodeType: new TestUpload(),
			method: 'getVoices',
			credentials: credentials(),
			credentialTypes,
		});

		expect(options).toEqual([
			{ name: 'Voice One', value: 'v1' },
			{ name: 'Voice Two', value: 'v2' },
		]);
		expect(received).toHaveLength(1);
		expect(received[0].method).toBe('GET');
		expect(received[0].url).toBe('/api/voices');
		expect(received[0].headers['x-api-key']).toBe('secret-key');
	});

	test.each(['filesystem', 'default'] as const)(
		'binaryBuffer reads back an output binary made with prepareBinaryData (%s mode)',
		async (binaryMode) => {
			const result = await runNode({
				nodeType: new TestUpload(),
				parameters: { field: 'data', label: 'x', outputBinary: true },
				items: [{ binary: { data: { data: Buffer.from('input'), fileName: 'in.wav', mimeType: 'audio/wav' } } }],
				credentials: credentials(),
				credentialTypes,
				binaryMode,
			});

			expect(result.error).toBeUndefined();
			const audio = result.items[0].binary?.audio;
			expect(audio?.mimeType).toBe('audio/mpeg');
			expect(audio?.fileName).toBe('out.mp3');
			if (binaryMode === 'filesystem') {
				expect(audio?.id).toMatch(/^filesystem-v2:/);
			} else {
				expect(audio?.id).toBeUndefined();
			}
			expect((await result.binaryBuffer(result.items[0], 'audio')).toString()).toBe('audio for x');
		},
	);

	test('a wrong API key surfaces the server 401 as a NodeApiError', async () => {
		const result = await runNode({
			nodeType: new TestUpload(),
			parameters: { field: 'data' },
			items: [{ binary: { data: { data: Buffer.from('x'), fileName: 'x.wav', mimeType: 'audio/wav' } } }],
			credentials: { testApi: { apiKey: 'wrong', baseUrl } },
			credentialTypes,
		});

		expect(result.error).toBeInstanceOf(NodeApiError);
		expect((result.error as NodeApiError).httpCode).toBe('401');
	});

	test('engine-level failures (workflow issues) are returned as the error, not thrown', async () => {
		const strict: INodeType = new TestUpload();
		strict.description = {
			...strict.description,
			properties: [{ displayName: 'Must', name: 'must', type: 'string', required: true, default: '' }],
		};
		const result = await runNode({ nodeType: strict, parameters: {}, items: [{ json: {} }], credentials: credentials(), credentialTypes });

		expect(result.items).toEqual([]);
		expect(result.error?.name).toBe('WorkflowHasIssuesError');
		expect(result.error?.message).toContain('Parameter "Must" is required.');
		expect(received).toHaveLength(0);
	});

	test('cleanupHarness removes the temp dir and the harness sets itself up again afterwards', async () => {
		const first = await runNode({
			nodeType: new TestUpload(),
			parameters: { field: 'data', outputBinary: true },
			items: [{ binary: { data: { data: Buffer.from('1'), fileName: 'a.wav', mimeType: 'audio/wav' } } }],
			credentials: credentials(),
			credentialTypes,
		});
		const firstPath = binaryFilePath(first.items[0].binary?.audio.id ?? '');
		expect(existsSync(firstPath)).toBe(true);

		await cleanupHarness();
		expect(existsSync(firstPath)).toBe(false);

		const second = await runNode({
			nodeType: new TestUpload(),
			parameters: { field: 'data', label: 'again', outputBinary: true },
			items: [{ binary: { data: { data: Buffer.from('2'), fileName: 'b.wav', mimeType: 'audio/wav' } } }],
			credentials: credentials(),
			credentialTypes,
		});
		expect(second.error).toBeUndefined();
		expect((await second.binaryBuffer(second.items[0], 'audio')).toString()).toBe('audio for again');
		expect(binaryFilePath(second.items[0].binary?.audio.id ?? '')).not.toBe(firstPath);
	});
});
