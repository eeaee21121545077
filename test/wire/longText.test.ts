/**
 * Long texts (issue 15, part 2) against the sandbox, in n8n's real engine: one item with ~50,000
 * Arabic characters becomes one WAV whose samples are the sandbox's pieces in order with the pause
 * between them; each piece is requested once, within the plan; failures name the piece.
 */
import { bestCorrelation, decodeWithLibrary } from '../helpers/audio';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Logger } from '@n8n/backend-common';
import { Container } from '@n8n/di';
import type { INodeParameters } from 'n8n-workflow';
import { NodeApiError } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { characterCount, splitForSpeech } from '../../nodes/shared/speech/split';
import { cleanupHarness } from '../harness/n8nHarness';
import type { FixtureItem } from '../harness/n8nHarness';
import { requestsTo, runAgainst, startSandbox } from '../helpers/faseeh';
import { longArabicText } from '../helpers/longText';
import { synthesize } from '../sandbox/catalog';
import type { FaseehSandbox, FaseehSandboxOptions } from '../sandbox/FaseehSandbox';

const MODEL = 'faseeh-mini-v1-preview';
const VOICE = 'ar-najdi-male-2';
const LONG = longArabicText(50_000);

const parameters = (options: INodeParameters = {}): INodeParameters => ({
	resource: 'speech',
	operation: 'generate',
	voiceId: { __rl: true, mode: 'id', value: VOICE },
	text: '={{ $json.text }}',
	model: MODEL,
	stability: 0.5,
	options,
});
const items = (...texts: string[]): FixtureItem[] => texts.map((text) => ({ json: { text } }));

const sandboxes: FaseehSandbox[] = [];
async function sandboxWith(options: FaseehSandboxOptions = {}) {
	const sandbox = await startSandbox(options);
	sandboxes.push(sandbox);
	return sandbox;
}
afterAll(async () => {
	for (const sandbox of sandboxes) await sandbox.stop();
	await cleanupHarness();
});

/** What the sandbox speaks for one text, as the node must have joined it. */
function expectedPcm(pieces: string[], pauseMs: number, rate = 24000): Buffer {
	const pause = Buffer.alloc(Math.round((pauseMs * rate) / 1000) * 2);
	return Buffer.concat(pieces.flatMap((piece, i) => [...(i > 0 ? [pause] : []), synthesize(`tts\n${MODEL}\n${VOICE}\n${piece}`, piece, rate)]));
}

function ttsTexts(sandbox: FaseehSandbox, status = 200): string[] {
	return requestsTo(sandbox, 'POST', `/text-to-speech/${MODEL}`)
		.filter((request) => request.status === status)
		.map((request) => (request.json as { text: string }).text);
}

describe('long texts', () => {
	it('50,000 characters: one WAV equal to the pieces in order with the pauses, each piece sent once, no word cut', async () => {
		expect(characterCount(LONG)).toBeGreaterThan(49_900);
		const sandbox = await sandboxWith();
		const pieces = splitForSpeech(LONG, 1000);
		const info = jest.spyOn(Container.get(Logger), 'info');
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ concurrency: 4, pauseMs: 300 }), items(LONG));
		expect(result.error).toBeUndefined();
		const [item] = result.items;
		expect(item.json).toMatchObject({ pieces: pieces.length, characters: characterCount(LONG), mimeType: 'audio/wav' });
		expect(pieces.length).toBeGreaterThanOrEqual(50);

		const wav = await result.binaryBuffer(item, 'data');
		expect(wav.toString('latin1', 0, 4)).toBe('RIFF');
		expect(wav.readUInt32LE(24)).toBe(24000);
		const pcm = wav.subarray(44);
		expect(wav.readUInt32LE(40)).toBe(pcm.length);
		expect(pcm.equals(expectedPcm(pieces, 300))).toBe(true);
		expect(item.json.durationSeconds).toBeCloseTo(pcm.length / 48000, 2);

		// The request log: every piece exactly once, none over the limit, the words are the text's.
		const sent = ttsTexts(sandbox);
		expect(requestsTo(sandbox, 'POST', `/text-to-speech/${MODEL}`)).toHaveLength(pieces.length);
		expect([...sent].sort()).toEqual([...pieces].sort());
		for (const text of sent) expect(characterCount(text)).toBeLessThanOrEqual(1000);
		const words = (text: string) => text.split(/\s+/u).filter(Boolean);
		expect(pieces.flatMap(words)).toEqual(words(LONG));

		const progress = info.mock.calls.map(([message]) => String(message)).filter((message) => /piece \d+\/\d+ done/.test(message));
		info.mockRestore();
		expect(progress).toHaveLength(pieces.length);
		expect(progress[progress.length - 1]).toBe(`Faseeh: item 0: piece ${pieces.length}/${pieces.length} done`);
	});

	it.each([2, 5])('plan limit %i: pieces in parallel up to the plan, never more in flight', async (plan) => {
		const sandbox = await sandboxWith({ latencyMs: 30, maxConcurrent: plan });
		const text = longArabicText(12_000, plan);
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ concurrency: 10, maxCharacters: 500 }), items(text, text.slice(0, 400)), {
			credential: { plan: plan === 2 ? 'basic' : 'starter' },
		});
		expect(result.error).toBeUndefined();
		expect(sandbox.maxInFlight).toBe(plan);
		expect(ttsTexts(sandbox, 429)).toEqual([]);
		expect(result.items.map((item) => item.json.pieces)).toEqual([splitForSpeech(text, 500).length, 1]);
	});

	it('a piece refused with 400 fails the item, naming the piece and Faseeh’s message; nothing more is sent', async () => {
		let done = 0;
		const sandbox: FaseehSandbox = await sandboxWith({
			onRequestDone: () => {
				if (++done === 3) sandbox.inject({ route: 'POST /text-to-speech/:model', kind: 'status', status: 400, body: { errorMessage: 'text contains unsupported characters', errorCode: 40001 } });
			},
		});
		const pieces = splitForSpeech(LONG.slice(0, 8000), 1000);
		// A plan of one request at a time: the pieces go one after the other, so what follows the 4th is known.
		const result = await runAgainst(sandbox, new Faseeh(), parameters(), items(LONG.slice(0, 8000)), {
			credential: { plan: 'custom', maxConcurrentRequests: 1 },
		});
		expect(result.error).toBeInstanceOf(NodeApiError);
		const error = result.error as NodeApiError;
		expect(error.message).toBe('text contains unsupported characters');
		expect(error.description).toContain(`Failed at piece 4 of ${pieces.length} ("${[...pieces[3]].slice(0, 30).join('')}`);
		expect(error.description).toMatch(/\[item 0\]$/);
		expect(requestsTo(sandbox, 'POST', `/text-to-speech/${MODEL}`)).toHaveLength(4);
	});

	it('continue on fail: the failed long item becomes an error item, the other items are spoken', async () => {
		let done = 0;
		const sandbox: FaseehSandbox = await sandboxWith({
			onRequestDone: () => {
				if (++done === 2) sandbox.inject({ route: 'POST /text-to-speech/:model', kind: 'status', status: 400 });
			},
		});
		const result = await runAgainst(sandbox, new Faseeh(), parameters(), items(LONG.slice(0, 5000), 'مرحبا بك في فصيح اليوم'), {
			onError: 'continueRegularOutput',
		});
		expect(result.error).toBeUndefined();
		expect(result.items[0].json.error).toBeDefined();
		expect(String(result.items[0].json.description)).toMatch(/Failed at piece 3 of \d+/);
		expect(result.items[0].json.httpCode).toBe('400');
		expect(result.items[1].json).toMatchObject({ pieces: 1, mimeType: 'audio/wav' });
	});

	it('a 429 on one piece re-sends that piece only; pieces that succeeded are never sent again', async () => {
		let done = 0;
		const sandbox: FaseehSandbox = await sandboxWith({
			latencyMs: 20,
			onRequestDone: () => {
				if (++done === 2) sandbox.inject({ route: 'POST /text-to-speech/:model', kind: 'status', status: 429 });
			},
		});
		const text = LONG.slice(0, 10_000);
		const pieces = splitForSpeech(text, 1000);
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ concurrency: 3 }), items(text));
		expect(result.error).toBeUndefined();
		const refused = ttsTexts(sandbox, 429);
		expect(refused).toHaveLength(1);
		const succeeded = ttsTexts(sandbox);
		expect([...succeeded].sort()).toEqual([...pieces].sort());
		expect(new Set(succeeded).size).toBe(pieces.length);
		expect(requestsTo(sandbox, 'POST', `/text-to-speech/${MODEL}`)).toHaveLength(pieces.length + 1);
		const wav = await result.binaryBuffer(result.items[0], 'data');
		expect(wav.subarray(44).equals(expectedPcm(pieces, 250))).toBe(true);
	});

	it('Concurrency 1: a long item holds its one slot until it ends; the next long item starts after it (issue 22.3)', async () => {
		// Growth plan (10): each item may have all 4 of its pieces in flight, but never two items at once.
		const sandbox = await sandboxWith({ latencyMs: 40 });
		const first = LONG.slice(0, 3600);
		const second = LONG.slice(3600, 7200);
		const [firstPieces, secondPieces] = [splitForSpeech(first, 1000), splitForSpeech(second, 1000)];
		expect([firstPieces.length, secondPieces.length]).toEqual([4, 4]);
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ concurrency: 1 }), items(first, second), { credential: { plan: 'growth' } });
		expect(result.error).toBeUndefined();
		expect(result.items.map((item) => item.json.pieces)).toEqual([4, 4]);
		expect(sandbox.maxInFlight).toBe(4);
		// In input order: every piece of item 0 arrived before any piece of item 1.
		const sent = ttsTexts(sandbox);
		expect(sent.slice(0, 4).sort()).toEqual([...firstPieces].sort());
		expect(sent.slice(4).sort()).toEqual([...secondPieces].sort());
	});

	it('Concurrency 2: at most two long items at once, in input order', async () => {
		const sandbox = await sandboxWith({ latencyMs: 40 });
		const texts = [0, 1, 2].map((k) => LONG.slice(k * 2600, (k + 1) * 2600));
		const counts = texts.map((text) => splitForSpeech(text, 1000).length);
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ concurrency: 2 }), items(...texts), { credential: { plan: 'growth' } });
		expect(result.error).toBeUndefined();
		expect(sandbox.maxInFlight).toBeLessThanOrEqual(counts[0] + counts[1]);
		// Item 2's first piece arrived after one of the first two items had all its pieces answered.
		const sent = ttsTexts(sandbox);
		const itemOf = (text: string) => texts.findIndex((t) => splitForSpeech(t, 1000).includes(text));
		const firstOfItem2 = sent.findIndex((text) => itemOf(text) === 2);
		const before = sent.slice(0, firstOfItem2).map(itemOf);
		expect(before.filter((i) => i === 0).length === counts[0] || before.filter((i) => i === 1).length === counts[1]).toBe(true);
	});

	it('a long item that fails without Continue On Fail (404 voice) stops the run: the next long item sends nothing', async () => {
		const sandbox = await sandboxWith({ latencyMs: 40 });
		const params = { ...parameters({ concurrency: 1 }), voiceId: { __rl: true, mode: 'id', value: '={{ $json.voice }}' } };
		const result = await runAgainst(
			sandbox,
			new Faseeh(),
			params,
			[
				{ json: { text: LONG.slice(0, 3600), voice: 'no-such-voice' } },
				{ json: { text: LONG.slice(3600, 7200), voice: VOICE } },
			],
			{ credential: { plan: 'growth' } },
		);
		expect(result.error).toBeInstanceOf(NodeApiError);
		expect(result.error?.message).toBe('Voice not found: no-such-voice');
		const voices = requestsTo(sandbox, 'POST', `/text-to-speech/${MODEL}`).map((request) => (request.json as { voice_id: string }).voice_id);
		expect(voices.length).toBeGreaterThan(0);
		expect(voices.every((voice) => voice === 'no-such-voice')).toBe(true);
	});

	it('streaming mode: raw PCM pieces are joined the same way', async () => {
		const sandbox = await sandboxWith();
		const text = LONG.slice(0, 3000);
		const pieces = splitForSpeech(text, 1000);
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ streaming: true, pauseMs: 0 }), items(text));
		expect(result.error).toBeUndefined();
		const wav = await result.binaryBuffer(result.items[0], 'data');
		expect(wav.subarray(44).equals(expectedPcm(pieces, 0))).toBe(true);
	});

	it.each([
		['', 'Parameter "Text" is empty [item 0]'],
		['<break time="1s"/>  <break time="2s"/>', 'Parameter "Text" has no words to speak, only break tags and spaces [item 0]'],
		[`${LONG.slice(0, 3000)} <break time="1s" ثم`, /^Parameter "Text" has a tag left open: "<break time="1s" ثم" .*\[item 0\]$/],
		['مرحبا <break time="fast"/> في فصيح', /^Parameter "Text" has a malformed break tag.*\[item 0\]$/],
	])('bad input %#: refused before any request', async (text, message) => {
		const sandbox = await sandboxWith();
		const result = await runAgainst(sandbox, new Faseeh(), parameters(), items(text as string));
		if (typeof message === 'string') expect(result.error?.message).toBe(message);
		else expect(result.error?.message).toMatch(message);
		expect(sandbox.requests).toHaveLength(0);
	});

	it('a link longer than a piece: every piece has 3 words, so Faseeh takes them all and the item is spoken (issue 22.7)', async () => {
		const sandbox = await sandboxWith({ ttsTextMinimum: true });
		const link = `https://example.com/news/2026/12/07/${'article-'.repeat(40)}`;
		const text = `${LONG.slice(0, 400).replace(/\s*\S*$/u, '.')} ${link} ${LONG.slice(400, 700).replace(/^\S*\s*/u, '')}`;
		const pieces = splitForSpeech(text, 100);
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ maxCharacters: 100, pauseMs: 0 }), items(text));
		// Before: the link's runs of 100 characters were pieces of one word: the sandbox refused the first
		// with 400 "text must contain at least 3 words and 10 characters" after the pieces before it.
		expect(result.error).toBeUndefined();
		expect(ttsTexts(sandbox, 400)).toEqual([]);
		expect(ttsTexts(sandbox).sort()).toEqual([...pieces].sort());
		const wav = await result.binaryBuffer(result.items[0], 'data');
		expect(wav.subarray(44).equals(expectedPcm(pieces, 0))).toBe(true);
	});

	it('a long text with a piece Faseeh would refuse (two words among 60 break tags) is refused before any request (issue 22.7)', async () => {
		const sandbox = await sandboxWith({ ttsTextMinimum: true });
		const tags = Array.from({ length: 20 }, () => '<break time="1s"/>').join(' ');
		const sentences = 'هذه جملة عربية طويلة بما يكفي للتجربة هنا. '.repeat(12);
		const text = `${sentences}${tags} كلمة ${tags} كلمة ${tags} ${sentences}`;
		const result = await runAgainst(sandbox, new Faseeh(), parameters({ maxCharacters: 500 }), items(text));
		// A piece holds at most 20 break tags: the middle one has 20 and one word. Before: pieces 1 and 2
		// were sent (and charged), then Faseeh refused piece 3.
		expect(result.error?.message).toMatch(
			/^Parameter "Text" cannot be cut into pieces Faseeh accepts \(at least 3 words and 10 characters each\): piece \d+ of \d+ \("<break time="1s"\/>.*\[item 0\]$/,
		);
		expect(sandbox.requests).toHaveLength(0);
	});

	it.each([
		[{ maxCharacters: 99 }, 'Parameter "Max Characters per Request" must be a number from 100 to 10000, got 99 [item 0]'],
		[{ pauseMs: 12.5 }, 'Parameter "Pause Between Pieces (Ms)" must be a whole number, got 12.5 [item 0]'],
	])('option %j out of range: refused before any request', async (options, message) => {
		const sandbox = await sandboxWith();
		const result = await runAgainst(sandbox, new Faseeh(), parameters(options), items(LONG.slice(0, 2000)));
		expect(result.error?.message).toBe(message);
		expect(sandbox.requests).toHaveLength(0);
	});

	it('examples/article-to-podcast.json: the Set node\'s article through the example\'s Faseeh node is one MP3 of its pieces', async () => {
		const workflow = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'article-to-podcast.json'), 'utf8')) as {
			nodes: Array<{ type: string; parameters: INodeParameters }>;
		};
		const set = workflow.nodes.find((node) => node.type === 'n8n-nodes-base.set') as unknown as { parameters: { assignments: { assignments: Array<{ name: string; value: string }> } } };
		const fields = Object.fromEntries(set.parameters.assignments.assignments.map((field) => [field.name, field.value]));
		const speak = workflow.nodes.find((node) => node.type === 'n8n-nodes-faseeh.faseeh') as { parameters: INodeParameters };
		const options = speak.parameters.options as { maxCharacters: number; pauseMs: number };
		const pieces = splitForSpeech(fields.article, options.maxCharacters);
		expect(pieces.length).toBeGreaterThan(1);
		const sandbox = await sandboxWith();
		const result = await runAgainst(sandbox, new Faseeh(), { ...speak.parameters, model: MODEL }, [{ json: fields }]);
		expect(result.error).toBeUndefined();
		expect(result.items[0].json).toMatchObject({ pieces: pieces.length, format: 'mp3', mimeType: 'audio/mpeg', fileName: `${fields.title}.mp3` });
		// The MP3 decodes (mpg123) to the pieces joined with their pauses: same length within 1 %, same sound.
		const mp3 = await result.binaryBuffer(result.items[0], 'data');
		const expected = expectedPcm(pieces, options.pauseMs);
		const reference = Float32Array.from({ length: expected.length / 2 }, (_u, i) => expected.readInt16LE(i * 2) / 32768);
		const decoded = decodeWithLibrary('mp3', mp3);
		expect(decoded.errors).toEqual([]);
		expect(decoded.sampleRate).toBe(24000);
		expect(Math.abs(decoded.samplesDecoded - reference.length) / reference.length).toBeLessThan(0.01);
		expect(bestCorrelation(reference, decoded.samples, 3000, 24000, 240000).r).toBeGreaterThan(0.9);
	});
});
