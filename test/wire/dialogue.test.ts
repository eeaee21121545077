/**
 * Speech → Generate Dialogue (issue 25.1) against the sandbox, in n8n's real engine: the turns in
 * each input form become one file whose samples are the turns' pieces in order, with the pause
 * between pieces inside a turn and the pause between turns; each piece is requested once, with
 * its turn's voice, within the plan; the JSON's turn times are where the turns' samples are;
 * bad input is refused before any request, naming the turn and the item.
 */
import { NodeApiError } from 'n8n-workflow';
import type { IDataObject, INodeParameters } from 'n8n-workflow';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { splitForSpeech } from '../../nodes/shared/speech/split';
import { cleanupHarness } from '../harness/n8nHarness';
import type { FixtureItem } from '../harness/n8nHarness';
import { bestCorrelation, decodeWithLibrary } from '../helpers/audio';
import { requestsTo, runAgainst, startSandbox } from '../helpers/faseeh';
import { longArabicText } from '../helpers/longText';
import { synthesize } from '../sandbox/catalog';
import type { FaseehSandbox, FaseehSandboxOptions } from '../sandbox/FaseehSandbox';

const MODEL = 'faseeh-mini-v1-preview';
const HOST = 'ar-najdi-male-2';
const GUEST = 'ar-hijazi-female-1';
const RATE = 24000;

interface Turn {
	voice_id: string;
	text: string;
}

const base = (parameters: INodeParameters, options: INodeParameters = {}): INodeParameters => ({
	resource: 'speech',
	operation: 'generateDialogue',
	model: MODEL,
	stability: 0.5,
	...parameters,
	options,
});
const items = (...json: IDataObject[]): FixtureItem[] => json.map((entry) => ({ json: entry }));

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

/** What the node must have written: every turn's pieces in order, pauses between pieces and turns. */
function expected(turns: Turn[], maxCharacters: number, pauseMs: number, turnPauseMs: number) {
	const silence = (ms: number) => Buffer.alloc(Math.round((ms * RATE) / 1000) * 2);
	const parts: Buffer[] = [];
	const times: Array<{ start: number; end: number }> = [];
	let position = 0;
	const pieces: Array<{ voice: string; text: string }> = [];
	turns.forEach((turn, t) => {
		if (t > 0) {
			parts.push(silence(turnPauseMs));
			position += silence(turnPauseMs).length;
		}
		const split = splitForSpeech(turn.text, maxCharacters);
		const start = position;
		split.forEach((piece, p) => {
			if (p > 0) {
				parts.push(silence(pauseMs));
				position += silence(pauseMs).length;
			}
			const pcm = synthesize(`tts\n${MODEL}\n${turn.voice_id}\n${piece}`, piece, RATE);
			parts.push(pcm);
			position += pcm.length;
			pieces.push({ voice: turn.voice_id, text: piece });
		});
		times.push({ start: start / 2, end: position / 2 });
	});
	return { pcm: Buffer.concat(parts), times, pieces };
}

function ttsRequests(sandbox: FaseehSandbox, status = 200) {
	return requestsTo(sandbox, 'POST', `/text-to-speech/${MODEL}`)
		.filter((request) => request.status === status)
		.map((request) => request.json as { voice_id: string; text: string; stability: number; streaming: boolean });
}

/** Turn times in the JSON are in seconds to the millisecond: within half a millisecond of the samples. */
function expectTimes(json: Record<string, unknown>, times: Array<{ start: number; end: number }>) {
	const turns = json.turns as Array<{ start: number; end: number }>;
	expect(turns).toHaveLength(times.length);
	turns.forEach((turn, t) => {
		expect(Math.abs(turn.start * RATE - times[t].start)).toBeLessThanOrEqual(RATE / 2000);
		expect(Math.abs(turn.end * RATE - times[t].end)).toBeLessThanOrEqual(RATE / 2000);
	});
}

const TURNS: Turn[] = [
	{ voice_id: HOST, text: 'أهلا بكم في حلقة اليوم من بودكاست فصيح.' },
	{ voice_id: GUEST, text: 'يسعدني أن أكون معكم، شكرا على الدعوة.' },
	{ voice_id: HOST, text: 'لنبدأ بسؤال بسيط: كيف بدأت القصة؟' },
];

describe('Speech → Generate Dialogue', () => {
	it('Turns List: one WAV of the turns in order with the pauses, each turn in its voice, times in the JSON', async () => {
		const sandbox = await sandboxWith();
		const parameters = base(
			{ turnsInput: 'list', turns: { turn: TURNS.map((turn) => ({ voiceId: turn.voice_id, text: turn.text })) } },
			{ turnPauseMs: 700, pauseMs: 200 },
		);
		const result = await runAgainst(sandbox, new Faseeh(), parameters, items({}));
		expect(result.error).toBeUndefined();
		const [item] = result.items;
		const want = expected(TURNS, 1000, 200, 700);
		const wav = await result.binaryBuffer(item, 'data');
		expect(wav.readUInt32LE(24)).toBe(RATE);
		expect(wav.subarray(44).equals(want.pcm)).toBe(true);
		expect(item.json).toMatchObject({
			voices: [HOST, GUEST],
			pieces: 3,
			format: 'wav',
			fileName: 'faseeh-dialogue.wav',
			turns: TURNS.map((turn, t) => ({ turn: t + 1, voice_id: turn.voice_id, text: turn.text, pieces: 1 })),
		});
		expectTimes(item.json, want.times);
		// Each piece once, with its turn's voice, and nothing else in the body.
		const sent = ttsRequests(sandbox);
		expect(sent).toEqual(want.pieces.map((piece) => ({ voice_id: piece.voice, text: piece.text, stability: 0.5, streaming: false })));
	});

	it('JSON Array from an expression, long turns in pieces at plan 2: every piece once, never more than 2 in flight', async () => {
		const sandbox = await sandboxWith({ latencyMs: 25, maxConcurrent: 2 });
		const turns: Turn[] = [
			{ voice_id: HOST, text: longArabicText(900, 3) },
			{ voice_id: GUEST, text: 'نعم، هذا صحيح تماما.' },
			{ voice_id: HOST, text: longArabicText(700, 4) },
			{ voice_id: GUEST, text: longArabicText(450, 5) },
		];
		const parameters = base({ turnsInput: 'json', turnsJson: '={{ $json.script }}' }, { maxCharacters: 200, concurrency: 1 });
		const result = await runAgainst(sandbox, new Faseeh(), parameters, items({ script: turns }), { credential: { plan: 'basic' } });
		expect(result.error).toBeUndefined();
		const want = expected(turns, 200, 250, 500);
		expect(want.pieces.length).toBeGreaterThan(10);
		const wav = await result.binaryBuffer(result.items[0], 'data');
		expect(wav.subarray(44).equals(want.pcm)).toBe(true);
		expectTimes(result.items[0].json, want.times);
		expect(sandbox.maxInFlight).toBe(2);
		expect(ttsRequests(sandbox, 429)).toEqual([]);
		const sent = ttsRequests(sandbox).map((body) => `${body.voice_id}\n${body.text}`);
		expect(new Set(sent).size).toBe(sent.length);
		expect([...sent].sort()).toEqual(want.pieces.map((piece) => `${piece.voice}\n${piece.text}`).sort());
		expect((result.items[0].json.turns as Array<{ pieces: number }>).map((turn) => turn.pieces)).toEqual(
			turns.map((turn) => splitForSpeech(turn.text, 200).length),
		);
	});

	it('JSON Array as an AI Agent writes it (a string in a ```json fence, with speakers) as MP3', async () => {
		const sandbox = await sandboxWith();
		const turns = TURNS.map((turn, t) => ({ ...turn, speaker: t % 2 === 0 ? 'Ahmad' : 'Layla' }));
		const answer = `\`\`\`json\n${JSON.stringify(turns, null, 2)}\n\`\`\``;
		const parameters = { ...base({ turnsInput: 'json', turnsJson: '={{ $json.output }}' }), outputFormat: 'mp3', mp3BitRate: 64 };
		const result = await runAgainst(sandbox, new Faseeh(), parameters, items({ output: answer }));
		expect(result.error).toBeUndefined();
		const { json } = result.items[0];
		expect((json.turns as Array<{ speaker: string }>).map((turn) => turn.speaker)).toEqual(['Ahmad', 'Layla', 'Ahmad']);
		const want = expected(TURNS, 1000, 250, 500);
		const reference = Float32Array.from({ length: want.pcm.length / 2 }, (_u, i) => want.pcm.readInt16LE(i * 2) / 32768);
		const decoded = decodeWithLibrary('mp3', await result.binaryBuffer(result.items[0], 'data'));
		expect(decoded.errors).toEqual([]);
		expect(Math.abs(decoded.samplesDecoded - reference.length) / reference.length).toBeLessThan(0.05);
		expect(bestCorrelation(reference, decoded.samples, 3000).r).toBeGreaterThan(0.9);
		expect(json.durationSeconds).toBeCloseTo(reference.length / RATE, 2);
	});

	it('Script: "Name: line" lines with a voice per name (names without case, a chat model\'s **Name:**)', async () => {
		const sandbox = await sandboxWith();
		const script = ['**Ahmad:** أهلا بكم في حلقة اليوم من بودكاست فصيح.', '', 'layla: يسعدني أن أكون معكم، شكرا على الدعوة.', 'AHMAD: لنبدأ بسؤال بسيط: كيف بدأت القصة؟'].join('\n');
		const parameters = base({
			turnsInput: 'script',
			script,
			speakers: { speaker: [{ name: 'Ahmad', voiceId: HOST }, { name: ' Layla ', voiceId: GUEST }] },
		});
		const result = await runAgainst(sandbox, new Faseeh(), parameters, items({}));
		expect(result.error).toBeUndefined();
		const want = expected(TURNS, 1000, 250, 500);
		expect(ttsRequests(sandbox).map((body) => [body.voice_id, body.text])).toEqual(TURNS.map((turn) => [turn.voice_id, turn.text]));
		expect((await result.binaryBuffer(result.items[0], 'data')).subarray(44).equals(want.pcm)).toBe(true);
		expect((result.items[0].json.turns as Array<{ speaker: string; text: string }>).map((turn) => [turn.speaker, turn.text])).toEqual([
			['Ahmad', TURNS[0].text],
			['Layla', TURNS[1].text],
			['Ahmad', TURNS[2].text],
		]);
	});

	it('a refused piece fails the item naming the turn, its voice and the piece; nothing more is sent', async () => {
		let done = 0;
		const sandbox: FaseehSandbox = await sandboxWith({
			onRequestDone: () => {
				if (++done === 3) sandbox.inject({ route: 'POST /text-to-speech/:model', kind: 'status', status: 400, body: { errorMessage: 'text contains unsupported characters', errorCode: 40001 } });
			},
		});
		const turns: Turn[] = [
			{ voice_id: HOST, text: 'أهلا بكم في حلقة اليوم من بودكاست فصيح.' },
			{ voice_id: GUEST, text: longArabicText(500, 9) },
			{ voice_id: HOST, text: 'لنبدأ بسؤال بسيط: كيف بدأت القصة؟' },
		];
		const guestPieces = splitForSpeech(turns[1].text, 200);
		const result = await runAgainst(sandbox, new Faseeh(), base({ turnsInput: 'json', turnsJson: JSON.stringify(turns) }, { maxCharacters: 200 }), items({}), {
			credential: { plan: 'custom', maxConcurrentRequests: 1 },
		});
		expect(result.error).toBeInstanceOf(NodeApiError);
		const error = result.error as NodeApiError;
		expect(error.message).toBe('text contains unsupported characters');
		expect(error.description).toContain(`Failed at turn 2 of 3 (${GUEST}), piece 3 of ${guestPieces.length} ("${[...guestPieces[2]].slice(0, 30).join('')}`);
		expect(error.description).toMatch(/\[item 0\]$/);
		expect(requestsTo(sandbox, 'POST', `/text-to-speech/${MODEL}`)).toHaveLength(4);
	});

	it('a voice that does not exist fails with Faseeh\'s message, naming the turn', async () => {
		const sandbox = await sandboxWith();
		const turns = [TURNS[0], { voice_id: 'no-such-voice', text: TURNS[1].text }];
		const result = await runAgainst(sandbox, new Faseeh(), base({ turnsInput: 'json', turnsJson: JSON.stringify(turns) }), items({}));
		expect(result.error?.message).toBe('Voice not found: no-such-voice');
		expect((result.error as NodeApiError).description).toContain('Failed at turn 2 of 2 (no-such-voice) ("يسعدني');
	});

	const scriptParameters = (script: string) =>
		base({ turnsInput: 'script', script, speakers: { speaker: [{ name: 'Ahmad', voiceId: HOST }, { name: 'Layla', voiceId: GUEST }] } });
	it.each([
		['JSON that is not an array', base({ turnsInput: 'json', turnsJson: '{"voice_id": "ar-najdi-male-2", "text": "مرحبا بكم جميعا"}' }), /^Parameter "Turns \(JSON\)" must be a JSON array of turns, got an object \[item 0\]$/],
		['malformed JSON', base({ turnsInput: 'json', turnsJson: '[{"voice_id": "ar-najdi-male-2", "text": "مرحبا"' }), /^Parameter "Turns \(JSON\)" is not valid JSON \(.+\) \[item 0\]$/],
		['an empty array', base({ turnsInput: 'json', turnsJson: '[]' }), /^Parameter "Turns \(JSON\)" is an empty array: a dialogue needs at least one turn \[item 0\]$/],
		['a turn without a voice', base({ turnsInput: 'json', turnsJson: JSON.stringify([TURNS[0], { text: 'نص بلا صوت هنا' }]) }), /^Parameter "Turns \(JSON\)" turn 2 has no "voice_id" \[item 0\]$/],
		['an empty turn', base({ turnsInput: 'json', turnsJson: JSON.stringify([TURNS[0], TURNS[1], { voice_id: HOST, text: '   ' }]) }), /^Parameter "Turns \(JSON\)" turn 3: the text is empty \[item 0\]$/],
		['a turn that is not an object', base({ turnsInput: 'json', turnsJson: '["مرحبا بكم"]' }), /^Parameter "Turns \(JSON\)" turn 1 is not an object with "voice_id" and "text" \[item 0\]$/],
		['a list turn without a voice', base({ turnsInput: 'list', turns: { turn: [{ voiceId: HOST, text: TURNS[0].text }, { voiceId: '', text: TURNS[1].text }] } }), /^Parameter "Turns" turn 2 has no voice \[item 0\]$/],
		['no turns in the list', base({ turnsInput: 'list', turns: {} }), /^Parameter "Turns" has no turns/],
		['a speaker missing from the mapping', scriptParameters('Ahmad: أهلا بكم في الحلقة.\nSara: شكرا لك يا أحمد.'), /^Parameter "Script" line 2: the speaker "Sara" is not in Speakers \[item 0\]$/],
		['a line without a speaker', scriptParameters('Ahmad: أهلا بكم في الحلقة.\nشكرا لك يا أحمد.'), /^Parameter "Script" line 2 does not start with a speaker's name: write it as "Name: text" \(got "شكرا لك يا أحمد\."\) \[item 0\]$/],
		['a script line with no text', scriptParameters('Ahmad: أهلا بكم في الحلقة.\nLayla:   '), /^Parameter "Script" line 2 \(Layla\): the text is empty \[item 0\]$/],
		['a speaker without a voice', base({ turnsInput: 'script', script: 'Ahmad: أهلا بكم في الحلقة.', speakers: { speaker: [{ name: 'Ahmad', voiceId: '' }] } }), /^Parameter "Speakers" "Ahmad" has no voice \[item 0\]$/],
		['a voice-note preset', { ...base({ turnsInput: 'json', turnsJson: JSON.stringify(TURNS) }), outputFormat: 'telegramVoice' }, /^Parameter "Output Format" cannot be a voice-note preset for a dialogue: choose OGG\/Opus \[item 0\]$/],
		['a turn pause out of range', base({ turnsInput: 'json', turnsJson: JSON.stringify(TURNS) }, { turnPauseMs: 20000 }), /^Parameter "Pause Between Turns \(Ms\)" must be a number from 0 to 10000, got 20000 \[item 0\]$/],
	])('bad input, %s: refused before any request', async (_case, parameters, message) => {
		const sandbox = await sandboxWith();
		const result = await runAgainst(sandbox, new Faseeh(), parameters as INodeParameters, items({}));
		expect(result.error?.message).toMatch(message as RegExp);
		expect(sandbox.requests).toHaveLength(0);
	});
});
