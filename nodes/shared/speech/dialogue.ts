/**
 * A dialogue's turns, read from one of three forms and checked before any request
 * (docs/reference.md, "Dialogues"): the node's Turns list, a JSON array `[{ "voice_id", "text" }]`
 * (e.g. written by an AI Agent), or a script of `Name: line` lines with a voice for each name.
 */
import type { ParameterValidator } from '../validate';
import { validateSpeechText } from './split';

export interface DialogueTurn {
	voiceId: string;
	text: string;
	/** The speaker's name (script form, or a JSON turn's optional "speaker"). */
	speaker?: string;
}

export const TURNS_LABEL = 'Turns';
export const TURNS_JSON_LABEL = 'Turns (JSON)';
export const SCRIPT_LABEL = 'Script';
export const SPEAKERS_LABEL = 'Speakers';

/** Turns from the Turns list: `{ turn: [{ voiceId, text }] }`. */
export function turnsFromList(check: ParameterValidator, value: unknown): DialogueTurn[] {
	const entries = (value as { turn?: unknown } | undefined)?.turn;
	const list = Array.isArray(entries) ? entries : [];
	if (list.length === 0) throw check.fail(TURNS_LABEL, 'has no turns: add at least one turn with a voice and a text');
	return list.map((entry, index) => {
		const turn = (entry ?? {}) as { voiceId?: unknown; text?: unknown };
		return checkedTurn(check, TURNS_LABEL, `turn ${index + 1}`, turn.voiceId, turn.text);
	});
}

/**
 * Turns from a JSON array, given as a string (a fixed value, or an AI Agent's answer, with or
 * without a ```json fence) or as the array an expression returned.
 */
export function turnsFromJson(check: ParameterValidator, value: unknown): DialogueTurn[] {
	let parsed: unknown = value;
	if (typeof value === 'string') {
		const text = value.trim().replace(/^```(?:json)?\s*\n?([\s\S]*?)\n?```$/u, '$1').trim();
		if (text === '') throw check.fail(TURNS_JSON_LABEL, 'is empty: give a JSON array of turns such as [{"voice_id": "ar-najdi-male-2", "text": "…"}]');
		try {
			parsed = JSON.parse(text);
		} catch (error) {
			throw check.fail(
				TURNS_JSON_LABEL,
				`is not valid JSON (${(error as Error).message})`,
				'Give a JSON array of turns: [{"voice_id": "ar-najdi-male-2", "text": "…"}, …]',
			);
		}
	}
	if (!Array.isArray(parsed)) {
		const got = parsed === null ? 'null' : typeof parsed === 'object' ? 'an object' : typeof parsed;
		throw check.fail(
			TURNS_JSON_LABEL,
			`must be a JSON array of turns, got ${got}`,
			'Give an array, one entry per turn: [{"voice_id": "ar-najdi-male-2", "text": "…"}, {"voice_id": "ar-hijazi-female-1", "text": "…"}]',
		);
	}
	if (parsed.length === 0) throw check.fail(TURNS_JSON_LABEL, 'is an empty array: a dialogue needs at least one turn');
	return parsed.map((entry: unknown, index) => {
		const where = `turn ${index + 1}`;
		if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
			throw check.fail(TURNS_JSON_LABEL, `${where} is not an object with "voice_id" and "text"`);
		}
		const turn = entry as Record<string, unknown>;
		const checked = checkedTurn(check, TURNS_JSON_LABEL, where, turn.voice_id, turn.text, '"voice_id"');
		if (typeof turn.speaker === 'string' && turn.speaker.trim() !== '') checked.speaker = check.wellFormed(TURNS_JSON_LABEL, turn.speaker.trim());
		return checked;
	});
}

/**
 * Turns from a script: every non-empty line is `Name: text`, and every name has a voice in
 * Speakers (names compared without case or surrounding spaces; `**Name:**` as a chat model writes
 * it is read as Name).
 */
export function turnsFromScript(check: ParameterValidator, script: unknown, speakersValue: unknown): DialogueTurn[] {
	const voices = speakerVoices(check, speakersValue);
	if (typeof script !== 'string' || script.trim() === '') throw check.fail(SCRIPT_LABEL, 'is empty: write one line per turn, "Name: text"');
	check.wellFormed(SCRIPT_LABEL, script);
	const turns: DialogueTurn[] = [];
	const lines = script.split(/\r\n|\r|\n/u);
	lines.forEach((line, index) => {
		if (line.trim() === '') return;
		const where = `line ${index + 1}`;
		const match = /^\s*([^:\n]{1,80}?)\s*:\s*([\s\S]*)$/u.exec(line);
		const name = match ? cleanName(match[1]) : '';
		if (!match || name === '') {
			throw check.fail(SCRIPT_LABEL, `${where} does not start with a speaker's name: write it as "Name: text" (got ${quote(line)})`);
		}
		const speaker = voices.get(name.toLowerCase());
		if (speaker === undefined) {
			throw check.fail(
				SCRIPT_LABEL,
				`${where}: the speaker "${name}" is not in ${SPEAKERS_LABEL}`,
				`Add "${name}" with a voice under ${SPEAKERS_LABEL}, or correct the name. Speakers: ${[...voices.values()].map((known) => `"${known.name}"`).join(', ')}.`,
			);
		}
		// "**Name:** text": the closing asterisks of a bold name are not part of the text.
		const text = /^\s*[*_]/u.test(match[1]) ? match[2].replace(/^[*_]+\s*/u, '') : match[2];
		const turn = checkedTurn(check, SCRIPT_LABEL, `${where} (${speaker.name})`, speaker.voiceId, text);
		turn.speaker = speaker.name;
		turns.push(turn);
	});
	if (turns.length === 0) throw check.fail(SCRIPT_LABEL, 'has no turns: write one line per turn, "Name: text"');
	return turns;
}

/** Speakers by lower-cased name: the name as Speakers writes it, and its voice. */
function speakerVoices(check: ParameterValidator, value: unknown): Map<string, { name: string; voiceId: string }> {
	const entries = (value as { speaker?: unknown } | undefined)?.speaker;
	const list = Array.isArray(entries) ? entries : [];
	if (list.length === 0) throw check.fail(SPEAKERS_LABEL, 'is empty: give each name in the script a voice');
	const voices = new Map<string, { name: string; voiceId: string }>();
	list.forEach((entry, index) => {
		const speaker = (entry ?? {}) as { name?: unknown; voiceId?: unknown };
		const name = typeof speaker.name === 'string' ? cleanName(speaker.name) : '';
		if (name === '') throw check.fail(SPEAKERS_LABEL, `entry ${index + 1} has no name`);
		const voiceId = typeof speaker.voiceId === 'string' ? speaker.voiceId.trim() : '';
		if (voiceId === '') throw check.fail(SPEAKERS_LABEL, `"${name}" has no voice`);
		if (voices.has(name.toLowerCase())) throw check.fail(SPEAKERS_LABEL, `names "${name}" twice`);
		voices.set(name.toLowerCase(), { name, voiceId });
	});
	return voices;
}

function checkedTurn(
	check: ParameterValidator,
	label: string,
	where: string,
	voice: unknown,
	text: unknown,
	voiceName = 'no voice',
): DialogueTurn {
	const voiceId = typeof voice === 'string' ? voice.trim() : typeof voice === 'number' ? String(voice) : '';
	if (voiceId === '') throw check.fail(label, voiceName === 'no voice' ? `${where} has no voice` : `${where} has no ${voiceName}`);
	if (/\s/u.test(voiceId)) throw check.fail(label, `${where} has a voice ID with spaces: ${quote(voiceId)}`);
	if (typeof text !== 'string') throw check.fail(label, `${where} has no text`);
	check.wellFormed(label, text);
	const problem = validateSpeechText(text);
	if (problem) throw check.fail(label, `${where}: the text ${problem}`);
	return { voiceId, text };
}

function cleanName(name: string): string {
	return name.replace(/^[\s*_]+|[\s*_]+$/gu, '');
}

function quote(text: string): string {
	const points = [...text.trim()];
	return `"${points.slice(0, 40).join('')}${points.length > 40 ? '…' : ''}"`;
}
