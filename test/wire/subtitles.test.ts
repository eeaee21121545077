/**
 * Subtitles (issue 25.3) in n8n's real engine against the sandbox. The subtitle files are read by
 * independent parsers (`subtitle`, `webvtt-parser`); cue times are checked against where the
 * sandbox's pieces are in the file (it speaks a known length per text) and against the pauses
 * ffmpeg's silencedetect finds in the written audio (within 100 ms); Transcribe's cues against the
 * word timestamps Munsit's stand-in answers and the pauses of the uploaded recording.
 */
import type { IDataObject, INodeParameters } from 'n8n-workflow';
import { parseSync } from 'subtitle';
import { WebVTTParser } from 'webvtt-parser';

import { Faseeh } from '../../nodes/Faseeh/Faseeh.node';
import { splitForCues, visibleText } from '../../nodes/shared/speech/split';
import { cleanupHarness } from '../harness/n8nHarness';
import { requestsTo, runAgainst, startSandbox } from '../helpers/faseeh';
import { ensureFfmpeg, ffmpegDecode, ffmpegSilences } from '../helpers/ffmpeg';
import type { Silence } from '../helpers/ffmpeg';
import { wrapWav } from '../sandbox/audio';
import { synthesize } from '../sandbox/catalog';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';

const MODEL = 'faseeh-mini-v1-preview';
const VOICE = 'ar-najdi-male-2';
const GUEST = 'ar-hijazi-female-1';
const RATE = 24000;
const RLM = '\u200f';
const TEXT = [
	'أهلا بكم في هذا المقطع القصير عن الأتمتة.',
	'n8n يساعدك على ربط التطبيقات دون كتابة الكثير من الشيفرة، ويعمل على خادمك أنت.',
	'هل جربت ذلك من قبل؟ <break time="300ms"/> إن لم تفعل، فهذا وقت مناسب جدا للبدء في التجربة.',
	'شكرا لكم على المتابعة.',
].join(' ');

let sandbox: FaseehSandbox;
beforeAll(async () => {
	ensureFfmpeg();
	sandbox = await startSandbox();
}, 20 * 60_000);
afterEach(() => sandbox.reset());
afterAll(async () => {
	await sandbox.stop();
	await cleanupHarness();
});

interface ParsedCue {
	start: number;
	end: number;
	lines: string[];
}

function parseSrt(srt: string): ParsedCue[] {
	return parseSync(srt)
		.filter((node) => node.type === 'cue')
		.map((node) => ({ start: node.data.start / 1000, end: node.data.end / 1000, lines: String(node.data.text).split(/\r?\n/) }));
}

function parseVtt(vtt: string) {
	const parsed = new WebVTTParser().parse(vtt, 'metadata');
	expect(parsed.errors).toEqual([]);
	return parsed.cues;
}

/** Where each piece's sound is in the joined file (the sandbox's tones fill their pieces). */
function pieceTimes(pieces: Array<{ voice: string; text: string }>, pauseBefore: (index: number) => number) {
	let samples = 0;
	return pieces.map((piece, index) => {
		if (index > 0) samples += Math.round((pauseBefore(index) * RATE) / 1000);
		const length = synthesize(`tts\n${MODEL}\n${piece.voice}\n${piece.text}`, piece.text, RATE).length / 2;
		const times = { start: samples / RATE, end: (samples + length) / RATE };
		samples += length;
		return times;
	});
}

/** Every cue starts where a pause ends (or the file starts) and ends where one starts (or the file ends), within 100 ms. */
function expectCuesOnSound(cues: Array<{ start: number; end: number }>, silences: Silence[], duration: number, toleranceSeconds = 0.1) {
	const soundStarts = [0, ...silences.map((silence) => silence.end)];
	const soundEnds = [...silences.map((silence) => silence.start), duration];
	for (const cue of cues) {
		const nearestStart = Math.min(...soundStarts.map((time) => Math.abs(time - cue.start)));
		const nearestEnd = Math.min(...soundEnds.map((time) => Math.abs(time - cue.end)));
		expect({ cue, startOff: nearestStart <= toleranceSeconds, endOff: nearestEnd <= toleranceSeconds }).toEqual({ cue, startOff: true, endOff: true });
	}
}

const speech = (extra: INodeParameters, options: INodeParameters = {}): INodeParameters => ({
	resource: 'speech',
	operation: 'generate',
	voiceId: { __rl: true, mode: 'id', value: VOICE },
	text: TEXT,
	model: MODEL,
	stability: 0.5,
	...extra,
	options,
});

describe('Subtitles from Speech → Generate', () => {
	it('SRT beside a WAV: one request per cue, each cue where its piece is heard (pieces and silencedetect), lines ≤ 42 × 2', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), speech({ subtitles: 'srt' }, { pauseMs: 300 }), [{ json: {} }]);
		expect(result.error).toBeUndefined();
		const item = result.items[0];
		const pieces = splitForCues(TEXT, 84, 1000);
		expect(pieces.length).toBeGreaterThanOrEqual(4);
		// One request per cue, each once, with the cue's text.
		expect(requestsTo(sandbox, 'POST', `/text-to-speech/${MODEL}`).map((request) => (request.json as { text: string }).text).sort()).toEqual([...pieces].sort());
		expect(item.binary?.subtitles).toMatchObject({ mimeType: 'application/x-subrip', fileName: `faseeh-speech-${VOICE.replace(/-/g, '-')}.srt` });
		expect(item.json.subtitles).toEqual({ format: 'srt', field: 'subtitles', cues: pieces.length });
		const cues = parseSrt((await result.binaryBuffer(item, 'subtitles')).toString('utf8'));
		expect(cues).toHaveLength(pieces.length);
		const times = pieceTimes(
			pieces.map((text) => ({ voice: VOICE, text })),
			() => 300,
		);
		cues.forEach((cue, i) => {
			expect(Math.abs(cue.start - times[i].start)).toBeLessThanOrEqual(0.005);
			expect(Math.abs(cue.end - times[i].end)).toBeLessThanOrEqual(0.005);
			expect(cue.lines.length).toBeLessThanOrEqual(2);
			for (const line of cue.lines) expect([...line.replace(RLM, '')].length).toBeLessThanOrEqual(42);
			expect(cue.lines.join(' ').replace(RLM, '')).toBe(visibleText(pieces[i]));
		});
		// The line that starts with a Latin word carries the one mark; Arabic lines carry none.
		const latin = cues.flatMap((cue) => cue.lines).filter((line) => line.includes('n8n'));
		expect(latin.some((line) => line.startsWith(`${RLM}n8n`))).toBe(true);
		for (const line of cues.flatMap((cue) => cue.lines)) if (/^[\u0600-\u06ff]/u.test(line)) expect(line).not.toContain(RLM);
		const wav = await result.binaryBuffer(item, 'data');
		const silences = ffmpegSilences(wav, 'wav', { minSeconds: 0.2 });
		expect(silences.length).toBeGreaterThanOrEqual(pieces.length - 1);
		expectCuesOnSound(cues, silences, (wav.length - 44) / 2 / RATE);
	});

	it('WebVTT beside a Podcast MP3: cues on the decoded MP3\'s sound within 100 ms', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), speech({ subtitles: 'vtt', outputFormat: 'mp3', mp3BitRate: 64, loudness: 'podcast', subtitleBinaryPropertyName: 'captions' }, { fileName: 'clip.mp3' }), [{ json: {} }]);
		expect(result.error).toBeUndefined();
		const item = result.items[0];
		expect(item.binary?.captions).toMatchObject({ mimeType: 'text/vtt', fileName: 'clip.vtt' });
		const cues = parseVtt((await result.binaryBuffer(item, 'captions')).toString('utf8'));
		expect(cues).toHaveLength(splitForCues(TEXT, 84, 1000).length);
		const pcm = ffmpegDecode(await result.binaryBuffer(item, 'data'), 'mp3');
		expectCuesOnSound(
			cues.map((cue) => ({ start: cue.startTime, end: cue.endTime })),
			ffmpegSilences(pcm, 'pcm', { minSeconds: 0.15 }),
			pcm.length / 2 / RATE,
		);
	});

	it('Dialogue as WebVTT: each turn\'s cues within its times, named by voice spans', async () => {
		const turns = [
			{ voice_id: VOICE, speaker: 'Ahmad', text: 'أهلا بكم في حلقة اليوم. معنا ضيفة عزيزة تحدثنا عن تجربتها.' },
			{ voice_id: GUEST, speaker: 'Layla', text: 'شكرا لك يا أحمد، يسعدني أن أكون هنا معكم اليوم.' },
		];
		const parameters: INodeParameters = { resource: 'speech', operation: 'generateDialogue', turnsInput: 'json', turnsJson: JSON.stringify(turns), model: MODEL, stability: 0.5, subtitles: 'vtt', options: { turnPauseMs: 600 } };
		const result = await runAgainst(sandbox, new Faseeh(), parameters, [{ json: {} }]);
		expect(result.error).toBeUndefined();
		const cues = parseVtt((await result.binaryBuffer(result.items[0], 'subtitles')).toString('utf8'));
		const turnTimes = result.items[0].json.turns as Array<{ start: number; end: number; speaker: string }>;
		const pieces = turns.flatMap((turn) => splitForCues(turn.text, 84, 1000).map((text) => ({ voice: turn.voice_id, speaker: turn.speaker, text })));
		expect(cues).toHaveLength(pieces.length);
		cues.forEach((cue, i) => {
			const turn = turnTimes.find((candidate) => candidate.speaker === pieces[i].speaker)!;
			expect(cue.startTime).toBeGreaterThanOrEqual(turn.start - 0.001);
			expect(cue.endTime).toBeLessThanOrEqual(turn.end + 0.001);
			expect(cue.tree.children.find((child) => child.name === 'v')?.value).toBe(pieces[i].speaker);
		});
	});

	it.each([
		['Generate', speech({ subtitles: 'srt', subtitleLineChars: 9 }), 'Parameter "Max Characters per Line" must be a number from 10 to 100, got 9 [item 0]'],
		['Generate', speech({ subtitles: 'vtt', subtitleLines: 4 }), 'Parameter "Max Lines per Cue" must be a number from 1 to 3, got 4 [item 0]'],
		['Generate', speech({ subtitles: 'srt', subtitleBinaryPropertyName: 'data' }), 'Parameter "Put Subtitles in Field" must differ from "Put Output File in Field" (both are "data") [item 0]'],
		['Generate', speech({ subtitles: 'srt', outputFormat: 'whatsappVoice' }), 'Parameter "Subtitles" are not made for a voice-note preset: choose None, or another Output Format [item 0]'],
		[
			'Dialogue',
			{ resource: 'speech', operation: 'generateDialogue', turnsInput: 'json', turnsJson: '[{"voice_id": "ar-najdi-male-2", "text": "مرحبا بكم جميعا"}]', model: MODEL, stability: 0.5, subtitles: 'srt', subtitleLineChars: 5, options: {} },
			'Parameter "Max Characters per Line" must be a number from 10 to 100, got 5 [item 0]',
		],
		[
			'Dialogue',
			{ resource: 'speech', operation: 'generateDialogue', turnsInput: 'json', turnsJson: '[{"voice_id": "ar-najdi-male-2", "text": "مرحبا بكم جميعا"}]', model: MODEL, stability: 0.5, subtitles: 'srt', binaryPropertyName: 'audio', subtitleBinaryPropertyName: 'audio', options: {} },
			'Parameter "Put Subtitles in Field" must differ from "Put Output File in Field" (both are "audio") [item 0]',
		],
	])('%s: a cue length below 10 (or another bad subtitle setting) is refused before any request', async (_operation, parameters, message) => {
		const result = await runAgainst(sandbox, new Faseeh(), parameters as INodeParameters, [{ json: {} }]);
		expect(result.error?.message).toBe(message);
		expect(sandbox.requests).toHaveLength(0);
	});
});

describe('Subtitles from Audio → Transcribe', () => {
	/** A recording of three of the sandbox's utterances with 0.7 s pauses (its words are placed on the sound). */
	const recording = () => {
		const pause = Buffer.alloc(Math.round(0.7 * RATE) * 2);
		const parts = ['الجملة الأولى هنا', 'ثم الجملة الثانية الأطول قليلا', 'والأخيرة'].map((text, i) => synthesize(`recording ${i}`, text.repeat(3), RATE));
		return wrapWav(Buffer.concat([parts[0], pause, parts[1], pause, parts[2]]));
	};
	const transcribe = (extra: INodeParameters, options: INodeParameters = {}): INodeParameters => ({
		resource: 'audio',
		operation: 'transcribe',
		binaryPropertyName: 'data',
		mode: 'transcribe',
		sttModel: 'munsit',
		...extra,
		options,
	});
	const upload = () => [{ binary: { data: { data: recording(), fileName: 'meeting.wav', mimeType: 'audio/wav' } } }];

	it('SRT from the word timestamps: every word in order, each cue from its first word\'s start to its last word\'s end, on the recording\'s sound', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), transcribe({ subtitles: 'srt' }), upload());
		expect(result.error).toBeUndefined();
		const { json } = result.items[0];
		const [request] = requestsTo(sandbox, 'POST', '/audio/transcribe');
		expect(request.fields).toMatchObject({ return_timestamps: 'true' });
		const words = json.timestamps as Array<{ word: string; start: number; end: number }>;
		expect(words.length).toBeGreaterThan(3);
		const cues = parseSrt((await result.binaryBuffer(result.items[0], 'subtitles')).toString('utf8'));
		expect(result.items[0].binary?.subtitles).toMatchObject({ fileName: 'meeting.srt', mimeType: 'application/x-subrip' });
		expect(cues.flatMap((cue) => cue.lines.join(' ').split(' '))).toEqual(words.map((word) => word.word));
		let at = 0;
		for (const cue of cues) {
			const count = cue.lines.join(' ').split(' ').length;
			expect(cue.start).toBeCloseTo(words[at].start, 3);
			expect(cue.end).toBeCloseTo(words[at + count - 1].end, 3);
			at += count;
		}
		expect(json.subtitles).toEqual({ format: 'srt', field: 'subtitles', cues: cues.length });
		// No cue spans a pause of the recording: its cues sit on its sound.
		const silences = ffmpegSilences(recording(), 'wav', { minSeconds: 0.3 });
		expect(silences).toHaveLength(2);
		for (const cue of cues) for (const silence of silences) expect(cue.end <= silence.start + 0.1 || cue.start >= silence.end - 0.1).toBe(true);
	});

	it('Transcribe with Speakers: WebVTT names each cue\'s speaker (voice spans), SRT as a prefix', async () => {
		for (const format of ['vtt', 'srt'] as const) {
			sandbox.reset();
			const result = await runAgainst(sandbox, new Faseeh(), transcribe({ mode: 'diarize', subtitles: format }), upload());
			expect(result.error).toBeUndefined();
			const segments = result.items[0].json.segments as IDataObject[];
			const file = (await result.binaryBuffer(result.items[0], 'subtitles')).toString('utf8');
			const speakers = format === 'vtt'
				? parseVtt(file).map((cue) => cue.tree.children.find((child) => child.name === 'v')?.value)
				: parseSrt(file).map((cue) => /^\u200f?(SPEAKER_\d+): /u.exec(cue.lines[0])?.[1]);
			expect(speakers.length).toBeGreaterThan(0);
			for (const speaker of speakers) expect(segments.map((segment) => segment.speaker)).toContain(speaker);
			expect(new Set(speakers).size).toBe(new Set(segments.map((segment) => segment.speaker)).size);
		}
	});

	it('Word Timestamps turned off with subtitles on: refused before any request, naming the option', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), transcribe({ subtitles: 'srt' }, { returnTimestamps: false }), upload());
		expect(result.error?.message).toBe('Parameter "Word Timestamps" must be on to make subtitles: their cues are built from the word timestamps (return_timestamps) [item 0]');
		expect(sandbox.requests).toHaveLength(0);
	});

	it('an answer without timestamps: a clear error naming the option', async () => {
		const noTimes = await startSandbox({ sttTimestamps: false });
		try {
			const result = await runAgainst(noTimes, new Faseeh(), transcribe({ subtitles: 'srt' }), upload());
			expect(result.error?.message).toBe('The transcript came without word timestamps, which subtitles are made from [item 0]');
			expect((result.error as { description?: string }).description).toMatch(/return_timestamps was sent as true \(Options → Word Timestamps\)/);
		} finally {
			await noTimes.stop();
		}
	});

	it('a cue length below 10 is refused before the recording is uploaded', async () => {
		const result = await runAgainst(sandbox, new Faseeh(), transcribe({ subtitles: 'vtt', subtitleLineChars: 8 }), upload());
		expect(result.error?.message).toBe('Parameter "Max Characters per Line" must be a number from 10 to 100, got 8 [item 0]');
		expect(sandbox.requests).toHaveLength(0);
	});
});
