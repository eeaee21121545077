/** Shared pieces of the benchmarks: fixtures, the harness call, statistics, formatting. */
import { createHash } from 'node:crypto';

import type { INodeParameters } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import type { FixtureItem, NodeRunResult } from '../../test/harness/n8nHarness';
import { NODE_UNDER_TEST, runNode } from '../../test/harness/n8nHarness';
import { makePcm16, wrapWav } from '../../test/sandbox/audio';
import type { RemoteSandbox } from './sandboxClient';
import type { RequestSummary } from './sandboxChild';

/**
 * Loaded by its .ts path: under plain `node -r ts-node/register`, `require('…/FaseehVoiceClone.node')`
 * resolves to the codex file FaseehVoiceClone.node.json (Node tries .json before ts-node's .ts).
 */
const { FaseehVoiceClone } = require('../../nodes/FaseehVoiceClone/FaseehVoiceClone.node.ts') as typeof import('../../nodes/FaseehVoiceClone/FaseehVoiceClone.node');

/** Small valid WAVs of different sizes (equal sizes would make the node hash both files). */
export const PREVIEW_WAV = wrapWav(makePcm16(0.2, 24000, 300));
export const ORIGINAL_WAV = wrapWav(makePcm16(0.3, 24000, 200));

export const CLONE_TEXT = 'نص المعاينة هنا';

export function cloneItems(count: number): FixtureItem[] {
	return Array.from({ length: count }, (_unused, index) => ({
		json: { index },
		binary: {
			voice_file: { data: PREVIEW_WAV, fileName: 'preview.wav', mimeType: 'audio/wav' },
			reference_audio_file: { data: ORIGINAL_WAV, fileName: 'original.wav', mimeType: 'audio/wav' },
		},
	}));
}

/** The Voice Clone node's parameters; the name carries the item index to tell items apart. */
export function cloneParameters(options: INodeParameters = {}): INodeParameters {
	return {
		text: CLONE_TEXT,
		stability: 0.5,
		name: '={{ "Voice " + $json.index }}',
		model: 'faseeh-v1-preview',
		options,
	};
}

export interface TimedRun {
	result: NodeRunResult;
	/** n8n's own `executionTime` of the node under test (ms). */
	nodeMs: number;
	/** The whole harness run: fixture source (writes the binaries) + node under test (ms). */
	wallMs: number;
}

/** Runs the Faseeh Voice Clone node through n8n-core's WorkflowExecute, filesystem binary mode. */
export async function runCloneNode(sandbox: RemoteSandbox, items: FixtureItem[], options: INodeParameters): Promise<TimedRun> {
	const started = performance.now();
	const result = await runNode({
		nodeType: new FaseehVoiceClone(),
		parameters: cloneParameters(options),
		items,
		credentials: { faseehApi: { apiKey: sandbox.apiKey, baseUrl: sandbox.baseUrl } },
		credentialTypes: [new FaseehApi()],
		binaryMode: 'filesystem',
	});
	const wallMs = performance.now() - started;
	const task = result.run?.data.resultData.runData[NODE_UNDER_TEST]?.[0];
	if (result.error) throw new Error(`the node failed: ${result.error.message}`);
	if (!task) throw new Error('the node under test did not run');
	return { result, nodeMs: task.executionTime, wallMs };
}

/** Throws unless every item produced a voice and every clone the sandbox accepted was valid. */
export function assertAllCloned(run: TimedRun, count: number): void {
	const voices = run.result.items.filter((item) => typeof item.json.voice_id === 'string');
	if (voices.length !== count) throw new Error(`expected ${count} cloned voices, got ${voices.length}`);
}

export function clones(requests: RequestSummary[]): RequestSummary[] {
	return requests.filter((request) => request.method === 'POST' && request.path === '/api/v1/voices/clone');
}

export function median(values: number[]): number {
	if (values.length === 0) return Number.NaN;
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function sha256(data: Buffer): string {
	return createHash('sha256').update(data).digest('hex');
}

export const MiB = 1024 * 1024;

export function fmt(value: number, digits = 1): string {
	return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

export function log(line: string): void {
	process.stderr.write(`[bench] ${line}\n`);
}

/** One row of the result table. */
export interface Figure {
	section: 'throughput' | 'memory' | 'overhead' | 'executions' | 'transcribe' | 'speech' | 'voicenotes';
	figure: string;
	measured: string;
	target: string;
	/** undefined: informational row without a target. */
	pass?: boolean;
}
