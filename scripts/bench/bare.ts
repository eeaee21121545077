/**
 * Reference clients that send the node's clone upload without the node: a bare `form-data` POST
 * (node's http or axios), and a minimal n8n node that only calls this.helpers.httpRequest.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';

import axios from 'axios';
import FormData from 'form-data';
import type { IExecuteFunctions, INodeExecutionData, INodeType } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import type { FixtureItem } from '../../test/harness/n8nHarness';
import { NODE_UNDER_TEST, runNode } from '../../test/harness/n8nHarness';
import { CLONE_TEXT, ORIGINAL_WAV, PREVIEW_WAV } from './common';
import type { RemoteSandbox } from './sandboxClient';

export interface BareFiles {
	dir: string;
	voicePath: string;
	referencePath: string;
}

/** The two fixture WAVs as files on disk (the node streams them from n8n's store on disk too). */
export function writeBareFiles(): BareFiles {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-bench-bare-'));
	const files = { dir, voicePath: path.join(dir, 'preview.wav'), referencePath: path.join(dir, 'original.wav') };
	fs.writeFileSync(files.voicePath, PREVIEW_WAV);
	fs.writeFileSync(files.referencePath, ORIGINAL_WAV);
	return files;
}

/**
 * The same parts the node sends, in the same order: both WAVs streamed from disk with a known
 * length, then the four text fields.
 */
function bareForm(files: BareFiles, index: number): FormData {
	const form = new FormData();
	form.append('voice_file', fs.createReadStream(files.voicePath), {
		filename: 'preview.wav',
		contentType: 'audio/wav',
		knownLength: PREVIEW_WAV.length,
	});
	form.append('reference_audio_file', fs.createReadStream(files.referencePath), {
		filename: 'original.wav',
		contentType: 'audio/wav',
		knownLength: ORIGINAL_WAV.length,
	});
	form.append('text', CLONE_TEXT);
	form.append('stability', '0.5');
	form.append('name', `Voice ${index}`);
	form.append('model', 'faseeh-v1-preview');
	return form;
}

export type BareClient = 'http' | 'httpNewConnection' | 'axios';

/**
 * One clone POST. `http`: node's http with its default keep-alive agent; `httpNewConnection`: a
 * new connection per request (what n8n's HTTP helpers do: a new agent per request); `axios`: the
 * axios n8n-core uses, plain config.
 */
export async function barePost(client: BareClient, sandbox: RemoteSandbox, files: BareFiles, index: number): Promise<void> {
	const form = bareForm(files, index);
	const headers = { ...form.getHeaders(), 'content-length': String(form.getLengthSync()), 'x-api-key': sandbox.apiKey };
	const url = `${sandbox.baseUrl}/voices/clone`;
	if (client === 'axios') {
		const response = await axios.post(url, form, { headers, maxRedirects: 0 });
		if (typeof response.data?.voice_id !== 'string') throw new Error('bare axios POST without voice_id');
		return;
	}
	await new Promise<void>((resolve, reject) => {
		const request = http.request(url, { method: 'POST', headers, agent: client === 'http' ? undefined : false }, (response) => {
			const chunks: Buffer[] = [];
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('end', () => {
				const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { voice_id?: unknown };
				if (response.statusCode === 200 && typeof body.voice_id === 'string') resolve();
				else reject(new Error(`bare POST answered ${response.statusCode}`));
			});
			response.on('error', reject);
		});
		request.on('error', reject);
		form.pipe(request);
	});
}

/** `count` bare POSTs with at most `concurrency` in flight; returns the wall time in ms. */
export async function bareBatch(client: BareClient, sandbox: RemoteSandbox, files: BareFiles, count: number, concurrency: number): Promise<number> {
	let next = 0;
	const started = performance.now();
	const worker = async () => {
		while (next < count) await barePost(client, sandbox, files, next++);
	};
	await Promise.all(Array.from({ length: concurrency }, worker));
	return performance.now() - started;
}

/**
 * A minimal n8n node: per item, the two id-backed binaries streamed with the size n8n recorded
 * (`bytes`), the text fields, one this.helpers.httpRequest. No parameters, no checks, no
 * credential helper, no retries: what any node sending this upload through n8n must at least do.
 */
function minimalNodeType(concurrency: number): INodeType {
	return {
		description: {
			displayName: 'Bench Minimal Upload',
			name: 'benchMinimalUpload',
			group: ['transform'],
			version: 1,
			description: 'Bench reference',
			defaults: { name: 'Bench Minimal Upload' },
			inputs: [NodeConnectionTypes.Main],
			outputs: [NodeConnectionTypes.Main],
			credentials: [{ name: 'faseehApi', required: true }],
			properties: [],
		},
		async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
			const items = this.getInputData();
			const credentials = await this.getCredentials('faseehApi');
			const output: INodeExecutionData[] = new Array(items.length);
			let next = 0;
			const worker = async () => {
				while (next < items.length) {
					const index = next++;
					const binary = items[index].binary ?? {};
					const form = new FormData();
					for (const [field, fileName] of [
						['voice_file', 'preview.wav'],
						['reference_audio_file', 'original.wav'],
					]) {
						const data = binary[field];
						form.append(field, await this.helpers.getBinaryStream(data.id as string), {
							filename: fileName,
							contentType: 'audio/wav',
							knownLength: data.bytes as number,
						});
					}
					form.append('text', CLONE_TEXT);
					form.append('stability', '0.5');
					form.append('name', `Voice ${index}`);
					form.append('model', 'faseeh-v1-preview');
					const json = await this.helpers.httpRequest({
						method: 'POST',
						url: `${String(credentials.baseUrl)}/voices/clone`,
						body: form,
						headers: { 'x-api-key': String(credentials.apiKey) },
						json: true,
						disableFollowRedirect: true,
					});
					output[index] = { json, pairedItem: { item: index } };
				}
			};
			await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
			return [output];
		},
	};
}

/** Runs the minimal node through the harness; returns n8n's executionTime of it (ms). */
export async function runMinimalNode(sandbox: RemoteSandbox, items: FixtureItem[], concurrency: number): Promise<number> {
	const result = await runNode({
		nodeType: minimalNodeType(concurrency),
		typeName: 'n8n-nodes-bench.benchMinimalUpload',
		parameters: {},
		items,
		credentials: { faseehApi: { apiKey: sandbox.apiKey, baseUrl: sandbox.baseUrl } },
		credentialTypes: [new FaseehApi()],
		binaryMode: 'filesystem',
	});
	if (result.error) throw new Error(`the minimal node failed: ${result.error.message}`);
	const voices = result.items.filter((item) => typeof item.json.voice_id === 'string').length;
	if (voices !== items.length) throw new Error(`the minimal node cloned ${voices} of ${items.length}`);
	return result.run?.data.resultData.runData[NODE_UNDER_TEST]?.[0]?.executionTime ?? Number.NaN;
}
