/** The result table (terminal and Markdown) and docs/benchmarks.md. */
import * as os from 'node:os';

import { N8N_VERSION, NODE_VERSION } from '../lib/runtime';
import type { Figure } from './common';
import { fmt, median } from './common';
import type { ExecutionsResult } from './executions';
import { executionsMarkdown } from './executions';
import type { TranscribeResult } from './transcribe';
import { transcribeMarkdown } from './transcribe';
import type { MemoryResult } from './memory';
import { TARGET_DELTA_MIB } from './memory';
import type { OverheadResult } from './overhead';
import { OVERHEAD_LATENCY_ITEMS, OVERHEAD_LATENCY_MS, TARGET_RATIO as OVERHEAD_TARGET_RATIO } from './overhead';
import type { PhaseTimes } from './profile';
import { PROBE_CREDENTIALS, PROBE_PLAIN_HELPER, STEP_BINARIES, STEP_PARAMETERS, STEP_REQUEST, STEP_TOTAL } from './profile';
import type { SpeechResult } from './speech';
import type { LongTextResult } from './speechLongText';
import type { ThroughputResult } from './throughput';
import type { VoiceNotesResult } from './voiceNotes';
import { ITEMS, LATENCY_MS } from './throughput';

export interface BenchResults {
	startedAt: Date;
	durationMs: number;
	throughput?: ThroughputResult;
	memory?: MemoryResult;
	overhead?: OverheadResult;
	profile?: PhaseTimes;
	executions?: ExecutionsResult;
	transcribe?: TranscribeResult;
	speech?: SpeechResult;
	speechLongText?: LongTextResult;
	voiceNotes?: VoiceNotesResult;
	/** Sections that threw, with the message. */
	errors: Array<{ section: string; message: string }>;
}

function verdict(figure: Figure): string {
	if (figure.pass === undefined) return 'info';
	return figure.pass ? 'PASS' : 'MISS';
}

export function allFigures(results: BenchResults): Figure[] {
	return [
		...(results.throughput?.figures ?? []),
		...(results.memory?.figures ?? []),
		...(results.overhead?.figures ?? []),
		...(results.executions?.figures ?? []),
		...(results.transcribe?.figures ?? []),
		...(results.speech?.figures ?? []),
		...(results.speechLongText?.figures ?? []),
		...(results.voiceNotes?.figures ?? []),
	];
}

/** A plain-text table for the terminal. */
export function terminalTable(figures: Figure[]): string {
	const rows = [['Section', 'Figure', 'Measured', 'Target', 'Result'], ...figures.map((f) => [f.section, f.figure, f.measured, f.target, verdict(f)])];
	const widths = rows[0].map((_unused, column) => Math.max(...rows.map((row) => row[column].length)));
	const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column])).join(' | ');
	return [line(rows[0]), widths.map((width) => '-'.repeat(width)).join('-+-'), ...rows.slice(1).map(line)].join('\n');
}

export function markdownTable(figures: Figure[]): string {
	const escape = (text: string) => text.replace(/\|/g, '\\|');
	return [
		'| Section | Figure | Measured | Target | Result |',
		'|---|---|---|---|---|',
		...figures.map((f) => `| ${f.section} | ${escape(f.figure)} | ${escape(f.measured)} | ${escape(f.target)} | ${verdict(f) === 'MISS' ? '**MISS**' : verdict(f)} |`),
	].join('\n');
}

export function machine(): string[] {
	const cpus = os.cpus();
	return [
		`CPU: ${cpus[0]?.model ?? 'unknown'}, ${os.availableParallelism()} logical cores (nproc)`,
		`Memory: ${fmt(os.totalmem() / 1024 ** 3, 1)} GiB`,
		`OS: ${os.type()} ${os.release()}`,
		`Node (bench process, harness and sandbox): ${process.version}`,
		`Node (real n8n): v${NODE_VERSION}`,
		`n8n: ${N8N_VERSION} (real n8n); n8n-core ${packageVersion('n8n-core')} and n8n-workflow ${packageVersion('n8n-workflow')} in the harness`,
		`form-data ${packageVersion('form-data')}, axios ${packageVersion('axios')}`,
	];
}

function packageVersion(name: string): string {
	try {
		return (require(`${name}/package.json`) as { version: string }).version;
	} catch {
		return 'unknown';
	}
}

// -------------------------------------------------------------------------------------------
// Findings: the numbers behind each missed target, computed from this run.
// -------------------------------------------------------------------------------------------

const pct = (value: number) => `${fmt(value * 100, 1)} %`;

function throughputFindings(result: ThroughputResult, profile: PhaseTimes | undefined): string[] {
	const lines: string[] = [];
	const serial = result.rows.find((row) => row.concurrency === 1);
	if (serial) {
		const perItem = median(serial.nodeMs) / ITEMS;
		lines.push(
			`- At concurrency 1 an item takes ${fmt(perItem, 1)} ms of node time for ${LATENCY_MS} ms of sandbox latency: ${fmt(perItem - LATENCY_MS, 1)} ms per item are spent outside the sandbox's wait (engine, node, HTTP round trip, the sandbox parsing the upload).`,
		);
	}
	for (const row of result.rows.filter((candidate) => candidate.concurrency > 1)) {
		const cycle = (median(row.nodeMs) * row.concurrency) / ITEMS;
		lines.push(
			`- At concurrency ${row.concurrency} each slot turns over every ${fmt(cycle, 1)} ms (${fmt(cycle - LATENCY_MS, 1)} ms above the latency): ratio ${pct(row.ratio)}. The sandbox never saw more than ${row.maxInFlight} requests at once.`,
		);
	}
	for (const reference of result.references) {
		const ideal = (ITEMS * LATENCY_MS) / reference.concurrency;
		const node = result.rows.find((row) => row.concurrency === reference.concurrency);
		lines.push(
			`- Without the Faseeh node, at concurrency ${reference.concurrency}, the same sandbox and machine reach ${pct(ideal / median(reference.bareMs))} with bare form-data POSTs (one connection per request) and ${pct(ideal / median(reference.minimalMs))} with a minimal n8n node that only calls this.helpers.httpRequest (scripts/bench/bare.ts)${node ? `; the Faseeh node reaches ${pct(node.ratio)}` : ''}.`,
		);
	}
	if (profile?.[STEP_TOTAL]) {
		const cpu = profile[STEP_TOTAL].cpuMs;
		lines.push(
			`- What is left between the ratio and 100 % is per-request work outside the sandbox's wait: the node's steps cost ${fmt(cpu, 2)} ms of CPU per item in the process that runs n8n (overhead profile below; the same upload through this.helpers.httpRequest alone costs ${fmt(profile[PROBE_PLAIN_HELPER]?.cpuMs ?? Number.NaN, 2)} ms), and on this 2-core machine n8n's file reads (libuv's 4 threads), its HTTP helper and the sandbox process share the cores, so at 10 in flight answers that arrive together wait for each other. Checking the next items while requests are in flight keeps the checks off that path; the references above show what the same machine allows without the node.`,
		);
	}
	for (const row of result.limited) {
		lines.push(
			`- Plan limit 2 with concurrency ${row.concurrency}: ${row.succeeded}/${ITEMS} items succeeded with a median of ${fmt(median(row.refused429), 0)} answers 429 in ${fmt(median(row.nodeMs) / 1000, 2)} s (the ideal at 2 in flight is ${fmt((ITEMS * LATENCY_MS) / 2 / 1000, 1)} s); the sandbox admitted at most ${row.maxAdmitted} at once while the node had up to ${row.maxInFlight} open.`,
		);
	}
	return lines;
}

function memoryFindings(result: MemoryResult): string[] {
	const { peaks, own, ownShare, uploadGrowth } = result;
	const wholeRunTargets = result.figures.filter((figure) => figure.figure.startsWith('whole run') && figure.pass !== undefined);
	const wholeRunMissed = wholeRunTargets.filter((figure) => figure.pass === false).length;
	const readOnlyOverTarget = peaks.none.delta > TARGET_DELTA_MIB;
	const uploads = result.runs.filter((run) => run.uploader !== 'none');
	const withLength = uploads.filter((run) => run.contentLength !== undefined && !run.chunked).length;
	return [
		`- The whole run's peak (VmHWM over the whole \`n8n execute\`, the figure as specified) ${readOnlyOverTarget ? 'is dominated by n8n reading the file, not by the upload' : 'includes n8n reading the file'}: the same workflow without an upload node already has a delta of ${fmt(peaks.none.delta)} MiB, ${pct(peaks.none.delta / peaks.faseeh.delta)} of the Faseeh workflow's ${fmt(peaks.faseeh.delta)} MiB. That part is paid before any upload node runs${readOnlyOverTarget ? `, so in this run the whole-run delta could not reach ${TARGET_DELTA_MIB} MiB whatever the upload node does` : ''}. Whole-run targets missed in this run: ${wholeRunMissed} of ${wholeRunTargets.length}.`,
		`- What the upload node itself adds (each workflow's peak minus the read-only workflow's peak at the same file size): Faseeh Voice Clone ${fmt(own.faseeh.small)} MiB at 1 MiB and ${fmt(own.faseeh.big)} MiB at 200 MiB (Δ ${fmt(own.faseeh.delta)} MiB); HTTP Request 4.5 ${fmt(own.httpRequest.small)} and ${fmt(own.httpRequest.big)} MiB (Δ ${fmt(own.httpRequest.delta)} MiB); share ${fmt(ownShare, 3)}. These are differences between medians of separate n8n processes, whose peaks vary by a few MiB from run to run, so a value near zero (or below) means the node adds nothing measurable. While the upload node runs, RSS grows by ${fmt(uploadGrowth.faseeh.big)} MiB for the 200 MiB Faseeh upload (${fmt(uploadGrowth.faseeh.small)} MiB for 1 MiB), and by ${fmt(uploadGrowth.httpRequest.big)} MiB for HTTP Request's (${fmt(uploadGrowth.httpRequest.small)} MiB).`,
		`- HTTP Request 4.5 in n8n 2.41.1 also streams form binaries from the store (getBinaryStream with knownLength), but it follows redirects by default, so the body goes through axios's follow-redirects transport, which keeps every written chunk so that it can resend the body after a redirect: the whole file ends up in memory (whole-run Δ ${fmt(peaks.httpRequest.delta)} MiB). With Follow Redirects off it streams (Δ ${fmt(peaks.httpRequestNoRedirect.delta)} MiB, close to the read-only workflow). The Faseeh node never follows redirects (disableFollowRedirect), which is why it does not buffer.`,
		`- ${withLength} of ${uploads.length} uploads arrived with a Content-Length and without chunked encoding${withLength < uploads.length ? ` (the others: ${uploads.filter((run) => run.contentLength === undefined || run.chunked).map((run) => `${run.uploader} ${fmt(run.sizeBytes / 1024 ** 2, 0)} MiB`).join(', ')})` : ''}. The sandbox received every part byte for byte: each run checks the sizes and sha256 of both files and fails the benchmark otherwise.`,
	];
}

function overheadFindings(result: OverheadResult, profile: PhaseTimes | undefined): string[] {
	const per = (key: keyof OverheadResult['perItemMs']) => median(result.perItemMs[key]);
	const cpu = (key: keyof OverheadResult['cpuMs']) => median(result.cpuMs[key]);
	const lines = [
		`- Per item (median of ${result.rounds} rounds of ${result.items}): the node ${fmt(per('node'), 2)} ms; bare form-data POST with node's http ${fmt(per('http'), 2)} ms (one connection per request ${fmt(per('httpNewConnection'), 2)} ms, axios ${fmt(per('axios'), 2)} ms); a minimal n8n node that only calls this.helpers.httpRequest ${fmt(per('minimal'), 2)} ms. CPU of this process per item: node run ${fmt(cpu('node'), 2)} ms and minimal node run ${fmt(cpu('minimal'), 2)} ms (both include the fixture node writing the binaries), bare http ${fmt(cpu('http'), 2)} ms.`,
		`- So n8n's own path (engine + HTTP helper, no node logic) is already ${fmt(per('minimal') / per('http'), 2)}× the bare POST, and the Faseeh node is ${fmt(per('node') / per('minimal'), 2)}× the minimal node (${fmt(per('node') - per('minimal'), 2)} ms more per item).${per('minimal') / per('http') > OVERHEAD_TARGET_RATIO ? ` Against a server that answers at once, the ${OVERHEAD_TARGET_RATIO}× target was out of reach in this run for any node that sends through n8n's helpers (which the conventions require: proxy settings, credential handling).` : ''}`,
		`- Against a server that takes ${OVERHEAD_LATENCY_MS} ms to answer (the throughput setting), the node takes ${fmt(median(result.withLatencyMs.node), 2)} ms per item and the bare POST ${fmt(median(result.withLatencyMs.http), 2)} ms: ${fmt(result.ratioWithLatency, 3)}×. The node's cost above the bare POST, ${fmt(median(result.withLatencyMs.node) - median(result.withLatencyMs.http), 2)} ms per item here, is what the first row measures; it is ${pct((median(result.withLatencyMs.node) - median(result.withLatencyMs.http)) / median(result.withLatencyMs.node))} of an item's time at this latency.`,
	];
	if (profile) {
		const at = (key: string) => profile[key] ?? { wallMs: Number.NaN, cpuMs: Number.NaN };
		lines.push(
			"- Where the node's time goes (median per item, same harness and sandbox):",
			'',
			'  | Step | Wall ms | CPU ms |',
			'  |---|---|---|',
			...[STEP_PARAMETERS, STEP_BINARIES, STEP_REQUEST, STEP_TOTAL, PROBE_CREDENTIALS, PROBE_PLAIN_HELPER].map(
				(key) => `  | ${key} | ${fmt(at(key).wallMs, 2)} | ${fmt(at(key).cpuMs, 2)} |`,
			),
			'',
			`- Reading: the request step (${fmt(at(STEP_REQUEST).wallMs, 2)} ms) is ${fmt(at(STEP_REQUEST).wallMs - at(PROBE_PLAIN_HELPER).wallMs, 2)} ms more than the same upload through this.helpers.httpRequest: the credential path (httpRequestWithAuthentication decrypts the credential for every request and getBaseUrl reads it once more; one getCredentials alone is ${fmt(at(PROBE_CREDENTIALS).wallMs, 2)} ms; the key header is set by a plain function, not an expression). The binary checks (${fmt(at(STEP_BINARIES).wallMs, 2)} ms) are, per file, a metadata read for the exact size and a separate 16-byte read to sniff the format, each a file open through n8n's binary store. Parameters (${fmt(at(STEP_PARAMETERS).wallMs, 2)} ms) are n8n's expression engine (one expression per item here).`,
			"- With concurrency above 1, the checks of the next items run while requests are in flight, so they do not add to the turnover of a request slot (see Throughput). At concurrency 1 the node also checks one item ahead. The metadata read and the sniff are what \"checked before any request\" costs; n8n's `bytes` field on the binary could replace the metadata read only if item data were trusted for the Content-Length.",
		);
	}
	return lines;
}

export function markdown(results: BenchResults): string {
	// The executions section has its own table (it can be rerun alone: `--only executions`).
	const figures = allFigures(results).filter(
		(figure) => figure.section !== 'executions' && figure.section !== 'transcribe' && figure.section !== 'speech',
	);
	const missed = figures.filter((figure) => figure.pass === false);
	const out: string[] = [
		'# Benchmarks',
		'',
		'Generated by `npm run bench` (`scripts/bench/`). Numbers are from one run on the machine below;',
		'they move a few percent between runs. Rerun to refresh this file.',
		'',
		`Date: ${results.startedAt.toISOString()}. Run time: ${fmt(results.durationMs / 60_000, 1)} min.`,
		'',
		'## Results',
		'',
		markdownTable(figures),
		'',
		missed.length === 0 ? 'All targets met.' : `Missed targets: ${missed.length} (see Findings).`,
		'',
	];
	if (results.errors.length > 0) {
		out.push('Sections that failed to run:', '', ...results.errors.map((error) => `- ${error.section}: ${error.message}`), '');
	}
	out.push('## Machine', '', ...machine().map((line) => `- ${line}`), '');
	out.push(
		'## Method',
		'',
		'### Throughput',
		'',
		`- ${ITEMS} items, each with two small valid WAVs (0.2 s and 0.3 s of 24 kHz PCM16: different sizes, so the node does not hash them to compare), run through the Faseeh Voice Clone node (TypeScript sources via ts-node) in n8n-core's real \`WorkflowExecute\` (test/harness/n8nHarness.ts), filesystem binary mode, with Options → Concurrency 1, 2, 5 and 10.`,
		`- The sandbox (test/sandbox/FaseehSandbox.ts) runs in a child process (scripts/bench/sandboxChild.ts) with \`latencyMs: ${LATENCY_MS}\`: every answer leaves ${LATENCY_MS} ms after its request arrived (its own multipart parsing and hashing happen inside that time). Its parsing does not run on the node's event loop; the machine's two cores are shared by both processes and n8n's file-reading threads. The bench process runs only the engine and the node.`,
		`- Time: n8n's own \`executionTime\` of the node under test (median of ${results.throughput?.reps ?? 'n'} runs); the wall time of the whole harness run (fixture node writing the binaries + the node) in brackets. Ratio = ideal / node time, ideal = ${ITEMS} × ${LATENCY_MS / 1000} s / concurrency.`,
		'- Max in flight: the sandbox\'s own maximum of concurrently open requests, over all runs of that concurrency.',
		'- References (information): the same 200 uploads at concurrency 5 and 10 to the same sandbox without the Faseeh node: bare form-data POSTs with node\'s http, one connection per request (as n8n\'s helpers do), and a minimal n8n node that only calls this.helpers.httpRequest (scripts/bench/bare.ts). They show what the environment and n8n\'s HTTP helper allow.',
		'- Plan limit: the sandbox with `maxConcurrent: 2` answers 429 (42901, no Retry-After) to requests above 2; the node runs with concurrency 10 and 5. Items succeeded = items with a voice_id in the output and clones the sandbox answered 200 (the minimum over the runs). "Attempted" counts every open request, "admitted" only those not refused (read from the sandbox\'s admission counter right after each decision).',
		'',
		'### Memory',
		'',
		`- A real n8n ${N8N_VERSION} on Node ${NODE_VERSION} (scripts/lib/runtime.ts), the package compiled from the current sources into a temp folder and installed the way n8n installs community packages (scripts/lib/n8n.ts), \`N8N_DEFAULT_BINARY_DATA_MODE=filesystem\`, one \`n8n execute --id\` per measurement.`,
		'- Workflow: Manual Trigger → two Read/Write Files from Disk nodes (the voice file into `voice_file`, a 1 s reference WAV into `reference_audio_file`) → Merge (combine by position, so one item carries both binaries) → the upload node. Voice files: valid WAVs of exactly 1 MiB and 200 MiB (44-byte header + PCM), written in 1 MiB chunks.',
		'- Upload nodes: Faseeh Voice Clone (Max File Size 300 MB, else defaults); HTTP Request 4.5 (latest in 2.41.1) POST multipart/form-data with two "n8n Binary File" fields and the four text fields the node sends, header x-api-key, options left at their defaults; for information the same with Follow Redirects off, and the workflow without an upload node.',
		'- The sandbox runs in its own process (keepPartData false), so only n8n is measured. Every run is checked: n8n exit 0 with a voice_id from the upload node, exactly one clone answered 200, voice_file and reference_audio_file received with the exact size and sha256, the same text fields.',
		`- Peak RSS: VmHWM of the main n8n process (\`n8n execute\` runs the workflow in its own process; its task-runner child is not counted) read from /proc every 20 ms until it exits. Median of ${results.memory?.reps ?? 'n'} runs per configuration, configurations interleaved. Delta = peak(200 MiB) − peak(1 MiB).`,
		'- "Upload node\'s own peak": the workflow\'s peak minus the peak of the same workflow without an upload node, at the same file size (medians), so n8n\'s reading of the file is taken out; delta = 200 MiB − 1 MiB as in the whole-run figure. "RSS growth while the upload node ran": the highest VmRSS sample inside the node\'s run (n8n\'s startTime + executionTime) minus the last sample before it.',
		'',
		'### Overhead',
		'',
		`- Node: ${results.overhead?.items ?? 'N'} items, concurrency 1, sandbox (child process) with no latency; per item = n8n's executionTime of the node / items. Second measurement: ${OVERHEAD_LATENCY_ITEMS} items of node and bare http against a sandbox answering after ${OVERHEAD_LATENCY_MS} ms, 3 rounds, order alternating.`,
		'- Bare: the same parts (the same two WAV files streamed from disk with knownLength, same file names and content types, the same text fields in the same order) built with `form-data` and POSTed sequentially from the same process to the same sandbox with node\'s `http` and its default keep-alive agent (the target\'s baseline). For information: the same with a new connection per request, with axios, and the minimal n8n node (this.helpers.httpRequest only) through the harness.',
		`- Warm-up of both first; ${results.overhead?.rounds ?? 'n'} rounds, the order alternating each round; median per item of each. Ratio = node / bare http.`,
		'- Profile: a probe node (scripts/bench/profile.ts) runs the node\'s own exported steps (readCloneFields, readCloneAudio, sendCloneRequest: what cloneVoice does), one item at a time, with timers around each, plus isolated calls of n8n helpers, through the same harness. CPU is this process\'s user + system time (all threads) over the step.',
		'',
		'## Findings',
		'',
	);
	if (results.throughput) out.push('### Throughput', '', ...throughputFindings(results.throughput, results.profile), '');
	if (results.memory) out.push('### Memory', '', ...memoryFindings(results.memory), '');
	if (results.overhead) out.push('### Overhead', '', ...overheadFindings(results.overhead, results.profile), '');
	const executionsError = results.errors.find((error) => error.section === 'executions')?.message;
	out.push(executionsMarkdown(results.executions, executionsError, results.startedAt, markdownTable), '');
	const transcribeError = results.errors.find((error) => error.section === 'transcribe')?.message;
	out.push(transcribeMarkdown(results.transcribe, transcribeError, results.startedAt, markdownTable), '');
	return `${out.join('\n')}\n`;
}
