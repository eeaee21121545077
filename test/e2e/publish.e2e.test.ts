/**
 * End-to-end (issue 25.4): the two "ready to publish" examples as shipped, run by `n8n execute` in
 * real n8n 2.41.x and 1.123.x with the packed package, against the sandbox (and, for the AI Agent,
 * the local OpenAI-compatible stand-in). The files n8n writes are checked by independent tools:
 * ffmpeg's ebur128 (loudness, true peak), mpg123 (decoding), the `subtitle` parser and ffmpeg's
 * silencedetect (cue times against the sound).
 *
 * - examples/two-host-podcast.json: the "model" writes a two-host script as a JSON array in a
 *   Markdown fence; Speech → Generate Dialogue speaks every turn in its host's voice; the episode
 *   MP3 measures −16 ± 1 LUFS with a true peak ≤ −1 dBTP.
 * - examples/captioned-voice-over.json: a text becomes an MP3 and an SRT; one request per cue; every
 *   cue lies on the decoded MP3's sound within 100 ms.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { parseSync } from 'subtitle';

import {
	createUserFolder,
	executeWorkflow,
	importCredentials,
	importWorkflow,
	installPackage,
	nodeOutputItems,
	removeUserFolder,
} from '../../scripts/lib/n8n';
import { ensureRuntime } from '../../scripts/lib/runtime';
import { splitForCues, splitForSpeech, visibleText } from '../../nodes/shared/speech/split';
import { decodeWithLibrary } from '../helpers/audio';
import { FakeOpenAi } from '../helpers/fakeOpenAi';
import { TEST_API_KEY, requestsTo, startSandbox } from '../helpers/faseeh';
import { ensureFfmpeg, ffmpegDecode, ffmpegLoudness, ffmpegSilences } from '../helpers/ffmpeg';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';

const REPO = path.resolve(__dirname, '..', '..');
const OPENAI_TEST_KEY = `sk-test-${createHash('sha256').update('faseeh podcast e2e').digest('hex').slice(0, 32)}`;
const RLM = '\u200f';

/** What the stand-in "model" writes: six turns, two hosts, as chat models do (in a ```json fence). */
const SCRIPT = [
	['Ahmad', 'ar-najdi-male-2', 'أهلا بكم في حلقة جديدة من بودكاست الأتمتة. معي اليوم زميلتي ليلى.'],
	['Layla', 'ar-hijazi-female-1', 'أهلا أحمد، وأهلا بالمستمعين. موضوعنا اليوم قريب من قلبي: كيف توفر الأتمتة وقت الشركات الصغيرة.'],
	['Ahmad', 'ar-najdi-male-2', 'لنبدأ بمثال بسيط. متجر صغير يستقبل الطلبات من موقعه ومن رسائل العملاء.'],
	['Layla', 'ar-hijazi-female-1', 'صحيح، وبدلا من نسخ كل طلب يدويا، يمكن لسير عمل واحد أن يجمعها في جدول ويرسل تأكيدا للعميل.'],
	['Ahmad', 'ar-najdi-male-2', 'وهكذا يربح صاحب المتجر ساعات كل أسبوع.'],
	['Layla', 'ar-hijazi-female-1', 'بالضبط. شكرا لكم على الاستماع، ونلقاكم في الحلقة القادمة.'],
].map(([speaker, voice_id, text]) => ({ speaker, voice_id, text }));
const MODEL_ANSWER = `\`\`\`json\n${JSON.stringify(SCRIPT, null, 2)}\n\`\`\``;

let sandbox: FaseehSandbox;
let openAi: FakeOpenAi;
const folders: string[] = [];
const userMessages: string[] = [];

beforeAll(async () => {
	ensureFfmpeg();
	sandbox = await startSandbox();
	openAi = new FakeOpenAi({
		apiKey: OPENAI_TEST_KEY,
		reply: (userMessage) => {
			userMessages.push(userMessage);
			return MODEL_ANSWER;
		},
	});
	await openAi.start();
}, 20 * 60_000);

afterAll(async () => {
	await openAi?.stop();
	await sandbox?.stop();
	for (const folder of folders) await removeUserFolder(folder);
});

interface Example {
	id: string;
	nodes: Array<{ name: string; type: string; parameters: Record<string, unknown>; credentials?: Record<string, unknown> }>;
}

function loadExample(file: string, filesDir: string): Example {
	const text = fs.readFileSync(path.join(REPO, 'examples', file), 'utf8').split('/home/node/.n8n-files/').join(`${filesDir}/`);
	return JSON.parse(text) as Example;
}

describe.each(['2.41.x', '1.123.x'])('n8n %s', (version) => {
	let userFolder: string;
	let filesDir: string;
	const output: string[] = [];
	const run = async (example: Example) => {
		const runtime = await ensureRuntime({ version });
		const imported = await importWorkflow(runtime, userFolder, example as unknown as Record<string, unknown>);
		const result = await executeWorkflow(runtime, userFolder, example.id, { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' });
		output.push(imported.stdout, imported.stderr, result.stdout, result.stderr);
		expect({ error: result.errorMessage, exitCode: result.exitCode }).toEqual({ error: undefined, exitCode: 0 });
		return result;
	};

	beforeAll(async () => {
		const runtime = await ensureRuntime({ version });
		userFolder = await createUserFolder('faseeh-publish-');
		folders.push(userFolder);
		filesDir = path.join(userFolder, 'files');
		await installPackage(userFolder, REPO);
		const credentials = await importCredentials(runtime, userFolder, [
			{ id: 'faseehCredential1', name: 'Faseeh API', type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
			{ id: 'openAiCredential1', name: 'Fake OpenAI', type: 'openAiApi', data: { apiKey: OPENAI_TEST_KEY, url: openAi.baseUrl } },
		]);
		output.push(credentials.stdout, credentials.stderr);
	}, 30 * 60_000);

	it('examples/two-host-podcast.json: the model\'s script, each turn in its host\'s voice, one MP3 at −16 LUFS (ffmpeg), true peak ≤ −1 dBTP', async () => {
		sandbox.reset();
		userMessages.length = 0;
		const example = loadExample('two-host-podcast.json', filesDir);
		// The example leaves the OpenAI credential to the user: the test gives it the stand-in's.
		for (const node of example.nodes) if (node.type === '@n8n/n8n-nodes-langchain.lmChatOpenAi') node.credentials = { openAiApi: { id: 'openAiCredential1', name: 'Fake OpenAI' } };
		const result = await run(example);
		expect(userMessages).toEqual(['Topic: كيف تساعد الأتمتة الشركات الصغيرة على توفير الوقت']);

		// Every turn's pieces, each once, in its host's voice, exactly the model's text.
		const sent = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview').map((request) => request.json as { voice_id: string; text: string });
		const expected = SCRIPT.flatMap((turn) => splitForSpeech(turn.text, 1000).map((text) => ({ voice_id: turn.voice_id, text })));
		expect(sent.map((body) => ({ voice_id: body.voice_id, text: body.text })).sort((a, b) => a.text.localeCompare(b.text))).toEqual(
			[...expected].sort((a, b) => a.text.localeCompare(b.text)),
		);
		const [item] = nodeOutputItems(result.runData, 'Speak the Dialogue');
		expect(item.json).toMatchObject({ format: 'mp3', fileName: 'episode.mp3', voices: ['ar-najdi-male-2', 'ar-hijazi-female-1'], loudness: { mode: 'podcast', targetLufs: -16 } });
		expect((item.json.turns as Array<{ speaker: string }>).map((turn) => turn.speaker)).toEqual(SCRIPT.map((turn) => turn.speaker));

		// The file n8n wrote: MP3 that mpg123 decodes, at podcast loudness by ffmpeg's meter.
		const mp3 = fs.readFileSync(path.join(filesDir, 'episode.mp3'));
		expect(mp3.length).toBe(item.json.fileSize);
		const decoded = decodeWithLibrary('mp3', mp3);
		expect(decoded.errors).toEqual([]);
		expect(Math.abs(decoded.samplesDecoded / decoded.sampleRate - Number(item.json.durationSeconds))).toBeLessThan(0.1);
		const loudness = ffmpegLoudness(mp3, 'mp3');
		expect(Math.abs(loudness.integrated + 16)).toBeLessThanOrEqual(1);
		expect(loudness.truePeak).toBeLessThanOrEqual(-1);
	}, 20 * 60_000);

	it('examples/captioned-voice-over.json: an MP3 and an SRT written by n8n; one request per cue; every cue on the sound (silencedetect, 100 ms)', async () => {
		sandbox.reset();
		const example = loadExample('captioned-voice-over.json', filesDir);
		const script = String(
			((example.nodes.find((node) => node.type === 'n8n-nodes-base.set')!.parameters.assignments as { assignments: Array<{ value: string }> }).assignments[0]).value,
		);
		const result = await run(example);
		const pieces = splitForCues(script, 84, 1000);
		const sent = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview').map((request) => (request.json as { text: string }).text);
		expect([...sent].sort()).toEqual([...pieces].sort());
		const [item] = nodeOutputItems(result.runData, 'Speak with Captions');
		expect(item.json).toMatchObject({ format: 'mp3', subtitles: { format: 'srt', field: 'subtitles', cues: pieces.length } });

		const mp3 = fs.readFileSync(path.join(filesDir, 'voice-over.mp3'));
		const srt = fs.readFileSync(path.join(filesDir, 'voice-over.srt'), 'utf8');
		const loudness = ffmpegLoudness(mp3, 'mp3');
		expect(Math.abs(loudness.integrated + 16)).toBeLessThanOrEqual(1);
		expect(loudness.truePeak).toBeLessThanOrEqual(-1);
		const cues = parseSync(srt).filter((node) => node.type === 'cue');
		expect(cues).toHaveLength(pieces.length);
		cues.forEach((cue, i) => {
			const lines = String(cue.data.text).split(/\r?\n/);
			expect(lines.length).toBeLessThanOrEqual(2);
			for (const line of lines) expect([...line.replace(RLM, '')].length).toBeLessThanOrEqual(42);
			expect(lines.join(' ').replace(RLM, '')).toBe(visibleText(pieces[i]));
		});
		const pcm = ffmpegDecode(mp3, 'mp3');
		const silences = ffmpegSilences(pcm, 'pcm', { minSeconds: 0.15 });
		const soundStarts = [0, ...silences.map((silence) => silence.end)];
		const soundEnds = [...silences.map((silence) => silence.start), pcm.length / 2 / 24000];
		for (const cue of cues) {
			expect(Math.min(...soundStarts.map((time) => Math.abs(time - cue.data.start / 1000)))).toBeLessThanOrEqual(0.1);
			expect(Math.min(...soundEnds.map((time) => Math.abs(time - cue.data.end / 1000)))).toBeLessThanOrEqual(0.1);
		}
	}, 20 * 60_000);

	it('no API key in anything n8n printed', () => {
		const everything = output.join('\n');
		expect(everything.length).toBeGreaterThan(100);
		expect(everything).not.toContain(TEST_API_KEY);
		expect(everything).not.toContain(OPENAI_TEST_KEY);
	});
});
