import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { BIT_RATES, validateBitRate } from '../encode';
import type { OutputFormat } from '../encode';
import type { ParameterValidator } from '../validate';

export const OUTPUT_FORMAT_VALUES: OutputFormat[] = ['wav', 'mp3', 'oggOpus', 'pcm'];
const MP3_BIT_RATE_OPTIONS = BIT_RATES.mp3.allowed.map((kbps) => ({ name: `${kbps} kbps`, value: kbps }));

/**
 * Output Format and its two Bit Rate parameters, shared by Speech → Generate and Voice → Preview.
 * `description` says what the format is for on that operation.
 */
export function outputFormatProperties(description: string): INodeProperties[] {
	return [
		{
			displayName: 'Output Format',
			name: 'outputFormat',
			type: 'options',
			options: [
				{ name: 'WAV', value: 'wav', description: 'Uncompressed, as Faseeh speaks it (largest file)' },
				{ name: 'MP3', value: 'mp3', description: 'Mono MP3, for podcasts, websites and e-mail' },
				{
					name: 'OGG/Opus',
					value: 'oggOpus',
					description: 'Mono Opus in Ogg: a voice note for WhatsApp and Telegram (sendVoice), smallest file',
				},
				{ name: 'Raw PCM', value: 'pcm', description: 'Headerless 16-bit little-endian mono samples' },
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
			description: 'MP3 bit rate. 64 kbps mono is clear speech; 32 is smaller, 128 is the most faithful.',
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
	];
}

/** The item's Output Format and bit rate, checked before any request. */
export function readOutputFormat(
	this: IExecuteFunctions,
	check: ParameterValidator,
	itemIndex: number,
): { format: OutputFormat; bitRateKbps?: number } {
	const format = this.getNodeParameter('outputFormat', itemIndex, 'wav') as OutputFormat;
	if (!OUTPUT_FORMAT_VALUES.includes(format)) {
		throw check.fail('Output Format', `must be one of ${OUTPUT_FORMAT_VALUES.join(', ')}, got ${JSON.stringify(format)}`);
	}
	if (format !== 'mp3' && format !== 'oggOpus') return { format };
	const bitRateKbps = Number(this.getNodeParameter(format === 'mp3' ? 'mp3BitRate' : 'opusBitRate', itemIndex, BIT_RATES[format].default));
	const problem = validateBitRate(format, bitRateKbps);
	if (problem) throw check.fail('Bit Rate (Kbps)', problem);
	return { format, bitRateKbps };
}
