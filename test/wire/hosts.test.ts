/**
 * The credential's real host names, through n8n-core's real HTTP stack: a credential whose Base
 * URL is `https://api.munsit.com/api/v1` (or a Faseeh host) reaches that name over TLS, through
 * `HTTPS_PROXY` (n8n's own proxy support) and a loopback proxy that answers for the Faseeh and
 * Munsit host names with a certificate from a test CA this process trusts (test/helpers/hostRoute.ts),
 * then hands the request to a sandbox. Every operation of both nodes runs on the Munsit host; the
 * UAE host, which does not serve speech-to-text, says what to do; the three hosts share one plan.
 */
import type { INodeParameters } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { FaseehVoiceClone } from '../../nodes/FaseehVoiceClone/FaseehVoiceClone.node';
import { FASEEH_GLOBAL_BASE_URL, FASEEH_UAE_BASE_URL, MUNSIT_BASE_URL } from '../../nodes/shared/transport/baseUrl';
import { cleanupHarness, runLoadOptions } from '../harness/n8nHarness';
import type { FixtureItem, NodeRunResult } from '../harness/n8nHarness';
import type { FaseehSandbox, RecordedRequest } from '../sandbox/FaseehSandbox';
import { TEST_API_KEY, part, runAgainst, serialised, sha256, startSandbox, wavRecording } from '../helpers/faseeh';
import { FASEEH_GLOBAL_HOST, FASEEH_UAE_HOST, MUNSIT_HOST, startHostRoute, trustTestCa } from '../helpers/hostRoute';
import type { HostRoute } from '../helpers/hostRoute';

const RECORDING = wavRecording(0.8, 196);
const PREVIEW_TEXT = 'مرحبا بك في فصيح، هذا صوتي الجديد';
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy'];

let munsit: FaseehSandbox;
let uae: FaseehSandbox;
let route: HostRoute;
let untrust: () => void;
const savedEnv: Record<string, string | undefined> = {};

const portOf = (sandbox: FaseehSandbox) => Number(new URL(sandbox.baseUrl).port);
const recordingItem = (): FixtureItem => ({ json: {}, binary: { data: { data: RECORDING, fileName: 'sara.wav', mimeType: 'audio/wav' } } });
const hostHeaders = (sandbox: FaseehSandbox) => [...new Set(sandbox.requests.map((request) => String(request.headers.host)))];
const requestsTo = (sandbox: FaseehSandbox, method: string, path: string): RecordedRequest[] =>
	sandbox.requests.filter((request) => request.method === method && request.path === `/api/v1${path}`);

async function onHost(sandbox: FaseehSandbox, baseUrl: string, node: 'faseeh' | 'clone', parameters: INodeParameters, items: FixtureItem[] = [{ json: {} }], credential: Record<string, string> = {}) {
	return await runAgainst(sandbox, node === 'faseeh' ? new Faseeh() : new FaseehVoiceClone(), parameters, items, { baseUrl, credential });
}

/** A node's output items as the next node's input, binaries read back from n8n's store. */
async function asInput(result: NodeRunResult): Promise<FixtureItem[]> {
	return await Promise.all(
		result.items.map(async (item) => {
			const binary: FixtureItem['binary'] = {};
			for (const [field, data] of Object.entries(item.binary ?? {})) {
				binary[field] = { data: await result.binaryBuffer(item, field), fileName: data.fileName, mimeType: data.mimeType };
			}
			return { json: item.json, binary };
		}),
	);
}

beforeAll(async () => {
	munsit = await startSandbox();
	uae = await startSandbox({ sttRoutes: false });
	route = await startHostRoute({ [MUNSIT_HOST]: portOf(munsit), [FASEEH_GLOBAL_HOST]: portOf(munsit), [FASEEH_UAE_HOST]: portOf(uae) });
	for (const name of PROXY_VARIABLES) savedEnv[name] = process.env[name];
	process.env.HTTPS_PROXY = route.proxyUrl;
	process.env.https_proxy = route.proxyUrl;
	process.env.NO_PROXY = '127.0.0.1,localhost';
	process.env.no_proxy = '127.0.0.1,localhost';
	untrust = trustTestCa(route.caPem);
});
afterEach(() => {
	munsit.reset();
	uae.reset();
	route.connects.length = 0;
});
afterAll(async () => {
	untrust?.();
	for (const name of PROXY_VARIABLES) {
		if (savedEnv[name] === undefined) delete process.env[name];
		else process.env[name] = savedEnv[name];
	}
	await route?.stop();
	await munsit?.stop();
	await uae?.stop();
	await cleanupHarness();
});

describe('a credential on the Munsit host (https://api.munsit.com/api/v1)', () => {
	it('drives every operation: models, voices, the voice picker, preview, clone, speech, transcribe, diarize', async () => {
		const models = await onHost(munsit, MUNSIT_BASE_URL, 'faseeh', { resource: 'model', operation: 'getMany' });
		expect(models.error).toBeUndefined();
		expect(models.items.map((item) => item.json.model_id)).toContain('faseeh-v1-preview');

		const voices = await onHost(munsit, MUNSIT_BASE_URL, 'faseeh', { resource: 'voice', operation: 'getMany', returnAll: true });
		expect(voices.error).toBeUndefined();
		expect(voices.items.map((item) => item.json.voice_id).sort()).toEqual(munsit.voices().map((voice) => voice.voice_id).sort());

		const dropdown = await runLoadOptions({
			nodeType: new Faseeh(),
			method: 'getModels',
			credentials: { faseehApi: { apiKey: TEST_API_KEY, baseUrl: MUNSIT_BASE_URL } },
			credentialTypes: [new FaseehApi()],
		});
		expect(dropdown.map((option) => option.value)).toContain('faseeh-v1-preview');

		const preview = await onHost(munsit, MUNSIT_BASE_URL, 'faseeh', { resource: 'voice', operation: 'preview', text: PREVIEW_TEXT, similarity: 0.7, model: 'faseeh-v1-preview' }, [recordingItem()]);
		expect(preview.error).toBeUndefined();
		expect(part(requestsTo(munsit, 'POST', '/voices/preview')[0], 'file').sha256).toBe(sha256(RECORDING));

		const clone = await onHost(munsit, MUNSIT_BASE_URL, 'clone', { text: '={{ $json.text }}', model: '={{ $json.model }}', name: 'Sara', stability: 0.5 }, await asInput(preview));
		expect(clone.error).toBeUndefined();
		const voiceId = String(clone.items[0].json.voice_id);
		expect(voiceId).toMatch(/^cl-/);

		const speech = await onHost(munsit, MUNSIT_BASE_URL, 'faseeh', { resource: 'speech', operation: 'generate', voiceId: { __rl: true, mode: 'id', value: voiceId }, text: 'أهلا وسهلا بكم جميعا في هذا الاختبار', model: 'faseeh-v1-preview', stability: 0.5 });
		expect(speech.error).toBeUndefined();
		const spoken = await speech.binaryBuffer(speech.items[0], 'data');
		expect(spoken.toString('latin1', 0, 4)).toBe('RIFF');

		const spokenItem: FixtureItem = { json: {}, binary: { data: { data: spoken, fileName: 'spoken.wav', mimeType: 'audio/wav' } } };
		for (const mode of ['transcribe', 'diarize']) {
			const transcript = await onHost(munsit, MUNSIT_BASE_URL, 'faseeh', { resource: 'audio', operation: 'transcribe', mode }, [spokenItem]);
			expect(transcript.error).toBeUndefined();
			expect(transcript.items[0].json.text).toBe(munsit.transcriptFor(sha256(spoken)));
		}

		// Every request went to the Munsit host name over TLS (one CONNECT per connection), with the key.
		expect(hostHeaders(munsit)).toEqual([MUNSIT_HOST]);
		expect(new Set(route.connects)).toEqual(new Set([`${MUNSIT_HOST}:443`]));
		expect(munsit.requests.every((request) => request.headers['x-api-key'] === TEST_API_KEY && request.status === 200)).toBe(true);
		expect(munsit.requests.map((request) => `${request.method} ${request.path}`)).toEqual(
			expect.arrayContaining([
				'GET /api/v1/models',
				'GET /api/v1/voices',
				'POST /api/v1/voices/preview',
				'POST /api/v1/voices/clone',
				'POST /api/v1/text-to-speech/faseeh-v1-preview',
				'POST /api/v1/audio/transcribe',
				'POST /api/v1/audio/diarization/transcribe',
			]),
		);
		expect(route.refused).toEqual([]);
	});

	it('a wrong key on the Munsit host: the host’s own 401, the key in no error', async () => {
		const result = await runAgainst(munsit, new Faseeh(), { resource: 'model', operation: 'getMany' }, [{ json: {} }], { baseUrl: MUNSIT_BASE_URL, apiKey: 'fsk-wrong-key-on-munsit' });
		expect(result.error).toBeInstanceOf(NodeApiError);
		expect(result.error?.message).toBe('Invalid or missing API key');
		expect(hostHeaders(munsit)).toEqual([MUNSIT_HOST]);
		expect(serialised(result.error)).not.toContain('fsk-wrong-key-on-munsit');
	});
});

describe('the UAE data-residency host (https://ae.api.faseeh.ai/api/v1)', () => {
	it('speaks there; Transcribe gets its 404 with what a UAE key can and cannot do, not "switch to Munsit, the same key works"', async () => {
		const speech = await onHost(uae, FASEEH_UAE_BASE_URL, 'faseeh', { resource: 'speech', operation: 'generate', voiceId: { __rl: true, mode: 'id', value: 'ar-uae-male-1' }, text: 'مرحبا من دولة الإمارات العربية', model: 'faseeh-v1-preview', stability: 0.5 });
		expect(speech.error).toBeUndefined();

		const result = await onHost(uae, FASEEH_UAE_BASE_URL, 'faseeh', { resource: 'audio', operation: 'transcribe' }, [recordingItem()]);
		const error = result.error as NodeApiError;
		expect(error).toBeInstanceOf(NodeApiError);
		expect(error.message).toBe('This host does not serve speech-to-text: https://ae.api.faseeh.ai/api/v1 answered 404 for POST /audio/transcribe');
		expect(error.description).toMatch(/^Speech-to-text \(Munsit\) is known to be served by https:\/\/api\.munsit\.com\/api\/v1 only, not by the UAE data-residency host\. UAE keys work only on ae\.api\.faseeh\.ai/);
		expect(error.description).toMatch(/processed outside the UAE deployment/);
		expect(error.description).not.toMatch(/the same key works/);
		expect(hostHeaders(uae)).toEqual([FASEEH_UAE_HOST]);
		expect(munsit.requests).toHaveLength(0);
	});
});

describe('the Faseeh and Munsit hosts are one account', () => {
	it('the same key on api.faseeh.ai and api.munsit.com at once, Basic plan: never more than 2 in flight, no 429', async () => {
		const limited = await startSandbox({ maxConcurrent: 2, latencyMs: 150 });
		const shared = await startHostRoute({ [MUNSIT_HOST]: portOf(limited), [FASEEH_GLOBAL_HOST]: portOf(limited) });
		process.env.HTTPS_PROXY = shared.proxyUrl;
		process.env.https_proxy = shared.proxyUrl;
		const untrustShared = trustTestCa(shared.caPem);
		try {
			const texts = Array.from({ length: 4 }, (_unused, index) => ({ json: { text: `رسالة رقم ${index} للاختبار هنا` } }));
			const speak: INodeParameters = { resource: 'speech', operation: 'generate', voiceId: { __rl: true, mode: 'id', value: 'ar-najdi-male-2' }, text: '={{ $json.text }}', model: 'faseeh-v1-preview', stability: 0.5, options: { concurrency: 4 } };
			const runs = await Promise.all(
				[FASEEH_GLOBAL_BASE_URL, MUNSIT_BASE_URL, FASEEH_GLOBAL_BASE_URL, MUNSIT_BASE_URL].map(
					async (baseUrl) => await runAgainst(limited, new Faseeh(), speak, texts, { baseUrl, credential: { plan: 'basic' } }),
				),
			);
			for (const result of runs) expect(result.error).toBeUndefined();
			expect(limited.requests.filter((request) => request.status === 429)).toHaveLength(0);
			expect(limited.requests).toHaveLength(16);
			expect(limited.maxInFlight).toBeLessThanOrEqual(2);
			expect(new Set(limited.requests.map((request) => request.headers.host))).toEqual(new Set([MUNSIT_HOST, FASEEH_GLOBAL_HOST]));
		} finally {
			untrustShared();
			process.env.HTTPS_PROXY = route.proxyUrl;
			process.env.https_proxy = route.proxyUrl;
			await shared.stop();
			await limited.stop();
		}
	});
});
