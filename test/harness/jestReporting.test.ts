/**
 * How Jest reports a failure here (issue 22), checked by running Jest, with this repository's
 * jest.config.js (transform, tsconfig, environment, setup), on deliberately failing tests in
 * test/fixtures/jest-reporting:
 * - at its own line: one failure was reported at a blank line, one at a line of the test before
 *   (test/tsconfig.json had sourceMap false, so Jest printed lines of the compiled code);
 * - with the console output of the failed test, and none of the passing tests' (a green run
 *   printed hundreds of n8n log blocks).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');
const FIXTURE = path.join(REPO, 'test', 'fixtures', 'jest-reporting', 'failing.fixture.ts');

/** The line of each `// line:<name>` marker in the fixture. */
function markedLines(): Record<string, number> {
	const lines: Record<string, number> = {};
	fs.readFileSync(FIXTURE, 'utf8')
		.split('\n')
		.forEach((text, index) => {
			const marker = /\/\/ line:(\w+)$/.exec(text);
			if (marker) lines[marker[1]] = index + 1;
		});
	return lines;
}

interface JestJson {
	numFailedTests: number;
	numPassedTests: number;
	testResults: Array<{ assertionResults: Array<{ fullName: string; status: string; failureMessages: string[] }> }>;
}

let results: JestJson['testResults'][number]['assertionResults'];
/** What Jest printed (stdout and stderr). */
let printed: string;

beforeAll(() => {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-jest-reporting-'));
	try {
		// jest.config.js itself (transform, tsconfig, setup files), pointed at the fixture.
		const config = {
			...(require(path.join(REPO, 'jest.config.js')) as Record<string, unknown>),
			rootDir: REPO,
			roots: ['<rootDir>/test/fixtures/jest-reporting'],
			testMatch: ['**/*.fixture.ts'],
		};
		const output = path.join(dir, 'results.json');
		const run = spawnSync(
			process.execPath,
			[path.join(REPO, 'node_modules', 'jest', 'bin', 'jest.js'), '--config', JSON.stringify(config), '--json', `--outputFile=${output}`, '--ci', '--runInBand'],
			{ cwd: REPO, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, timeout: 120_000 },
		);
		expect(run.status).toBe(1); // the fixture fails, as it must
		printed = `${run.stdout}\n${run.stderr}`;
		const json = JSON.parse(fs.readFileSync(output, 'utf8')) as JestJson;
		expect(json.testResults).toHaveLength(1);
		results = json.testResults[0].assertionResults;
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
}, 120_000);

/** `failing.fixture.ts:<line>` of every frame in the fixture, first (innermost) first. */
function reportedLines(title: string): number[] {
	const result = results.find((candidate) => candidate.fullName === title);
	expect(result?.status).toBe('failed');
	return [...(result?.failureMessages.join('\n') ?? '').matchAll(/failing\.fixture\.ts:(\d+):\d+/g)].map((match) => Number(match[1]));
}

it('the fixture ran: two tests passed, four failed', () => {
	expect(results.map((result) => result.status).sort()).toEqual(['failed', 'failed', 'failed', 'failed', 'passed', 'passed']);
});

it('an assertion after comments, blank lines and an await: its own line', () => {
	expect(reportedLines('reported lines an assertion after comments and awaits')[0]).toBe(markedLines().assertion);
});

it('a TypeError reading a property of undefined: its own line', () => {
	expect(reportedLines('reported lines a TypeError reading a property of undefined')[0]).toBe(markedLines().typeError);
});

it('a failure in a helper: the helper’s line, then the call’s', () => {
	const lines = reportedLines('reported lines a failing helper');
	expect(lines.slice(0, 2)).toEqual([markedLines().helper, markedLines().helperCall]);
});

it('each case of a table: the line of the test', () => {
	expect(reportedLines('reported lines each 2')[0]).toBe(markedLines().each);
});

it('prints the console output of a failed test, under its name, including direct writes to the console’s stream', () => {
	expect(printed).toContain('console output of the failed test "reported lines › an assertion after comments and awaits"');
	expect(printed).toContain('LOUD-failing-log');
	expect(printed).toContain('LOUD-failing-stream');
});

it('prints nothing of what passing tests (and the hooks before them) wrote', () => {
	expect(printed).not.toMatch(/QUIET-/);
});
