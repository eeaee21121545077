/**
 * n8n's verification scanner (`@n8n/scan-community-package`) on this package: its source leg on the
 * working tree and its tarball leg on what `npm pack` produces. The design card keeps `form-data`
 * (docs/design.md, "Why form-data") and a few more runtime dependencies, so the scanner must report
 * exactly those findings (docs/design.md, "What the lint and n8n's scanner accept") and nothing
 * else. A canary package with one known violation proves the scanner and the report parsing work.
 *
 * In the e2e suite because it lints the built `dist/` (test:e2e builds first) and installs the
 * scanner from the registry into ~/.cache/n8n-nodes-faseeh/tools (once).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ensureScanner, scanPackage, TARBALL_FILE_PATTERNS } from '../../scripts/lib/scanner';
import type { ScanFinding } from '../../scripts/lib/scanner';

const REPO = path.resolve(__dirname, '..', '..');

let scanner: string;
let tmp: string;
let tarballDir: string;

/** Files (relative to `root`) under `dirs` whose text matches `pattern`. */
function filesMatching(root: string, dirs: string[], extension: string, pattern: RegExp): string[] {
	const found: string[] = [];
	const walk = (dir: string) => {
		for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
			const full = path.join(dir, entry.name);
			if (entry.isDirectory()) walk(full);
			else if (entry.name.endsWith(extension) && pattern.test(fs.readFileSync(full, 'utf8'))) found.push(path.relative(root, full));
		}
	};
	for (const dir of dirs) walk(path.join(root, dir));
	return found.sort();
}

/**
 * The card's runtime dependencies (sorted): form-data (docs/design.md, "Why form-data"), the audio
 * encoders ("Audio encoders") and decoders ("Audio decoders"), and ioredis, the shared account
 * limiter's client ("One plan across every worker").
 */
const CARD_DEPENDENCIES = ['form-data', 'ioredis', 'mpg123-decoder', 'opus-decoder', 'opusscript', 'wasm-media-encoders'];
/**
 * The one module that reads n8n's queue settings and encryption key (docs/design.md, "One plan across
 * every worker"): there, and only there, `fs` and the `process` global are accepted.
 */
const SETTINGS_MODULE = { source: 'nodes/shared/transport/sharedLimiterSettings.ts', compiled: 'dist/nodes/shared/transport/sharedLimiterSettings.js' };
const SETTINGS_IMPORT = /^(Import|Require) of 'fs' is not allowed/;
const SETTINGS_GLOBAL = /^Use of restricted global 'process' is not allowed/;
/**
 * Node's own `stream` and `events` (docs/design.md, "What the lint and n8n's scanner accept"):
 * speech is written to n8n's binary store through a PassThrough, and the batch's stop signal takes
 * more than 10 listeners. The scanner allows only `crypto` among Node's modules; these two are
 * built in, not dependencies.
 */
const NODE_BUILTINS = ['stream', 'node:stream', 'events', 'node:events'];
/** A card dependency or a file inside one (opusscript's WebAssembly build: nodes/shared/encode/opusNative.ts), or a built-in. */
const ACCEPTED_IMPORTS = [...CARD_DEPENDENCIES.map((name) => `${name}(?:/[^']*)?`), ...NODE_BUILTINS];
/** The decoders are ES modules, loaded with import() (nodes/shared/decode/codecs.ts): "Dynamic import of …". */
const CARD_IMPORT = new RegExp(`^(Import|Require|Dynamic import) of '(${ACCEPTED_IMPORTS.join('|')})' is not allowed`);

const isSettingsModule = (file: string) => file === SETTINGS_MODULE.source || file === SETTINGS_MODULE.compiled;

/** The findings the design card accepts: the two rules about the card's dependencies, and the settings module's fs and process. */
function isFormDataFinding(finding: ScanFinding, packageJson: { dependencies?: Record<string, string> }): boolean {
	if (finding.rule === '@n8n/community-nodes/no-restricted-imports') {
		return CARD_IMPORT.test(finding.message) || (isSettingsModule(finding.file) && SETTINGS_IMPORT.test(finding.message));
	}
	if (finding.rule === '@n8n/community-nodes/no-restricted-globals') return isSettingsModule(finding.file) && SETTINGS_GLOBAL.test(finding.message);
	if (finding.rule === '@n8n/community-nodes/no-runtime-dependencies') {
		return finding.file === 'package.json' && Object.keys(packageJson.dependencies ?? {}).sort().join() === CARD_DEPENDENCIES.join();
	}
	return false;
}

function describeAll(findings: ScanFinding[]): string[] {
	return findings.map((finding) => `${finding.file}:${finding.line} ${finding.rule}: ${finding.message}`);
}

function readPackageJson(dir: string) {
	return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
}

function flaggedFiles(findings: ScanFinding[], rule: string): string[] {
	return [...new Set(findings.filter((finding) => finding.rule === rule).map((finding) => finding.file))].sort();
}

beforeAll(async () => {
	scanner = await ensureScanner();
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-scan-'));
	const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: REPO, encoding: 'utf8' })) as Array<{ filename: string }>;
	tarballDir = path.join(tmp, 'package');
	fs.mkdirSync(tarballDir);
	execFileSync('tar', ['-xzf', path.join(tmp, path.basename(packed[0].filename)), '-C', tarballDir, '--strip-components=1']);
}, 10 * 60_000);

afterAll(() => {
	if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

it('source leg (SOURCE_FILE_PATTERNS): only the form-data findings, one per importing file', async () => {
	const result = await scanPackage(scanner, REPO, 'source');
	expect(result.passed).toBe(false);
	const others = result.findings.filter((finding) => !isFormDataFinding(finding, readPackageJson(REPO)));
	expect(describeAll(others)).toEqual([]);
	expect(result.findings.every((finding) => finding.severity === 'error')).toBe(true);
	expect(flaggedFiles(result.findings, '@n8n/community-nodes/no-restricted-imports')).toEqual(
		[...filesMatching(REPO, ['nodes', 'credentials'], '.ts', new RegExp(`^import .*from '(${ACCEPTED_IMPORTS.join('|')})';$|\\bimport\\('(${ACCEPTED_IMPORTS.join('|')})'\\)`, 'm')), SETTINGS_MODULE.source].sort(),
	);
	expect(flaggedFiles(result.findings, '@n8n/community-nodes/no-restricted-globals')).toEqual([SETTINGS_MODULE.source]);
	expect(flaggedFiles(result.findings, '@n8n/community-nodes/no-runtime-dependencies')).toEqual(['package.json']);
});

it('tarball leg (**/*.js, package.json): only the form-data findings, one per compiled require', async () => {
	const result = await scanPackage(scanner, tarballDir, TARBALL_FILE_PATTERNS);
	expect(result.passed).toBe(false);
	const others = result.findings.filter((finding) => !isFormDataFinding(finding, readPackageJson(tarballDir)));
	expect(describeAll(others)).toEqual([]);
	expect(result.findings.every((finding) => finding.severity === 'error')).toBe(true);
	const requiring = filesMatching(tarballDir, ['dist'], '.js', new RegExp(`(require|import)\\(["'](${ACCEPTED_IMPORTS.join('|')})["']\\)`));
	expect(requiring.length).toBeGreaterThan(0);
	expect(flaggedFiles(result.findings, '@n8n/community-nodes/no-restricted-imports')).toEqual([...requiring, SETTINGS_MODULE.compiled].sort());
	expect(flaggedFiles(result.findings, '@n8n/community-nodes/no-restricted-globals')).toEqual([SETTINGS_MODULE.compiled]);
	expect(flaggedFiles(result.findings, '@n8n/community-nodes/no-runtime-dependencies')).toEqual(['package.json']);
});

it('a canary: the same tarball plus one file with a console call is caught, and not as form-data', async () => {
	const canary = path.join(tmp, 'canary');
	fs.cpSync(tarballDir, canary, { recursive: true });
	const canaryFile = path.join('dist', 'nodes', 'Canary', 'canary.js');
	fs.mkdirSync(path.dirname(path.join(canary, canaryFile)), { recursive: true });
	fs.writeFileSync(path.join(canary, canaryFile), "'use strict';\nconsole.log('the scanner must see this');\n");

	const result = await scanPackage(scanner, canary, TARBALL_FILE_PATTERNS);
	const canaryFindings = result.findings.filter((finding) => finding.file === canaryFile);
	expect(canaryFindings.map((finding) => [finding.rule, finding.line])).toEqual([['no-console', 2]]);
	expect(canaryFindings.some((finding) => isFormDataFinding(finding, readPackageJson(canary)))).toBe(false);
	// The rest is the package's own, unchanged.
	const base = await scanPackage(scanner, tarballDir, TARBALL_FILE_PATTERNS);
	expect(describeAll(result.findings.filter((finding) => finding.file !== canaryFile))).toEqual(describeAll(base.findings));
});
