import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CutOffServer {
	/** A base URL (…/api/v1) every request to which is answered and then cut off. */
	url: string;
	requests(): number;
	stop(): Promise<void>;
}

/**
 * A loopback server that reads the whole request, sends the status line, headers and the first
 * bytes of a JSON answer, then closes the connection: an answer cut off mid-body.
 */
export async function startCutOffServer(): Promise<CutOffServer> {
	let requests = 0;
	const server = http.createServer((req, res) => {
		requests++;
		req.resume();
		req.on('end', () => {
			res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
			res.write('{"voice_id":"cl-', () => res.socket?.destroy());
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}/api/v1`,
		requests: () => requests,
		stop: () =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	};
}
