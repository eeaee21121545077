import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { BIT_RATES, validateBitRate } from '../encode';
import type { OutputFormat } from '../encode';
import type { ParameterValidator } from '../validate';
import type { VoiceNoteOverflow, VoiceNotePreset } from './voiceNote';
import { LOWEST_BIT_RATE, VOICE_NOTE_PRESETS } from './voiceNote';

export const OUTPUT_FORMAT_VALUES: Array<OutputFormat | VoiceNotePreset> = ['wav', 'mp3', 'oggOpus', 'pcm', ...VOICE_NOTE_PRESETS];
const MP3_BIT_RATE_OPTIONS = BIT_RATES.mp3.allowed.map((kbps) => ({ name: `${kbps} kbps`, value: kbps }));

/** Speech → Generate only: what a voice-note preset does with speech longer than one note. */
const VOICE_NOTE_OVERFLOW_PROPERTY: INodeProperties = {
	displayName: 'Longer Than One Note',
	name: 'voiceNoteOverflow',
	type: 'options',
	options: [
		{ name: 'Fail', value: 'fail', description: 'Refuse, before any request, a text that cannot fit one note' },
		{
			name: 'Split Into Several Notes',
			value: 'split',
			description: 'End a note at a sentence end before it overflows and go on in the next: one output item per note, in order',
		},
	],
	default: 'fail',
	displayOptions: { show: { outputFormat: ['whatsappVoice', 'telegramVoice'] } },
};

/**
 * Output Format and its two Bit Rate parameters, shared by Speech → Generate and Voice → Preview.
 * `description` says what the format is for on that operation.
 */
export function outputFormatProperties(description: string, options: { overflow?: boolean } = {}): INodeProperties[] {
	return [
		{
			displayName: 'Output Format',
			name: 'outputFormat',
			type: 'options',
			options: [
				{ name: 'MP3', value: 'mp3', description: 'Mono MP3, for podcasts, websites and e-mail' },
				{
					name: 'OGG/Opus',
					value: 'oggOpus',
					description: 'Mono Opus in Ogg: a voice note for WhatsApp and Telegram (sendVoice), smallest file',
				},
				{ name: 'Raw PCM', value: 'pcm', description: 'Headerless 16-bit little-endian mono samples' },
				{
					name: 'Telegram Voice Note',
					value: 'telegramVoice',
					description: 'Mono OGG/Opus that Telegram’s sendVoice shows as a voice message (up to 50 MB)',
				},
				{ name: 'WAV', value: 'wav', description: 'Uncompressed, as Faseeh speaks it (largest file)' },
				{
					name: 'WhatsApp Voice Note',
					value: 'whatsappVoice',
					description: 'Mono OGG/Opus at 16 kHz, bit rate chosen so the file fits 512 KB: WhatsApp shows it as a voice message',
				},
			],
			default: 'wav',
			description,
		},
		{
			displayName: 'Bit Rate (Kbps)',
			name: 'mp3BitRate',
			type: 'options',
			options: MP3_BIT_RATE_OPTIONS,
			default: 64,
			description:
				'MP3 bit rate. 64 kbps mono is clear speech; 32 is smaller, 128 is the most faithful. At 8–12 kHz MP3 carries at most 64 kbps (the output says what was written).',
			displayOptions: { show: { outputFormat: ['mp3'] } },
		},
		{
			displayName: 'Bit Rate (Kbps)',
			name: 'opusBitRate',
			type: 'number',
			typeOptions: { minValue: BIT_RATES.oggOpus.min, maxValue: BIT_RATES.oggOpus.max },
			default: 32,
			description: `Opus bit rate, ${BIT_RATES.oggOpus.min}–${BIT_RATES.oggOpus.max} kbps. 24–32 kbps is what voice notes use.`,
			displayOptions: { show: { outputFormat: ['oggOpus'] } },
		},
		{
			displayName: 'Lowest Bit Rate (Kbps)',
			name: 'voiceNoteLowestBitRate',
			type: 'number',
			typeOptions: { minValue: LOWEST_BIT_RATE.min, maxValue: LOWEST_BIT_RATE.max },
			default: 16, // LOWEST_BIT_RATE.default (n8n's lint wants a literal)
			description:
				'The note’s bit rate is the highest up to 32 kbps at which it fits 512 KB, never below this. 16 kbps holds about 4 minutes; 8 kbps (still intelligible) about 8.',
			displayOptions: { show: { outputFormat: ['whatsappVoice'] } },
		},
		...(options.overflow ? [VOICE_NOTE_OVERFLOW_PROPERTY] : []),
	];
}

/** The item's Output Format and bit rate, checked before any request. */
export function readOutputFormat(
	this: IExecuteFunctions,
	check: ParameterValidator,
	itemIndex: number,
): { format: OutputFormat; bitRateKbps?: number; voiceNote?: { preset: VoiceNotePreset; lowestKbps: number; overflow: VoiceNoteOverflow } } {
	const chosen = this.getNodeParameter('outputFormat', itemIndex, 'wav') as OutputFormat | VoiceNotePreset;
	if (!OUTPUT_FORMAT_VALUES.includes(chosen)) {
		throw check.fail('Output Format', `must be one of ${OUTPUT_FORMAT_VALUES.join(', ')}, got ${JSON.stringify(chosen)}`);
	}
	if (chosen === 'whatsappVoice' || chosen === 'telegramVoice') {
		const lowestKbps = chosen === 'whatsappVoice' ? check.numberInRange('Lowest Bit Rate (Kbps)', this.getNodeParameter('voiceNoteLowestBitRate', itemIndex, LOWEST_BIT_RATE.default), LOWEST_BIT_RATE.min, LOWEST_BIT_RATE.max) : LOWEST_BIT_RATE.max;
		if (!Number.isInteger(lowestKbps)) throw check.fail('Lowest Bit Rate (Kbps)', `must be a whole number, got ${lowestKbps}`);
		const overflow = this.getNodeParameter('voiceNoteOverflow', itemIndex, 'fail') as VoiceNoteOverflow;
		if (overflow !== 'fail' && overflow !== 'split') throw check.fail('Longer Than One Note', `must be Fail or Split Into Several Notes, got ${JSON.stringify(overflow)}`);
		return { format: 'oggOpus', voiceNote: { preset: chosen, lowestKbps, overflow } };
	}
	const format = chosen;
	if (format !== 'mp3' && format !== 'oggOpus') return { format };
	const bitRateKbps = Number(this.getNodeParameter(format === 'mp3' ? 'mp3BitRate' : 'opusBitRate', itemIndex, BIT_RATES[format].default));
	const problem = validateBitRate(format, bitRateKbps);
	if (problem) throw check.fail('Bit Rate (Kbps)', problem);
	return { format, bitRateKbps };
}
