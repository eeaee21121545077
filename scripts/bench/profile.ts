/**
 * Where the Faseeh Voice Clone node's per-item time goes (for the overhead analysis).
 *
 * A probe node runs the node's own exported steps (readCloneFields, readCloneAudio, sendCloneRequest:
 * what cloneVoice does for Voice Source = binary) one item at a time and times each one,
 * plus a few isolated n8n helper calls, through the same harness and sandbox. Nothing in nodes/ is
 * changed: the probe only calls what the node exports.
 */
import FormData from 'form-data';
import type { IExecuteFunctions, INodeExecutionData, INodeType } from 'n8n-workflow';

import { readCloneAudio, readCloneFields, sendCloneRequest } from '../../nodes/FaseehVoiceClone/actions/clone.operation';
import { timeoutSeconds } from '../../nodes/shared/options';
import { CREDENTIAL_TYPE, getBaseUrl } from '../../nodes/shared/transport';
import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import { runNode } from '../../test/harness/n8nHarness';
import { cloneItems, cloneParameters, median } from './common';
import type { RemoteSandbox } from './sandboxClient';

// See common.ts for why the .ts path.
const { FaseehVoiceClone } = require('../../nodes/FaseehVoiceClone/FaseehVoiceClone.node.ts') as typeof import('../../nodes/FaseehVoiceClone/FaseehVoiceClone.node');

/** Median per item of each step: wall ms, and CPU ms of this process (all threads). */
export const STEP_PARAMETERS = '1. parameters (readCloneFields, timeout)';
export const STEP_BINARIES = '2. binary checks (readCloneAudio: 2 × metadata + 16-byte sniff)';
export const STEP_REQUEST = '3. request (sendCloneRequest: credentials, form-data, n8n HTTP helper, answer)';
export const STEP_TOTAL = 'sum of steps 1-3';
export const PROBE_CREDENTIALS = 'probe: one this.getCredentials()';
export const PROBE_PLAIN_HELPER = 'probe: same upload via this.helpers.httpRequest (no credential helper)';

export interface PhaseTimes {
	[phase: string]: { wallMs: number; cpuMs: number };
}

type Samples = Record<string, { wall: number[]; cpu: number[] }>;

/** performance.now() and process CPU (user + system, ms) at one instant. */
function mark(): { wall: number; cpu: number } {
	const cpu = process.cpuUsage();
	return { wall: performance.now(), cpu: (cpu.user + cpu.system) / 1000 };
}

function probeNodeType(samples: Samples): INodeType {
	const original = new FaseehVoiceClone();
	const record = (phase: string, from: { wall: number; cpu: number }, to: { wall: number; cpu: number }) => {
		const entry = (samples[phase] ??= { wall: [], cpu: [] });
		entry.wall.push(to.wall - from.wall);
		entry.cpu.push(to.cpu - from.cpu);
	};
	return {
		description: { ...original.description, name: 'faseehVoiceCloneProbe' },
		async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
			// One item at a time, without runForEachItem: its look-ahead would run the next item's
			// checks inside this item's timers (and process CPU counts every item's work).
			const output: INodeExecutionData[] = [];
			const runItem = async (itemIndex: number): Promise<INodeExecutionData[]> => {
				const t0 = mark();
				const fields = readCloneFields.call(this, itemIndex);
				const timeout = timeoutSeconds.call(this, itemIndex);
				const t1 = mark();
				const { voice, reference } = await readCloneAudio.call(this, itemIndex);
				const t2 = mark();
				const json = await sendCloneRequest.call(this, itemIndex, fields, voice, reference, timeout);
				const t3 = mark();
				record(STEP_PARAMETERS, t0, t1);
				record(STEP_BINARIES, t1, t2);
				record(STEP_REQUEST, t2, t3);
				record(STEP_TOTAL, t0, t3);

				// Isolated probes, outside the steps above (not part of the node's time).
				const p0 = mark();
				await this.getCredentials(CREDENTIAL_TYPE, itemIndex);
				const p1 = mark();
				record(PROBE_CREDENTIALS, p0, p1);
				const baseUrl = await getBaseUrl.call(this, itemIndex);
				const credentials = await this.getCredentials(CREDENTIAL_TYPE, itemIndex);
				const p2 = mark();
				await this.helpers.httpRequest({
					method: 'POST',
					url: `${baseUrl}/voices/clone`,
					body: probeForm(voice.size, reference.size, await this.helpers.getBinaryStream(voice.binary.id as string), await this.helpers.getBinaryStream(reference.binary.id as string), itemIndex),
					headers: { 'x-api-key': String(credentials.apiKey) },
					json: true,
					disableFollowRedirect: true,
					ignoreHttpStatusErrors: true,
					returnFullResponse: true,
				});
				const p3 = mark();
				record(PROBE_PLAIN_HELPER, p2, p3);
				return [{ json, pairedItem: { item: itemIndex } }];
			};
			for (let itemIndex = 0; itemIndex < this.getInputData().length; itemIndex++) output.push(...(await runItem(itemIndex)));
			return [output];
		},
	};
}

function probeForm(voiceSize: number, referenceSize: number, voice: NodeJS.ReadableStream, reference: NodeJS.ReadableStream, index: number): FormData {
	const form = new FormData();
	form.append('voice_file', voice, { filename: 'preview.wav', contentType: 'audio/wav', knownLength: voiceSize });
	form.append('reference_audio_file', reference, { filename: 'original.wav', contentType: 'audio/wav', knownLength: referenceSize });
	form.append('text', 'نص المعاينة هنا');
	form.append('stability', '0.5');
	form.append('name', `Voice ${index}`);
	form.append('model', 'faseeh-v1-preview');
	return form;
}

/** Runs the probe over `count` items (concurrency 1) `rounds` times; median ms per step. */
export async function profileSteps(sandbox: RemoteSandbox, count: number, rounds: number): Promise<PhaseTimes> {
	const samples: Samples = {};
	for (let round = 0; round < rounds; round++) {
		const result = await runNode({
			nodeType: probeNodeType(samples),
			typeName: 'n8n-nodes-faseeh.faseehVoiceCloneProbe',
			parameters: cloneParameters({ concurrency: 1 }),
			items: cloneItems(count),
			credentials: { faseehApi: { apiKey: sandbox.apiKey, baseUrl: sandbox.baseUrl } },
			credentialTypes: [new FaseehApi()],
			binaryMode: 'filesystem',
		});
		if (result.error) throw new Error(`the probe failed: ${result.error.message}`);
	}
	const times: PhaseTimes = {};
	for (const [phase, values] of Object.entries(samples)) times[phase] = { wallMs: median(values.wall), cpuMs: median(values.cpu) };
	return times;
}
