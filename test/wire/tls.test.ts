/**
 * TLS failures against real loopback servers, through n8n's real HTTP stack (issue 17.9): a
 * self-signed certificate, and an https Base URL pointing at a plain http server. Each keeps its
 * reason and code and says the fix; the server never receives a request.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { NodeApiError } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { cleanupHarness } from '../harness/n8nHarness';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { runAgainst, startSandbox } from '../helpers/faseeh';

const parameters = { resource: 'model', operation: 'getMany' };
let sandbox: FaseehSandbox;
let dir: string;
const servers: Array<http.Server | https.Server> = [];
let requestsReceived = 0;

beforeAll(async () => {
	sandbox = await startSandbox();
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-tls-'));
	execFileSync('openssl', [
		'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
		'-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
	], { stdio: 'ignore' });
});
afterAll(async () => {
	await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
	await sandbox.stop();
	fs.rmSync(dir, { recursive: true, force: true });
	await cleanupHarness();
});

async function listen(server: http.Server | https.Server): Promise<number> {
	servers.push(server);
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	return (server.address() as AddressInfo).port;
}
const answer = (_req: http.IncomingMessage, res: http.ServerResponse) => {
	requestsReceived++;
	res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
};

it('a self-signed certificate: named, with its code and the fix; nothing is sent', async () => {
	const port = await listen(https.createServer({ key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) }, answer));
	const result = await runAgainst(sandbox, new Faseeh(), parameters, [{ json: {} }], { baseUrl: `https://127.0.0.1:${port}/api/v1` });
	const error = result.error as NodeApiError;
	expect(error).toBeInstanceOf(NodeApiError);
	expect(error.message).toBe(`The Faseeh host 127.0.0.1:${port} presented a self-signed TLS certificate (DEPTH_ZERO_SELF_SIGNED_CERT)`);
	expect(error.description).toMatch(/NODE_EXTRA_CA_CERTS/);
	expect(error.context.errorCode).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
	expect(requestsReceived).toBe(0);
});

it('an https Base URL on a plain http server: the handshake fails, and the message says so', async () => {
	const port = await listen(http.createServer(answer));
	const result = await runAgainst(sandbox, new Faseeh(), parameters, [{ json: {} }], { baseUrl: `https://127.0.0.1:${port}/api/v1` });
	const error = result.error as NodeApiError;
	expect(error.message).toMatch(new RegExp(`^The Faseeh host 127\\.0\\.0\\.1:${port} did not complete a TLS handshake \\((EPROTO|ERR_SSL_WRONG_VERSION_NUMBER)\\)$`));
	expect(error.description).toMatch(/http-only server/);
	expect(requestsReceived).toBe(0);
});
