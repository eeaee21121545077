/**
 * Options → Timeout means one thing on every n8n version (issue 17.8): seconds without progress.
 * While a file uploads, seconds in which no byte could be sent; after the upload, seconds waiting
 * for the answer. Against loopback servers that read slowly, stop reading, or never answer.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import type { INodeParameters } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { FaseehVoiceClone } from '../../nodes/FaseehVoiceClone/FaseehVoiceClone.node';
import { cleanupHarness } from '../harness/n8nHarness';
import type { FixtureItem } from '../harness/n8nHarness';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { wrapWav } from '../sandbox/audio';
import { runAgainst, startSandbox, wavRecording } from '../helpers/faseeh';

// 16 MiB: more than loopback's socket buffers hold, so a server that stops reading stalls the upload.
const BIG = wavRecording(16 * 1024 * 1024 / 2 / 24000, 220);
const items = (preview = BIG): FixtureItem[] => [
	{
		json: {},
		binary: {
			voice_file: { data: preview, fileName: 'p.wav', mimeType: 'audio/wav' },
			reference_audio_file: { data: wavRecording(0.3, 200), fileName: 'o.wav', mimeType: 'audio/wav' },
		},
	},
];
const parameters = (timeout: number): INodeParameters => ({
	text: 'نص المعاينة هنا',
	stability: 0.5,
	name: 'Slow',
	model: 'faseeh-v1-preview',
	options: { timeout, maxFileSize: 64 },
});

let sandbox: FaseehSandbox;
const servers: http.Server[] = [];
beforeAll(async () => {
	sandbox = await startSandbox();
});
afterAll(async () => {
	for (const server of servers) server.closeAllConnections();
	await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
	await sandbox.stop();
	await cleanupHarness();
});

async function serve(handler: http.RequestListener): Promise<string> {
	const server = http.createServer(handler);
	servers.push(server);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
}
const created = (res: http.ServerResponse) =>
	res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', voice_id: 'cl-slow', name: 'Slow' }));

it('an upload slower than the Timeout that keeps going succeeds (2 s Timeout, ~3 s upload)', async () => {
	// The server reads 1 MiB, then pauses 50 ms: 56 pauses make the upload last at least 2.8 s, and
	// never 2 s pass without progress. The node's clock for the answer starts when the last byte is
	// handed to the socket; loopback's buffers (up to 4 MiB sent + 32 MiB received here) can still
	// hold the tail then, which the server drains in at most 36 × 50 ms = 1.8 s, inside the Timeout.
	// (With 180 ms pauses, a 16 MiB body and a 1 s Timeout, a tail of 6 MiB failed a loaded run.)
	const pcm = BIG.subarray(44); // 16 MiB of tone, reused (making 56 MiB anew takes ~30 s under Jest)
	const slow = wrapWav(Buffer.concat([pcm, pcm, pcm, pcm.subarray(0, 8 * 1048576)]));
	let received = 0;
	const baseUrl = await serve((req, res) => {
		req.on('data', (chunk: Buffer) => {
			const before = received;
			received += chunk.length;
			if (Math.floor(received / 1048576) > Math.floor(before / 1048576)) {
				req.pause();
				setTimeout(() => req.resume(), 50);
			}
		});
		req.on('end', () => created(res));
	});
	const started = Date.now();
	const result = await runAgainst(sandbox, new FaseehVoiceClone(), parameters(2), items(slow), { baseUrl });
	expect(result.error).toBeUndefined();
	expect(result.items[0].json.voice_id).toBe('cl-slow');
	expect(Date.now() - started).toBeGreaterThan(2_800);
	expect(received).toBeGreaterThan(slow.length);
});

it('an upload that stalls fails after the Timeout, and says nothing was created', async () => {
	let received = 0;
	const baseUrl = await serve((req) => {
		req.on('data', (chunk: Buffer) => {
			received += chunk.length;
			if (received > 2 * 1048576) req.pause(); // stops reading for good
		});
	});
	const result = await runAgainst(sandbox, new FaseehVoiceClone(), parameters(1), items(), { baseUrl });
	const error = result.error as NodeApiError;
	expect(error).toBeInstanceOf(NodeApiError);
	// The Timeout's own message (n8n's backstop, an hour later, would not say it).
	expect(error.message).toBe('The upload to Faseeh made no progress for 1 seconds (timeout)');
	expect(error.description).toMatch(/^Nothing was created: the upload did not finish\./);
	expect(error.description).not.toMatch(/may have been created/);
	expect(received).toBeLessThan(BIG.length);
});

it('after the upload, the Timeout counts the wait for the answer; a clone then may exist', async () => {
	let bodyBytes = 0;
	let ended = 0;
	const baseUrl = await serve((req) => {
		req.on('data', (chunk: Buffer) => (bodyBytes += chunk.length));
		req.on('end', () => (ended = Date.now())); // never answers
	});
	const result = await runAgainst(sandbox, new FaseehVoiceClone(), parameters(1), items(), { baseUrl });
	const failedAt = Date.now();
	const error = result.error as NodeApiError;
	expect(error.message).toBe('Faseeh did not answer within 1 seconds (timeout)');
	expect(error.description).toMatch(/Counted from the end of the upload/);
	expect(error.description).toMatch(/The voice may have been created/);
	expect(bodyBytes).toBeGreaterThan(BIG.length);
	// Counted from the end of the upload: at least the Timeout after it (checked every 250 ms).
	expect(failedAt - ended).toBeGreaterThanOrEqual(900);
});
