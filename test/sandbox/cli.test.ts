/** Tests of the sandbox dev server (`npm run sandbox`). */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { waitFor } from './testKit';

describe('cli.ts', () => {
	test('starts, logs one line per request without the key, stops on SIGTERM', async () => {
		const root = path.resolve(__dirname, '../..');
		const child = spawn(
			process.execPath,
			['-r', 'ts-node/register/transpile-only', 'test/sandbox/cli.ts', '--port', '0', '--key', 'cli-key', '--latency-ms', '5'],
			{ cwd: root, env: { ...process.env, FASEEH_SANDBOX_KEY: 'env-key' }, stdio: ['ignore', 'pipe', 'pipe'] },
		);
		let out = '';
		child.stdout.on('data', (c: Buffer) => (out += c.toString()));
		child.stderr.on('data', (c: Buffer) => (out += c.toString()));
		const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
		try {
			await waitFor(() => /API key: /.test(out), 30000);
			const url = /listening on (http:\/\/\S+)/.exec(out)?.[1] ?? '';
			expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1$/);
			expect(out).toContain('API key: cli-key'); // the flag wins over the env
			expect((await fetch(`${url}/models`, { headers: { 'x-api-key': 'cli-key' } })).status).toBe(200);
			expect((await fetch(`${url}/models?x-api-key=leaked-key`, { headers: { 'x-api-key': 'leaked-key' } })).status).toBe(401);
			await waitFor(() => (out.match(/ GET \/api\/v1\/models \d{3} \d+ms/g) ?? []).length === 2);
			expect(out).toMatch(/ GET \/api\/v1\/models 200 \d+ms/);
			expect(out).toMatch(/ GET \/api\/v1\/models 401 \d+ms/);
			expect(out).not.toContain('leaked-key');
		} finally {
			child.kill('SIGTERM');
		}
		expect(await exited).toBe(0);
	}, 60000);
});
