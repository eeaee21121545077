/**
 * `npm run bench`: throughput, memory and overhead of the Faseeh nodes; prints one table and
 * writes docs/benchmarks.md.
 *
 *   node -r ts-node/register/transpile-only scripts/bench/index.ts
 *     [--only throughput|memory|overhead|executions|transcribe|speech|voicenotes]
 *                                           run one section (docs/benchmarks.md is then not written,
 *                                           except for executions: its own part of it is replaced)
 *     [--reps N]                            runs per throughput configuration (default 3)
 *     [--memory-reps N]                     runs per memory configuration (default 3)
 *     [--rounds N]                          overhead rounds (default 7)
 *     [--executions-reps N]                 runs per executions scenario (default 3)
 *
 * The exit code is 0 even when a target is missed (the numbers are the product); a section that
 * cannot run at all exits 1. Every request loop is bounded by item counts and timeouts, and every
 * child process (sandbox, n8n) is stopped before exit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { fmt, log } from './common';
import { executionsMarkdown, replaceExecutionsSection, runExecutions } from './executions';
import { abortMemory, runMemory } from './memory';
import { runOverhead } from './overhead';
import { profileSteps } from './profile';
import type { BenchResults } from './report';
import { allFigures, machine, markdown, markdownTable, terminalTable } from './report';
import { startRemoteSandbox } from './sandboxClient';
import { replaceSpeechSection, runSpeech, speechMarkdown } from './speech';
import { replaceSpeechLongTextSection, runSpeechLongText, speechLongTextMarkdown } from './speechLongText';
import { runThroughput } from './throughput';
import { replaceTranscribeSection, runTranscribe, transcribeMarkdown } from './transcribe';
import { replaceVoiceNotesSection, runVoiceNotes, voiceNotesMarkdown } from './voiceNotes';
import { cleanupHarness } from '../../test/harness/n8nHarness';
import { killAllStarted } from '../lib/queue';

const SECTIONS = ['throughput', 'memory', 'overhead', 'executions', 'transcribe', 'speech', 'voicenotes'] as const;
type Section = (typeof SECTIONS)[number];
const DOCS_FILE = path.resolve(__dirname, '..', '..', 'docs', 'benchmarks.md');

interface Options {
	only?: Section;
	reps: number;
	memoryReps: number;
	rounds: number;
	executionsReps: number;
	speechReps: number;
}

function parseArgs(argv: string[]): Options {
	const options: Options = { reps: 3, memoryReps: 3, rounds: 7, executionsReps: 3, speechReps: 3 };
	const count = (flag: string, value: string | undefined, max: number) => {
		if (value === undefined || !/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
			throw new Error(`${flag} needs a whole number from 1 to ${max}`);
		}
		return Number(value);
	};
	for (let i = 0; i < argv.length; i += 2) {
		const [flag, value] = [argv[i], argv[i + 1]];
		if (flag === '--only') {
			if (!SECTIONS.includes(value as Section)) throw new Error(`--only needs one of ${SECTIONS.join(', ')}`);
			options.only = value as Section;
		} else if (flag === '--reps') options.reps = count(flag, value, 10);
		else if (flag === '--speech-reps') options.speechReps = count(flag, value, 10);
		else if (flag === '--memory-reps') options.memoryReps = count(flag, value, 10);
		else if (flag === '--rounds') options.rounds = count(flag, value, 20);
		else if (flag === '--executions-reps') options.executionsReps = count(flag, value, 10);
		else throw new Error(`unknown argument ${flag}`);
	}
	return options;
}

/** The overhead profile: the node's steps timed one by one (see profile.ts). */
async function runProfile(): Promise<BenchResults['profile']> {
	const sandbox = await startRemoteSandbox({ latencyMs: 0 });
	try {
		await profileSteps(sandbox, 20, 1); // warm-up
		return await profileSteps(sandbox, 100, 3);
	} finally {
		await sandbox.stop();
		await cleanupHarness();
	}
}

async function main(): Promise<number> {
	const options = parseArgs(process.argv.slice(2));
	// Ctrl-C: the sandbox child exits when this process does (IPC disconnect); n8n has its own
	// process group, so it is ended explicitly.
	for (const signal of ['SIGINT', 'SIGTERM'] as const) {
		process.once(signal, () => {
			abortMemory();
			killAllStarted();
			process.exit(130);
		});
	}
	const started = Date.now();
	const results: BenchResults = { startedAt: new Date(started), durationMs: 0, errors: [] };
	const wanted = (section: Section) => options.only === undefined || options.only === section;
	log(machine().join('; '));

	// One section failing (e.g. no n8n runtime) still lets the others report.
	const attempt = async (section: string, run: () => Promise<void>) => {
		const sectionStart = Date.now();
		log(`${section}: starting`);
		try {
			await run();
			log(`${section}: done in ${fmt((Date.now() - sectionStart) / 1000, 0)} s`);
		} catch (error) {
			const message = (error as Error).message;
			results.errors.push({ section, message });
			log(`${section}: FAILED: ${message}`);
		}
	};
	if (wanted('throughput')) await attempt('throughput', async () => void (results.throughput = await runThroughput(options.reps)));
	if (wanted('memory')) await attempt('memory', async () => void (results.memory = await runMemory(options.memoryReps)));
	if (wanted('overhead')) {
		await attempt('overhead', async () => void (results.overhead = await runOverhead(options.rounds)));
		await attempt('overhead profile', async () => void (results.profile = await runProfile()));
	}
	if (wanted('executions')) await attempt('executions', async () => void (results.executions = await runExecutions(options.executionsReps)));
	if (wanted('transcribe')) await attempt('transcribe', async () => void (results.transcribe = await runTranscribe(options.reps)));
	if (wanted('speech')) await attempt('speech', async () => void (results.speech = await runSpeech(options.speechReps)));
	if (wanted('speech')) await attempt('speech: long texts', async () => void (results.speechLongText = await runSpeechLongText(options.reps)));
	if (wanted('voicenotes')) await attempt('voicenotes', async () => void (results.voiceNotes = await runVoiceNotes(1)));
	results.durationMs = Date.now() - started;

	const figures = allFigures(results);
	console.log(`\n${terminalTable(figures)}\n`);
	const missed = figures.filter((figure) => figure.pass === false);
	if (missed.length === 0) console.log('All targets met.');
	else {
		console.log(`MISSED TARGETS (${missed.length}):`);
		for (const figure of missed) console.log(`  - [${figure.section}] ${figure.figure}: ${figure.measured} (target ${figure.target})`);
	}
	for (const error of results.errors) console.log(`SECTION FAILED: ${error.section}: ${error.message}`);
	console.log(`Run time: ${fmt(results.durationMs / 60_000, 1)} min`);

	// Speech has its own part of docs/benchmarks.md, between markers, kept when the rest is rewritten.
	const withSpeech = (docs: string) => {
		const speechError = results.errors.find((error) => error.section === 'speech')?.message;
		const encoded = results.speech || speechError ? replaceSpeechSection(docs, speechMarkdown(results.speech, speechError, results.startedAt, markdownTable)) : docs;
		return results.speechLongText
			? replaceSpeechLongTextSection(encoded, speechLongTextMarkdown(results.speechLongText, results.startedAt, markdownTable))
			: encoded;
	};
	// So has the voice-note decoding.
	const withVoiceNotes = (docs: string) => {
		const error = results.errors.find((entry) => entry.section === 'voicenotes')?.message;
		return results.voiceNotes || error ? replaceVoiceNotesSection(docs, voiceNotesMarkdown(results.voiceNotes, error, results.startedAt, markdownTable)) : docs;
	};
	if (options.only === undefined) {
		fs.mkdirSync(path.dirname(DOCS_FILE), { recursive: true });
		fs.writeFileSync(DOCS_FILE, withVoiceNotes(withSpeech(markdown(results))));
		console.log(`Wrote ${path.relative(process.cwd(), DOCS_FILE)}`);
	} else if (options.only === 'executions' && results.executions) {
		// Its own part of docs/benchmarks.md, between markers; the rest of the file is kept.
		const docs = fs.existsSync(DOCS_FILE) ? fs.readFileSync(DOCS_FILE, 'utf8') : '# Benchmarks\n';
		fs.writeFileSync(DOCS_FILE, replaceExecutionsSection(docs, executionsMarkdown(results.executions, undefined, results.startedAt, markdownTable)));
		console.log(`Wrote the executions section of ${path.relative(process.cwd(), DOCS_FILE)}`);
	} else if (options.only === 'transcribe' && results.transcribe) {
		const docs = fs.existsSync(DOCS_FILE) ? fs.readFileSync(DOCS_FILE, 'utf8') : '# Benchmarks\n';
		fs.writeFileSync(DOCS_FILE, replaceTranscribeSection(docs, transcribeMarkdown(results.transcribe, undefined, results.startedAt, markdownTable)));
		console.log(`Wrote the transcribe section of ${path.relative(process.cwd(), DOCS_FILE)}`);
	} else if (options.only === 'voicenotes') {
		fs.writeFileSync(DOCS_FILE, withVoiceNotes(fs.existsSync(DOCS_FILE) ? fs.readFileSync(DOCS_FILE, 'utf8') : '# Benchmarks\n'));
		console.log(`Wrote the voice-notes section of ${path.relative(process.cwd(), DOCS_FILE)}`);
	} else if (options.only === 'speech') {
		fs.writeFileSync(DOCS_FILE, withSpeech(fs.existsSync(DOCS_FILE) ? fs.readFileSync(DOCS_FILE, 'utf8') : '# Benchmarks\n'));
		console.log(`Wrote the speech section of ${path.relative(process.cwd(), DOCS_FILE)}`);
	} else {
		console.log(`--only ${options.only}: ${path.relative(process.cwd(), DOCS_FILE)} not written (it needs all sections).`);
	}
	return results.errors.length > 0 ? 1 : 0;
}

main().then(
	(code) => process.exit(code),
	(error: Error) => {
		console.error(error.message);
		process.exit(1);
	},
);
