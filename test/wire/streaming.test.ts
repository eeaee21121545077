/**
 * Id-backed binaries are streamed, proven through n8n-core's real binary data service (filesystem
 * mode, test/harness/n8nHarness.ts) rather than a hand-built mock: a 96 MiB voice file is cloned
 * while the real service's whole-file reads (`getAsBuffer`, and the `fs.promises.readFile` of its
 * byte store) are watched and this process's memory is sampled. The sandbox runs in a child process
 * (scripts/bench/sandboxChild.ts) so its copy of the upload is not counted.
 *
 * A control node that reads the same file with `getBinaryDataBuffer` must trip both detectors, so
 * the test shows it can fail.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

import type { IExecuteFunctions, INodeExecutionData, INodeParameters, INodeType } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { FaseehApi } from '../../credentials/FaseehApi.credentials';
import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { FaseehVoiceClone } from '../../nodes/FaseehVoiceClone/FaseehVoiceClone.node';
import { startRemoteSandbox } from '../../scripts/bench/sandboxClient';
import type { RemoteSandbox } from '../../scripts/bench/sandboxClient';
import { binaryDataService, cleanupHarness, runNode } from '../harness/n8nHarness';
import type { FixtureItem, NodeRunResult } from '../harness/n8nHarness';
import { TEST_API_KEY, wavRecording } from '../helpers/faseeh';

// A collector to call between samples, so they show what is kept alive, not garbage not yet
// collected. Each sample follows a full collection: stream chunks that lived long enough to be
// promoted out of the young generation are garbage too, and a young-only sweep counted them (the
// Transcribe test then read 24–29 MiB "kept" while RSS grew by under 3 MiB).
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;

const MiB = 1024 * 1024;
const BIG_BYTES = 96 * MiB;
/** The recording Audio → Transcribe streams (issue 16: the same bar as the clone, at 200 MiB). */
const STT_BYTES = 200 * MiB;
/** What the node may keep alive (heap + Buffers) while a 96 MiB file goes out; reading it whole keeps 96 MiB. */
const MAX_GROWTH_MIB = 24;
const REFERENCE = wavRecording(0.6, 220);
/** The memory sampler's shortest interval (longer where collections are slow, see observe). */
const SAMPLE_EVERY_MS = 40;

let sandbox: RemoteSandbox;
let dir: string;
let bigFile: string;
let bigSha256: string;

/** A valid 16-bit mono WAV of exactly `bytes` bytes, written in 1 MiB chunks; returns its sha256. */
function writeWav(file: string, bytes: number, sampleRate = 24000): string {
	const header = Buffer.alloc(44);
	header.write('RIFF', 0, 'ascii');
	header.writeUInt32LE(bytes - 8, 4);
	header.write('WAVEfmt ', 8, 'ascii');
	header.writeUInt32LE(16, 16);
	header.writeUInt16LE(1, 20);
	header.writeUInt16LE(1, 22);
	header.writeUInt32LE(sampleRate, 24);
	header.writeUInt32LE(sampleRate * 2, 28);
	header.writeUInt16LE(2, 32);
	header.writeUInt16LE(16, 34);
	header.write('data', 36, 'ascii');
	header.writeUInt32LE(bytes - 44, 40);
	const hash = createHash('sha256').update(header);
	const fd = fs.openSync(file, 'w');
	try {
		fs.writeSync(fd, header);
		const chunk = Buffer.alloc(MiB);
		for (let written = 44, n = 0; written < bytes; n++) {
			chunk.fill((n * 37) % 251);
			const piece = chunk.subarray(0, Math.min(MiB, bytes - written));
			fs.writeSync(fd, piece);
			hash.update(piece);
			written += piece.length;
		}
	} finally {
		fs.closeSync(fd);
	}
	return hash.digest('hex');
}

function items(voice: FixtureItem['binary']): FixtureItem[] {
	return [{ json: {}, binary: { ...voice, reference_audio_file: { data: REFERENCE, fileName: 'original.wav', mimeType: 'audio/wav' } } }];
}

const bigVoice = (): FixtureItem['binary'] => ({
	voice_file: { data: () => fs.createReadStream(bigFile), fileName: 'long.wav', mimeType: 'audio/wav' },
});

async function run(nodeType: INodeType, fixture: FixtureItem[], parameters?: INodeParameters): Promise<NodeRunResult> {
	return await runNode({
		nodeType,
		parameters: parameters ?? { text: 'نص التسجيل كما قيل', stability: 0.5, name: 'Long Voice', model: 'faseeh-v1-preview' },
		items: fixture,
		credentials: { faseehApi: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
		credentialTypes: [new FaseehApi()],
		binaryMode: 'filesystem',
	});
}

/** Set by observe(); called when the node under test starts, after the fixture source stored the file. */
let startMeasuring: () => void = () => undefined;
/** Set by observe(); ends its sampler (also after a test that timed out, see afterEach). */
let stopSampler: () => void = () => undefined;
/** Set by observe(); takes one sample now (the interval sampler may not run on a loaded machine). */
let sampleNow: () => void = () => undefined;

/** The node, measured from the moment its execute() starts (n8n storing the fixture is not counted). */
function measuredFromExecute(nodeType: INodeType): INodeType {
	const original = nodeType.execute;
	if (!original) throw new Error('node has no execute()');
	const wrapper = Object.create(nodeType) as INodeType;
	wrapper.execute = async function (this: IExecuteFunctions) {
		startMeasuring();
		return await (original as (this: IExecuteFunctions) => Promise<INodeExecutionData[][]>).call(this);
	} as INodeType['execute'];
	return wrapper;
}

/** Whole-file reads the real binary data service did during `fn`, and the peak memory growth once the node started. */
async function observe<T>(fn: () => Promise<T>): Promise<{ result: T; wholeReads: string[]; growthMiB: number; rssGrowthMiB: number }> {
	const service = binaryDataService();
	const wholeReads: string[] = [];
	// Spies call through: the real service and the real filesystem do the work.
	const getAsBuffer = jest.spyOn(service, 'getAsBuffer');
	const readFile = jest.spyOn(fs.promises, 'readFile');

	const used = () => {
		const usage = process.memoryUsage();
		return { managed: usage.heapUsed + usage.arrayBuffers, rss: usage.rss };
	};
	gc({ type: 'major' });
	let before = used();
	let peak = before;
	startMeasuring = () => {
		gc({ type: 'major' });
		gc({ type: 'major' });
		before = used();
		peak = before;
	};
	const sample = () => {
		const now = used();
		peak = { managed: Math.max(peak.managed, now.managed), rss: Math.max(peak.rss, now.rss) };
	};
	sampleNow = sample;
	// Twice: V8 frees dead ArrayBuffers' memory on a background sweeper, which a second collection
	// completes first (one alone left up to ~25 MiB of freed chunks counted on a loaded machine while
	// RSS did not move). The collections are the sampler's cost, so it keeps them to about a fifth
	// of the time: a major collection takes 1-20 ms under Jest on Node 20 but 110-140 ms on Node 24,
	// where a fixed 40 ms interval left the node under test almost no time (the suite ran 490 s and
	// timed out).
	let sampler: NodeJS.Timeout | undefined;
	let sampling = true;
	const tick = () => {
		const started = performance.now();
		gc({ type: 'major' });
		gc({ type: 'major' });
		sample();
		if (sampling) sampler = setTimeout(tick, Math.max(SAMPLE_EVERY_MS, 4 * (performance.now() - started)));
	};
	sampler = setTimeout(tick, SAMPLE_EVERY_MS);
	// A test that times out never reaches the finally below: its sampler must not go on
	// collecting through the next test files of this Jest process.
	stopSampler = () => {
		sampling = false;
		clearTimeout(sampler);
	};
	try {
		const result = await fn();
		for (const [binary] of getAsBuffer.mock.calls) wholeReads.push(`getAsBuffer(${binary.id ?? 'in memory'})`);
		for (const call of readFile.mock.calls) {
			const target = String(call[0]);
			// The byte store keeps id-backed files under the harness's storage folder (the small
			// .metadata beside each is what getBinaryMetadata reads).
			if (target.includes(`${path.sep}storage${path.sep}`) && !target.endsWith('.metadata')) wholeReads.push(`fs.promises.readFile(${target})`);
		}
		return {
			result,
			wholeReads,
			growthMiB: (peak.managed - before.managed) / MiB,
			rssGrowthMiB: (peak.rss - before.rss) / MiB,
		};
	} finally {
		stopSampler();
		startMeasuring = () => undefined;
		sampleNow = () => undefined;
		getAsBuffer.mockRestore();
		readFile.mockRestore();
	}
}

/** Control: a node that reads the voice file whole, as a node that buffers would. */
const wholeFileReader: INodeType = {
	description: {
		displayName: 'Whole File Reader',
		name: 'wholeFileReader',
		group: ['transform'],
		version: 1,
		description: 'Reads a binary with getBinaryDataBuffer',
		defaults: { name: 'Whole File Reader' },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
	},
	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const buffer = await this.helpers.getBinaryDataBuffer(0, 'voice_file');
		sampleNow();
		// Keep it alive for a moment, as an upload of the buffer would.
		await new Promise((resolve) => setTimeout(resolve, 100));
		return [[{ json: { size: buffer.length } }]];
	},
};

beforeAll(async () => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-streaming-'));
	bigFile = path.join(dir, 'long.wav');
	bigSha256 = writeWav(bigFile, BIG_BYTES);
	sandbox = await startRemoteSandbox({ apiKey: TEST_API_KEY });
	// Warm up (modules, the binary store, connections) so the measured run's growth is its own.
	const warm = await run(new FaseehVoiceClone(), items({ voice_file: { data: wavRecording(0.4, 330), fileName: 'short.wav', mimeType: 'audio/wav' } }));
	expect(warm.error).toBeUndefined();
}, 120_000);

afterEach(() => stopSampler());

afterAll(async () => {
	await sandbox?.stop();
	await cleanupHarness();
	if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('control: a node reading the file whole trips both detectors', async () => {
	const observed = await observe(() => run(measuredFromExecute(wholeFileReader), items(bigVoice())));
	expect(observed.result.error).toBeUndefined();
	expect(observed.result.items[0].json.size).toBe(BIG_BYTES);
	expect(observed.wholeReads.some((read) => read.startsWith('getAsBuffer(filesystem'))).toBe(true);
	expect(observed.wholeReads.some((read) => read.startsWith('fs.promises.readFile('))).toBe(true);
	// The whole file in memory, less what the collector freed meanwhile (on a loaded machine the
	// baseline can hold garbage freed later): at least twice the limit the streaming tests enforce.
	expect(observed.growthMiB).toBeGreaterThan(Math.max(2 * MAX_GROWTH_MIB, (0.6 * BIG_BYTES) / MiB));
}, 120_000);

test('Faseeh Voice Clone streams a 96 MiB id-backed file: no whole-file read, bounded memory, exact bytes', async () => {
	await sandbox.reset();
	const observed = await observe(() => run(measuredFromExecute(new FaseehVoiceClone()), items(bigVoice())));
	expect(observed.result.error).toBeUndefined();
	expect(observed.result.items[0].json.voice_id).toEqual(expect.stringMatching(/^cl-/));

	expect(observed.wholeReads).toEqual([]);
	if (observed.growthMiB >= MAX_GROWTH_MIB || observed.rssGrowthMiB >= MAX_GROWTH_MIB * 2) {
		throw new Error(
			`memory grew by ${observed.growthMiB.toFixed(1)} MiB (heap + Buffers; limit ${MAX_GROWTH_MIB}) and RSS by ${observed.rssGrowthMiB.toFixed(1)} MiB (limit ${MAX_GROWTH_MIB * 2}) for a ${BIG_BYTES / MiB} MiB file`,
		);
	}

	const [upload] = (await sandbox.stats()).requests.filter((request) => request.path.endsWith('/voices/clone'));
	expect(upload).toMatchObject({ status: 200, chunked: false });
	const voice = upload.parts?.find((entry) => entry.name === 'voice_file');
	expect(voice).toMatchObject({ size: BIG_BYTES, sha256: bigSha256, filename: 'long.wav' });
}, 120_000);

test('Audio → Transcribe streams a 200 MiB id-backed recording: no whole-file read, bounded memory, exact bytes', async () => {
	const sttFile = path.join(dir, 'meeting.wav');
	// 48 kHz, so 200 MiB is 36 minutes: speech-to-text refuses more than 60 (read from the header).
	const sttSha256 = writeWav(sttFile, STT_BYTES, 48000);
	try {
		await sandbox.reset();
		const parameters = { resource: 'audio', operation: 'transcribe', options: { maxFileSizeMb: 300 } };
		const fixture: FixtureItem[] = [{ json: {}, binary: { data: { data: () => fs.createReadStream(sttFile), fileName: 'meeting.wav', mimeType: 'audio/wav' } } }];
		const observed = await observe(() => run(measuredFromExecute(new Faseeh()), fixture, parameters));
		expect(observed.result.error).toBeUndefined();
		expect(typeof observed.result.items[0].json.text).toBe('string');
		expect(observed.result.items[0].json.duration).toBeCloseTo((STT_BYTES - 44) / 96000, 1);

		expect(observed.wholeReads).toEqual([]);
		if (observed.growthMiB >= MAX_GROWTH_MIB || observed.rssGrowthMiB >= MAX_GROWTH_MIB * 2) {
			throw new Error(
				`memory grew by ${observed.growthMiB.toFixed(1)} MiB (heap + Buffers; limit ${MAX_GROWTH_MIB}) and RSS by ${observed.rssGrowthMiB.toFixed(1)} MiB (limit ${MAX_GROWTH_MIB * 2}) for a ${STT_BYTES / MiB} MiB file`,
			);
		}
		const [upload] = (await sandbox.stats()).requests.filter((request) => request.path.endsWith('/audio/transcribe'));
		expect(upload).toMatchObject({ status: 200, chunked: false });
		expect(upload.parts?.find((entry) => entry.name === 'file')).toMatchObject({ size: STT_BYTES, sha256: sttSha256, filename: 'meeting.wav' });
	} finally {
		fs.rmSync(sttFile, { force: true });
	}
}, 180_000);
