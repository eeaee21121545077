/**
 * `npm run test:all`: every stage of the suite, each one run even when an earlier one failed (a
 * chain of `&&` hid every stage after the first failure), its output streamed as it comes, then a
 * summary table (stage, exit code, duration). Exits 1 if any stage failed or was skipped. A stage
 * that needs another (the e2e tests need the build) is skipped when that one failed, and the
 * summary says so. This is what the README's test command and `.ci/run` run.
 */
import { spawn } from 'child_process';
import * as path from 'path';

export interface Stage {
	name: string;
	/** Program and arguments, run in the repository's root. */
	command: string[];
	/** Stages that must have passed for this one to run. */
	needs?: string[];
}

export interface StageResult {
	name: string;
	/** The exit code; undefined when the stage was skipped. */
	exitCode?: number;
	durationMs: number;
	/** Why it did not run. */
	skipped?: string;
}

const REPO = path.resolve(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

export const STAGES: Stage[] = [
	{ name: 'lint', command: [npm, 'run', 'lint'] },
	{ name: 'typecheck', command: [npm, 'run', 'typecheck'] },
	{ name: 'build', command: [npm, 'run', 'build'] },
	{ name: 'test (Jest)', command: [npm, 'test'] },
	{ name: 'test:node24', command: [npm, 'run', 'test:node24'] },
	// `npm run test:e2e` builds first; here the build stage did, so Jest runs on its dist/.
	{ name: 'test:e2e', command: [process.execPath, path.join(REPO, 'node_modules', 'jest', 'bin', 'jest.js'), '-c', 'jest.e2e.config.js'], needs: ['build'] },
];

/** Runs one command with the output streamed; resolves with its exit code (1 if it could not start). */
function runStreamed(command: string[], cwd: string, log: (line: string) => void): Promise<number> {
	return new Promise((resolve) => {
		const child = spawn(command[0], command.slice(1), { cwd, stdio: 'inherit' });
		child.on('error', (error) => {
			log(`test:all: could not start ${command.join(' ')}: ${error.message}`);
			resolve(1);
		});
		child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
	});
}

/** Runs every stage in order; a stage whose `needs` did not all pass is skipped. */
export async function runStages(
	stages: Stage[],
	options: { cwd?: string; run?: (command: string[], cwd: string, log: (line: string) => void) => Promise<number>; log?: (line: string) => void } = {},
): Promise<StageResult[]> {
	const run = options.run ?? runStreamed;
	const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
	const results: StageResult[] = [];
	for (const stage of stages) {
		const failedNeeds = (stage.needs ?? []).filter((need) => results.find((result) => result.name === need)?.exitCode !== 0);
		if (failedNeeds.length > 0) {
			const skipped = `skipped: ${failedNeeds.join(', ')} did not pass`;
			log(`\n=== test:all: ${stage.name} ${skipped} ===`);
			results.push({ name: stage.name, durationMs: 0, skipped });
			continue;
		}
		log(`\n=== test:all: ${stage.name} (${stage.command.map((part) => path.basename(part)).join(' ')}) ===`);
		const started = Date.now();
		const exitCode = await run(stage.command, options.cwd ?? REPO, log);
		results.push({ name: stage.name, exitCode, durationMs: Date.now() - started });
		log(`=== test:all: ${stage.name} ${exitCode === 0 ? 'passed' : `FAILED (exit code ${exitCode})`} ===`);
	}
	return results;
}

export function passed(results: StageResult[]): boolean {
	return results.every((result) => result.exitCode === 0);
}

function duration(ms: number): string {
	const seconds = Math.round(ms / 1000);
	return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

/** The summary table, and a last line saying what failed. */
export function summary(results: StageResult[]): string {
	const width = Math.max(5, ...results.map((result) => result.name.length));
	const lines = [`${'stage'.padEnd(width)}  exit code  duration`];
	for (const result of results) {
		const exit = result.skipped ? '-' : String(result.exitCode);
		lines.push(`${result.name.padEnd(width)}  ${exit.padEnd(9)}  ${result.skipped ?? duration(result.durationMs)}`);
	}
	const total = duration(results.reduce((sum, result) => sum + result.durationMs, 0));
	const failed = results.filter((result) => result.exitCode !== undefined && result.exitCode !== 0).map((result) => result.name);
	const skipped = results.filter((result) => result.skipped).map((result) => result.name);
	lines.push(
		passed(results)
			? `all ${results.length} stages passed in ${total}`
			: `FAILED in ${total}: ${[failed.length > 0 ? `failed: ${failed.join(', ')}` : '', skipped.length > 0 ? `skipped: ${skipped.join(', ')}` : ''].filter(Boolean).join('; ')}`,
	);
	return lines.join('\n');
}

async function main(): Promise<number> {
	const results = await runStages(STAGES);
	process.stdout.write(`\n=== test:all summary ===\n${summary(results)}\n`);
	return passed(results) ? 0 : 1;
}

if (require.main === module) {
	main().then(
		(code) => process.exit(code),
		(error: unknown) => {
			process.stderr.write(`test:all failed: ${error instanceof Error ? error.message : String(error)}\n`);
			process.exit(1);
		},
	);
}
