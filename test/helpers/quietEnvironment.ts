/**
 * Jest's Node environment, with the console kept quiet unless a test fails: what a test (and the
 * hooks since the test before it) writes with console.* is held, and printed after the test only
 * if it failed, under a line naming it. Output of a failed beforeAll/afterAll hook, of a file that
 * fails to load and anything left when errors escaped the tests is printed too; output of passing
 * tests is dropped. FASEEH_TEST_CONSOLE=all prints everything as it comes (as plain Jest does).
 *
 * Why: n8n's logger and the node's progress lines ("piece 7/53 done") made hundreds of console
 * blocks in a green run, and a failure's own output was lost among them (issue 22).
 */
import { format } from 'node:util';

import type { EnvironmentContext, JestEnvironmentConfig } from '@jest/environment';
import { TestEnvironment } from 'jest-environment-node';

/** Writes kept per test; older ones are dropped (and counted) past this. */
const MAX_HELD = 2000;
const HELD = ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'table'] as const;
type Held = (typeof HELD)[number];
type ConsoleMethod = (...args: unknown[]) => void;

/** The parts of Jest Circus's events and state used here. */
interface TestEntry {
	name: string;
	errors: unknown[];
	parent?: { name: string; parent?: unknown };
}
interface CircusEvent {
	name: string;
	test?: TestEntry;
	hook?: { type: string };
}
interface CircusState {
	unhandledErrors: unknown[];
}

function fullName(test: TestEntry): string {
	const names = [test.name];
	for (let block = test.parent as TestEntry['parent']; block; block = block.parent as TestEntry['parent']) {
		if (block.name !== 'ROOT_DESCRIBE_BLOCK') names.unshift(block.name);
	}
	return names.join(' › ');
}

interface Entry {
	/** `console.error`, `stdout`, ... */
	kind: string;
	text: string;
	/** Where it was written from (the first stack frame outside this file and Node's internals). */
	origin?: string;
}

function origin(): string | undefined {
	const limit = Error.stackTraceLimit;
	Error.stackTraceLimit = 12;
	const stack = new Error().stack ?? '';
	Error.stackTraceLimit = limit;
	return stack
		.split('\n')
		.slice(1)
		.map((line) => line.trim())
		.find((line) => line.startsWith('at ') && !line.includes('quietEnvironment') && !line.includes('(node:') && !line.startsWith('at node:'))
		?.replace(`${process.cwd()}/`, '');
}

export default class QuietEnvironment extends TestEnvironment {
	private readonly testConsole: Console;
	private readonly originals = new Map<Held, ConsoleMethod>();
	private readonly streams = new Map<'_stdout' | '_stderr', NodeJS.WritableStream>();
	private held: Entry[] = [];
	private dropped = 0;
	private finished = false;
	private replaying = false;

	constructor(config: JestEnvironmentConfig, context: EnvironmentContext) {
		super(config, context);
		this.testConsole = context.console;
		if (process.env.FASEEH_TEST_CONSOLE === 'all') return;
		const target = this.testConsole as unknown as Record<Held, ConsoleMethod> & Record<'_stdout' | '_stderr', NodeJS.WritableStream | undefined>;
		for (const method of HELD) {
			const original = target[method];
			if (typeof original !== 'function') continue;
			this.originals.set(method, original.bind(this.testConsole));
			target[method] = (...args: unknown[]) => {
				if (this.passThrough) this.originals.get(method)!(...args);
				else this.hold({ kind: `console.${method}`, text: format(...args), origin: origin() });
			};
		}
		// Some loggers write to the console's streams directly (winston, n8n's logger, does when
		// they exist): those writes are held too.
		for (const name of ['_stdout', '_stderr'] as const) {
			const stream = target[name];
			if (!stream || typeof stream.write !== 'function') continue;
			this.streams.set(name, stream);
			const write = (chunk: unknown, ...rest: unknown[]) => {
				if (this.passThrough) return (stream.write as (...args: unknown[]) => boolean)(chunk, ...rest);
				this.hold({ kind: name.slice(1), text: Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk), origin: origin() });
				(rest.find((argument) => typeof argument === 'function') as (() => void) | undefined)?.();
				return true;
			};
			// A test that captures the console itself (test/reliability/support.ts) replaces write
			// and puts back what it found: its own write wins while it is set.
			let replaced: unknown;
			target[name] = new Proxy(stream, {
				get: (object, property) => {
					if (property === 'write') return replaced ?? write;
					const value = Reflect.get(object, property, object) as unknown;
					return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
				},
				set: (object, property, value) => {
					if (property !== 'write') return Reflect.set(object, property, value, object);
					replaced = value === write ? undefined : value;
					return true;
				},
			});
		}
	}

	private hold(entry: Entry): void {
		this.held.push(entry);
		if (this.held.length > MAX_HELD) {
			this.held.shift();
			this.dropped++;
		}
	}

	private get passThrough(): boolean {
		return this.finished || this.replaying;
	}

	handleTestEvent(event: CircusEvent, state: CircusState): void {
		if (this.originals.size === 0 && this.streams.size === 0) return;
		switch (event.name) {
			case 'test_done':
				if (event.test && event.test.errors.length > 0) this.flush(`console output of the failed test "${fullName(event.test)}"`);
				this.held = [];
				this.dropped = 0;
				break;
			case 'hook_failure':
				this.flush(`console output before the failed ${event.hook?.type ?? ''} hook`);
				break;
			case 'run_finish':
				if (state.unhandledErrors.length > 0) this.flush('console output after the last test (errors escaped the tests)');
				this.held = [];
				this.dropped = 0;
				this.finished = true;
				break;
		}
	}

	async teardown(): Promise<void> {
		// A file that failed to load never ran its tests: what it wrote may say why.
		if (!this.finished) this.flush('console output of a test file that did not finish');
		this.finished = true;
		this.restore();
		await super.teardown();
	}

	private flush(title: string): void {
		if (this.held.length === 0) return;
		const held = this.held;
		const dropped = this.dropped;
		this.held = [];
		this.dropped = 0;
		const lines = [`── ${title}: ${held.length + dropped} write${held.length + dropped === 1 ? '' : 's'}${dropped > 0 ? `, the first ${dropped} not kept` : ''} ──`];
		for (const entry of held) {
			lines.push(`${entry.kind}: ${entry.text.replace(/\n$/, '')}`);
			if (entry.origin) lines.push(`    ${entry.origin}`);
		}
		// One block, as console.log (or the console's stdout).
		this.replaying = true;
		try {
			const log = this.originals.get('log');
			if (log) log(lines.join('\n'));
			else this.streams.get('_stdout')?.write(`${lines.join('\n')}\n`);
		} finally {
			this.replaying = false;
		}
	}

	private restore(): void {
		const target = this.testConsole as unknown as Record<string, unknown>;
		for (const [method, original] of this.originals) target[method] = original;
		for (const [name, stream] of this.streams) target[name] = stream;
		this.originals.clear();
		this.streams.clear();
	}
}
