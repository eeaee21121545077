import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The documentation's links and the section names the code cites. The README, the CHANGELOG and
 * docs/*.md link into each other by file and heading anchor, and comments in the code cite
 * sections as `README, "Long texts"` or `docs/design.md, "Audio encoders"`: a renamed or moved
 * section must not leave a dead link or citation behind.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const DOCS = ['README.md', 'CHANGELOG.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** GitHub's heading anchor: inline markup dropped, lower case, punctuation removed, spaces to hyphens. */
function slug(heading: string): string {
	return heading
		.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
		.replace(/[`*]/g, '')
		.trim()
		.toLowerCase()
		.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
		.replace(/ /g, '-');
}

function withoutCode(markdown: string): string {
	return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

function headings(file: string): string[] {
	return withoutCode(fs.readFileSync(path.join(ROOT, file), 'utf8'))
		.split('\n')
		.filter((line) => /^#{1,6} /.test(line))
		.map((line) => line.replace(/^#{1,6} /, ''));
}

function anchors(file: string): Set<string> {
	const seen = new Map<string, number>();
	const result = new Set<string>();
	for (const heading of headings(file)) {
		const base = slug(heading);
		const count = seen.get(base) ?? 0;
		seen.set(base, count + 1);
		result.add(count === 0 ? base : `${base}-${count}`);
	}
	return result;
}

describe('documentation links', () => {
	it('computes GitHub anchors as GitHub does', () => {
		expect(slug('Speech-to-text (Audio → Transcribe)')).toBe('speech-to-text-audio--transcribe');
		expect(slug('Environment variables (n8n 2.21 and later, 3.0)')).toBe('environment-variables-n8n-221-and-later-30');
		expect(slug("n8n's scanner")).toBe('n8ns-scanner');
		expect(slug('Why `form-data`')).toBe('why-form-data');
	});

	it.each(DOCS)('%s: every relative link reaches an existing file and heading', (file) => {
		const text = withoutCode(fs.readFileSync(path.join(ROOT, file), 'utf8')).replace(/`[^`\n]*`/g, '');
		const broken: string[] = [];
		for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
			const target = match[1];
			if (/^[a-z]+:/i.test(target)) continue;
			const [filePart, anchor] = target.split('#') as [string, string | undefined];
			const targetFile = filePart === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), filePart));
			if (!fs.existsSync(path.join(ROOT, targetFile))) {
				broken.push(`${target}: no file ${targetFile}`);
				continue;
			}
			if (anchor !== undefined && targetFile.endsWith('.md') && !anchors(targetFile).has(anchor)) {
				broken.push(`${target}: no heading #${anchor} in ${targetFile}`);
			}
		}
		expect(broken).toEqual([]);
	});

	it('the README\'s contents list every section of the README', () => {
		const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
		const contents = readme.slice(readme.indexOf('**Contents:**'), readme.indexOf('\n## '));
		const sections = withoutCode(readme)
			.split('\n')
			.filter((line) => /^#{2,3} /.test(line))
			.map((line) => slug(line.replace(/^#+ /, '')));
		expect(sections.length).toBeGreaterThan(20);
		expect(sections.filter((anchor) => !contents.includes(`(#${anchor})`))).toEqual([]);
	});

	it('every README, "Section" or docs/x.md, "Section" cited in the code is a heading of that file', () => {
		const sources: string[] = [];
		const walk = (dir: string) => {
			for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
				const rel = `${dir}/${entry.name}`;
				if (entry.isDirectory()) walk(rel);
				else if (/\.(ts|js|mjs)$/.test(entry.name)) sources.push(rel);
			}
		};
		for (const dir of ['nodes', 'credentials', 'scripts', 'test']) walk(dir);
		sources.push('eslint.config.mjs');

		const broken: string[] = [];
		let citations = 0;
		for (const source of sources.filter((file) => file !== 'test/unit/docsLinks.test.ts')) {
			// A comment may wrap between the file and its section: join the lines first.
			const text = fs.readFileSync(path.join(ROOT, source), 'utf8').replace(/\n\s*(\*|\/\/)\s*/g, ' ');
			for (const match of text.matchAll(/\b(README|docs\/[a-z-]+\.md),? "([^"]+)"/g)) {
				const file = match[1] === 'README' ? 'README.md' : match[1];
				citations++;
				if (!fs.existsSync(path.join(ROOT, file)) || !headings(file).some((h) => h.replace(/[`*]/g, '') === match[2])) {
					broken.push(`${source}: ${match[1]}, "${match[2]}"`);
				}
			}
		}
		expect(broken).toEqual([]);
		// The code does cite sections; a pattern that matched nothing would prove nothing.
		expect(citations).toBeGreaterThan(10);
	});
});
