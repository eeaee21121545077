/**
 * `npm run test:all` (scripts/test-all.ts) runs every stage even after a failure, skips a stage
 * whose prerequisite failed (the e2e tests need the build) and ends with a summary that fails the
 * run. The stages here are small Node processes that exit with a given code.
 */
import { passed, runStages, STAGES, summary } from '../../scripts/test-all';
import type { Stage } from '../../scripts/test-all';

const exits = (code: number): string[] => [process.execPath, '-e', `process.exit(${code})`];
const silent = { log: () => undefined };

it('runs every stage after a failure, skips the one that needs a failed stage, and fails with a summary', async () => {
	const stages: Stage[] = [
		{ name: 'lint', command: exits(1) },
		{ name: 'build', command: exits(2) },
		{ name: 'test (Jest)', command: exits(0) },
		{ name: 'test:e2e', command: exits(0), needs: ['build'] },
	];
	const results = await runStages(stages, silent);
	expect(results.map(({ name, exitCode, skipped }) => ({ name, exitCode, skipped }))).toEqual([
		{ name: 'lint', exitCode: 1, skipped: undefined },
		{ name: 'build', exitCode: 2, skipped: undefined },
		{ name: 'test (Jest)', exitCode: 0, skipped: undefined },
		{ name: 'test:e2e', exitCode: undefined, skipped: 'skipped: build did not pass' },
	]);
	expect(passed(results)).toBe(false);
	const table = summary(results).split('\n');
	expect(table[0]).toMatch(/^stage\s+exit code\s+duration$/);
	expect(table[1]).toMatch(/^lint\s+1\s+\d+ s$/);
	expect(table[2]).toMatch(/^build\s+2\s+\d+ s$/);
	expect(table[4]).toMatch(/^test:e2e\s+-\s+skipped: build did not pass$/);
	expect(table[5]).toMatch(/^FAILED in \d+ s: failed: lint, build; skipped: test:e2e$/);
});

it('passes when every stage passes', async () => {
	const results = await runStages([{ name: 'build', command: exits(0) }, { name: 'test:e2e', command: exits(0), needs: ['build'] }], silent);
	expect(passed(results)).toBe(true);
	expect(summary(results).split('\n').pop()).toMatch(/^all 2 stages passed in \d+ s$/);
});

it('a command that cannot start fails its stage, and the next stages still run', async () => {
	const results = await runStages([{ name: 'missing', command: ['/nonexistent/program'] }, { name: 'next', command: exits(0) }], silent);
	expect(results.map((result) => result.exitCode)).toEqual([1, 0]);
});

it('the real stages: the suite in order, e2e after the build', () => {
	expect(STAGES.map((stage) => stage.name)).toEqual(['lint', 'typecheck', 'build', 'test (Jest)', 'test:node24', 'test:e2e']);
	expect(STAGES.find((stage) => stage.name === 'test:e2e')?.needs).toEqual(['build']);
});
