/**
 * `npm run test:node24`: runs the Jest suite under Node 24 (the runtime n8n 2.x needs), using the
 * provisioned Node from the cache. Extra arguments are passed to Jest.
 */
import { spawn } from 'child_process';
import * as path from 'path';

import { ensureRuntime, runtimePathEnv } from './lib/runtime';

async function main(): Promise<number> {
	const runtime = await ensureRuntime();
	const jest = path.resolve(__dirname, '..', 'node_modules', 'jest', 'bin', 'jest.js');
	const child = spawn(runtime.nodeBin, [jest, ...process.argv.slice(2)], {
		cwd: path.resolve(__dirname, '..'),
		env: runtimePathEnv(runtime),
		stdio: 'inherit',
	});
	return await new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

main().then(
	(code) => process.exit(code),
	(error: unknown) => {
		console.error(`test:node24 failed: ${error instanceof Error ? error.message : String(error)}`);
		process.exit(1);
	},
);
