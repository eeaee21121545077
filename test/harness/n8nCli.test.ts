/**
 * How the e2e suite reads n8n's CLI (scripts/lib/n8n.ts). `n8n execute` prints the execution as
 * one large JSON write and calls process.exit() about 100 ms later; Node writes to a pipe
 * asynchronously, so a reader that was busy at that moment (a loaded machine) got the first
 * ~220 KB of a 5 MB execution and no run data (issue 22: the 1.123.x matrix case in the in-memory
 * binary mode). These tests stand in for n8n with a small Node process doing the same. Also: the
 * check for what the runtime's native rebuild needs (a fresh machine may have no compiler).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { executionProblem, outputItem, runCapture } from '../../scripts/lib/n8n';
import type { ExecuteResult } from '../../scripts/lib/n8n';
import { missingBuildTools } from '../../scripts/lib/runtime';

const SIZE = 5_000_000;

it('keeps all of a large output written just before process.exit(), while the reader is busy', async () => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-cli-'));
	const written = path.join(dir, 'written');
	try {
		// As n8n's execute command: one big write, a marker once it returned, exit 100 ms later.
		const script = `process.stdout.write('x'.repeat(${SIZE})); require('fs').writeFileSync(${JSON.stringify(written)}, ''); setTimeout(() => process.exit(0), 100);`;
		const running = runCapture(process.execPath, ['-e', script], { env: process.env, timeoutMs: 60_000 });
		// This process does not read while the child writes and exits (a pipe then dropped the rest).
		const until = Date.now() + 60_000;
		while (!fs.existsSync(written) && Date.now() < until);
		const exitBy = Date.now() + 500;
		while (Date.now() < exitBy);
		const result = await running;
		expect(result.exitCode).toBe(0);
		expect(result.stdout.length).toBe(SIZE);
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});

describe('a missing node output names its cause', () => {
	const base = { exitCode: 0, stdout: '', stderr: '', durationMs: 1 };
	const failed: ExecuteResult = {
		...base,
		exitCode: 1,
		run: { data: { resultData: { error: { message: 'Insufficient wallet balance', node: { name: 'Faseeh Voice Clone' } }, lastNodeExecuted: 'Faseeh Voice Clone' } } },
		runData: { Start: [{ data: { main: [[{ json: {} }]] } }], 'Faseeh Voice Clone': [{ error: { message: 'Insufficient wallet balance' } }] },
	};

	it('the execution’s error and the nodes that ran', () => {
		expect(executionProblem(failed)).toBe('the execution failed at node "Faseeh Voice Clone": Insufficient wallet balance [exit code 1]');
		expect(() => outputItem(failed, 'Speak With New Voice')).toThrow(
			'node "Speak With New Voice" has no output item 0 in this execution: the execution failed at node "Faseeh Voice Clone": Insufficient wallet balance [exit code 1]; nodes with run data: Start (1 item), Faseeh Voice Clone (error: Insufficient wallet balance)',
		);
	});

	it('no execution JSON in what n8n printed: says so, with its last lines', () => {
		const stdout = '{\n  "data": {\n    "resultData": {\n      "runData": {"Sta';
		const truncated: ExecuteResult = { ...base, stdout };
		expect(executionProblem(truncated)).toBe(`n8n printed no execution JSON (exit code 0, stdout ${stdout.length} bytes, stderr 0 bytes); last lines:\n${stdout}\n`);
		expect(() => outputItem(truncated, 'Preview Voice')).toThrow(/^node "Preview Voice" has no output item 0 in this execution: n8n printed no execution JSON/);
	});

	it('a successful execution: no problem, and the item itself', () => {
		const ok: ExecuteResult = { ...base, run: { data: { resultData: {} } }, runData: { Speak: [{ data: { main: [[{ json: { a: 1 } }]] } }] } };
		expect(executionProblem(ok)).toBeUndefined();
		expect(outputItem(ok, 'Speak').json).toEqual({ a: 1 });
	});
});

describe('the native rebuild’s tools (scripts/lib/runtime.ts)', () => {
	it('names a compiler, make and Python 3 when PATH has none of them, and only what is missing', () => {
		expect(missingBuildTools('')).toEqual(['g++', 'make', 'python3']);
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-tools-'));
		try {
			for (const name of ['c++', 'python3']) fs.writeFileSync(path.join(dir, name), '#!/bin/sh\n', { mode: 0o755 });
			fs.writeFileSync(path.join(dir, 'make'), 'not executable', { mode: 0o644 });
			expect(missingBuildTools(dir)).toEqual(['make']);
		} finally {
			fs.rmSync(dir, { recursive: true, force: true });
		}
	});
});
