/** Starts sandboxChild.ts as a child process and talks to it over IPC. */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';

import type { ChildOptions, SandboxStats } from './sandboxChild';

export interface RemoteSandbox {
	baseUrl: string;
	apiKey: string;
	pid: number;
	stats(): Promise<SandboxStats>;
	reset(): Promise<void>;
	stop(): Promise<void>;
}

const REPLY_TIMEOUT_MS = 30_000;

export async function startRemoteSandbox(options: ChildOptions): Promise<RemoteSandbox> {
	const child: ChildProcess = fork(path.join(__dirname, 'sandboxChild.ts'), [], {
		// Always load ts-node, whatever flags the parent was started with.
		execArgv: ['-r', 'ts-node/register/transpile-only'],
		stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
	});
	let exited = false;
	const exitPromise = new Promise<void>((resolve) => child.once('exit', () => {
		exited = true;
		resolve();
	}));

	/** Sends one message and waits for the reply of the given type. */
	const request = <T>(message: unknown, replyType: string): Promise<T> =>
		new Promise<T>((resolve, reject) => {
			const timer = setTimeout(() => {
				cleanup();
				reject(new Error(`sandbox child did not answer ${replyType} in time`));
			}, REPLY_TIMEOUT_MS);
			const onMessage = (reply: { type: string; message?: string } & Record<string, unknown>) => {
				if (reply.type === 'error') {
					cleanup();
					reject(new Error(`sandbox child: ${reply.message}`));
				} else if (reply.type === replyType) {
					cleanup();
					resolve(reply as unknown as T);
				}
			};
			const onExit = () => {
				cleanup();
				reject(new Error('sandbox child exited'));
			};
			const cleanup = () => {
				clearTimeout(timer);
				child.off('message', onMessage);
				child.off('exit', onExit);
			};
			child.on('message', onMessage);
			child.once('exit', onExit);
			child.send(message as object);
		});

	let started: { baseUrl: string; apiKey: string };
	try {
		started = await request<{ baseUrl: string; apiKey: string }>({ type: 'start', options }, 'started');
	} catch (error) {
		child.kill('SIGKILL');
		throw error;
	}

	return {
		baseUrl: started.baseUrl,
		apiKey: started.apiKey,
		pid: child.pid as number,
		stats: async () => (await request<{ stats: SandboxStats }>({ type: 'stats' }, 'stats')).stats,
		reset: async () => {
			await request({ type: 'reset' }, 'reset');
		},
		stop: async () => {
			if (exited) return;
			try {
				await request({ type: 'stop' }, 'stopped');
			} catch {
				// fall through to the kill below
			}
			const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
			await exitPromise;
			clearTimeout(timer);
		},
	};
}
