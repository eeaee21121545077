/**
 * n8n's own static analyser for community packages, `@n8n/scan-community-package`, run locally.
 *
 * Its CLI needs the public registry, npm provenance and GitHub (it lints the source at the commit
 * the provenance names), none of which a test can use. Its module exports the gate itself,
 * `analyzePackage(dir, patterns)` and `SOURCE_FILE_PATTERNS`, so the two legs are run here on the
 * working tree and on the packed tarball, exactly as the CLI runs them on what it downloads.
 *
 * The tool is installed once into a cache folder (not a project dependency), pinned by
 * scanner.package-lock.json. Installed beside this project it needs `--legacy-peer-deps`,
 * TypeScript 5.9 instead of its own 7.x (typescript-eslint 8 refuses 7.x) and `n8n-workflow`
 * (a peer of its lint plugin).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const SCANNER_VERSION = '0.32.0';
const TYPESCRIPT_VERSION = '5.9.3';
const N8N_WORKFLOW_VERSION = '2.41.0';
const LOCKFILE = path.join(__dirname, 'scanner.package-lock.json');
const MARKER_FILE = 'scanner-complete.json';

/** The CLI's tarball leg lints these in the published package. */
export const TARBALL_FILE_PATTERNS = ['**/*.js', 'package.json'];

export interface ScanFinding {
	/** Path relative to the scanned folder. */
	file: string;
	line: number;
	severity: 'error' | 'warning';
	message: string;
	rule: string;
}

export interface ScanResult {
	/** The scanner's own verdict (`analyzePackage(...).passed`). */
	passed: boolean;
	message?: string;
	/** Parsed from the scanner's report (it only reports when there is an error). */
	findings: ScanFinding[];
	/** The report as the scanner formatted it. */
	details: string;
}

export function scannerToolDir(): string {
	const cacheHome = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
	return path.join(cacheHome, 'n8n-nodes-faseeh', 'tools', `scan-${SCANNER_VERSION}`);
}

function toolPackageJson() {
	return {
		name: 'faseeh-tool-scan',
		private: true,
		dependencies: {
			'@n8n/scan-community-package': SCANNER_VERSION,
			'n8n-workflow': N8N_WORKFLOW_VERSION,
			typescript: TYPESCRIPT_VERSION,
		},
		overrides: { typescript: TYPESCRIPT_VERSION },
	};
}

function scannerModule(dir: string): string {
	return path.join(dir, 'node_modules', '@n8n', 'scan-community-package', 'scanner', 'scanner.mjs');
}

function isInstalled(dir: string): boolean {
	try {
		const marker = JSON.parse(fs.readFileSync(path.join(dir, MARKER_FILE), 'utf8'));
		return marker.packageJson === JSON.stringify(toolPackageJson()) && marker.lockfile === fs.readFileSync(LOCKFILE, 'utf8') && fs.existsSync(scannerModule(dir));
	} catch {
		return false;
	}
}

/**
 * Installs the scanner (once) and returns the path of its `scanner.mjs`. Installs into a
 * private temp folder and renames it into place, so concurrent callers never see half an install.
 */
export async function ensureScanner(log: (line: string) => void = (line) => process.stderr.write(`[scanner] ${line}\n`)): Promise<string> {
	const dir = scannerToolDir();
	if (isInstalled(dir)) return scannerModule(dir);
	const start = Date.now();
	log(`installing @n8n/scan-community-package@${SCANNER_VERSION} into ${dir}`);
	fs.mkdirSync(path.dirname(dir), { recursive: true });
	const staging = fs.mkdtempSync(`${dir}.tmp-`);
	try {
		fs.writeFileSync(path.join(staging, 'package.json'), JSON.stringify(toolPackageJson(), null, 2));
		fs.copyFileSync(LOCKFILE, path.join(staging, 'package-lock.json'));
		const args = ['install', '--legacy-peer-deps', '--ignore-scripts', '--no-audit', '--no-fund', '--no-update-notifier', '--engine-strict=false'];
		const res = await capture('npm', args, staging, process.env, 10 * 60_000);
		if (res.code !== 0) throw new Error(`npm ${args.join(' ')} failed (exit ${res.code}) in ${staging}:\n${res.output.slice(-4000)}`);
		if (!fs.existsSync(scannerModule(staging))) throw new Error(`npm install left no ${scannerModule(staging)}`);
		fs.writeFileSync(
			path.join(staging, MARKER_FILE),
			JSON.stringify({ packageJson: JSON.stringify(toolPackageJson()), lockfile: fs.readFileSync(LOCKFILE, 'utf8') }),
		);
		fs.rmSync(dir, { recursive: true, force: true });
		try {
			fs.renameSync(staging, dir);
		} catch (error) {
			// Another process put its install in place first: use that one.
			if (!isInstalled(dir)) throw error;
		}
	} finally {
		fs.rmSync(staging, { recursive: true, force: true });
	}
	log(`scanner ready in ${Math.round((Date.now() - start) / 1000)}s`);
	return scannerModule(dir);
}

// Runs in a child Node process: the scanner is an ES module with its own dependency tree.
const RUNNER = `
const [scanner, dir, patterns] = process.argv.slice(1);
const { analyzePackage, SOURCE_FILE_PATTERNS } = await import(scanner);
const result = await analyzePackage(dir, patterns === 'source' ? SOURCE_FILE_PATTERNS : JSON.parse(patterns));
process.stdout.write(JSON.stringify({ passed: result.passed, message: result.message, details: result.details ?? '', error: result.error ? String(result.error.stack ?? result.error) : undefined }));
`;

/**
 * `analyzePackage(dir, patterns)`; `patterns: 'source'` uses the scanner's own
 * SOURCE_FILE_PATTERNS (what it lints in the source checkout).
 */
export async function scanPackage(scanner: string, dir: string, patterns: 'source' | string[]): Promise<ScanResult> {
	const arg = patterns === 'source' ? 'source' : JSON.stringify(patterns);
	// Jest sets NODE_ENV=test, which switches eslint-plugin-n8n-nodes-base into its own test mode
	// (file names taken as fixtures, trigger rules on every node): the scanner must not see it.
	const env: NodeJS.ProcessEnv = { NO_COLOR: '1', FORCE_COLOR: '0' };
	for (const [key, value] of Object.entries(process.env)) if (!/^(NODE_ENV|NODE_OPTIONS|JEST_.*)$/.test(key)) env[key] = value;
	// The scanner makes a temp folder on import (for the CLI's downloads) and leaves it: give it one we remove.
	const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-scanner-'));
	env.TMPDIR = tmp;
	let res: Awaited<ReturnType<typeof capture>>;
	try {
		res = await capture(process.execPath, ['--input-type=module', '-e', RUNNER, scanner, dir, arg], dir, env, 5 * 60_000);
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
	let parsed: { passed: boolean; message?: string; details: string; error?: string };
	try {
		parsed = JSON.parse(res.stdout);
	} catch {
		throw new Error(`the scanner printed no result (exit ${res.code}):\n${res.output.slice(-4000)}`);
	}
	if (parsed.error) throw new Error(`the scanner could not analyse ${dir}: ${parsed.error}`);
	return { passed: parsed.passed, message: parsed.message, details: parsed.details, findings: parseStylish(parsed.details, dir) };
}

/**
 * ESLint's "stylish" report (what the scanner returns) as findings. Throws if the count does not
 * match the report's own summary line, so a format change cannot hide findings.
 */
export function parseStylish(report: string, baseDir: string): ScanFinding[] {
	// eslint-disable-next-line no-control-regex
	const lines = report.replace(/\u001b\[[0-9;]*m/g, '').split('\n');
	const findings: ScanFinding[] = [];
	let file = '';
	for (const line of lines) {
		const finding = /^\s+(\d+):\d+\s+(error|warning)\s+(.+?)\s{2,}(\S+)\s*$/.exec(line);
		if (finding) {
			findings.push({ file, line: Number(finding[1]), severity: finding[2] as 'error' | 'warning', message: finding[3], rule: finding[4] });
		} else if (line.startsWith('/')) {
			file = path.relative(baseDir, line.trim());
		}
	}
	const summary = /(\d+) problems? \((\d+) errors?, (\d+) warnings?\)/.exec(lines.join('\n'));
	const expected = summary ? Number(summary[1]) : 0;
	if (findings.length !== expected) {
		throw new Error(`parsed ${findings.length} findings but the report says ${expected}:\n${report}`);
	}
	return findings;
}

function capture(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
	return new Promise<{ code: number; stdout: string; output: string }>((resolve, reject) => {
		const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
		const out: Buffer[] = [];
		const all: Buffer[] = [];
		child.stdout.on('data', (d: Buffer) => {
			out.push(d);
			all.push(d);
		});
		child.stderr.on('data', (d: Buffer) => all.push(d));
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.on('error', reject);
		child.on('close', (code) => {
			clearTimeout(timer);
			resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), output: Buffer.concat(all).toString('utf8') });
		});
	});
}
