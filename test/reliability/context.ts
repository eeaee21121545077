import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

import type { BinaryMode } from '../harness/n8nHarness';
import { startCutOffServer } from '../helpers/cutOffServer';
import { startSandbox } from '../helpers/faseeh';
import type { CaseContext } from './catalogue';

/** A loopback port that was free a moment ago and now has no listener: connecting is refused. */
async function closedPortUrl(): Promise<string> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as AddressInfo;
	await new Promise<void>((resolve) => server.close(() => resolve()));
	return `http://127.0.0.1:${port}/api/v1`;
}

/** Starts the sandboxes a catalogue run needs; stop() shuts them down. */
export async function startCaseContext(): Promise<{ forMode(mode: BinaryMode): CaseContext; stop(): Promise<void> }> {
	const sandbox = await startSandbox();
	const elsewhere = await startSandbox();
	const tight = await startSandbox({ maxBodyBytes: 4096 });
	const closedUrl = await closedPortUrl();
	const cutOff = await startCutOffServer();
	return {
		forMode: (binaryMode) => ({ sandbox, elsewhere, tight, closedUrl, cutOff, binaryMode }),
		stop: async () => {
			await Promise.all([sandbox.stop(), elsewhere.stop(), tight.stop(), cutOff.stop()]);
		},
	};
}
