// Interim module: WAV and raw PCM writers only. The MP3 and OGG/Opus encoders (wip/encode) replace this file.
export type OutputFormat = 'wav' | 'mp3' | 'oggOpus' | 'pcm';
export const OUTPUT_FORMATS: Record<OutputFormat, { mimeType: string; extension: string; label: string }> = {
	wav: { mimeType: 'audio/wav', extension: 'wav', label: 'WAV' },
	mp3: { mimeType: 'audio/mpeg', extension: 'mp3', label: 'MP3' },
	oggOpus: { mimeType: 'audio/ogg', extension: 'ogg', label: 'OGG/Opus' },
	pcm: { mimeType: 'audio/L16', extension: 'pcm', label: 'Raw PCM' },
};
export const BIT_RATES = {
	mp3: { min: 32, max: 128, default: 64, allowed: [32, 40, 48, 56, 64, 80, 96, 112, 128] },
	oggOpus: { min: 6, max: 128, default: 32 },
};
export interface EncoderOptions { format: OutputFormat; sampleRate: number; bitRateKbps?: number }
export interface AudioEncoder {
	readonly format: OutputFormat; readonly mimeType: string; readonly extension: string;
	write(pcm: Buffer): Promise<Buffer>; end(): Promise<Buffer>; durationSeconds(): number; readonly outputSampleRate: number;
}
export function validateBitRate(format: OutputFormat, kbps: number): string | undefined {
	if (format === 'mp3') return BIT_RATES.mp3.allowed.includes(kbps) ? undefined : `must be one of ${BIT_RATES.mp3.allowed.join(', ')}, got ${kbps}`;
	if (format === 'oggOpus') return kbps >= 6 && kbps <= 128 ? undefined : `must be from 6 to 128, got ${kbps}`;
	return undefined;
}
export async function createEncoder(options: EncoderOptions): Promise<AudioEncoder> {
	const chunks: Buffer[] = []; let bytes = 0;
	const f = OUTPUT_FORMATS[options.format];
	if (options.format !== 'wav' && options.format !== 'pcm') throw new Error('shim: no ' + options.format);
	return {
		format: options.format, mimeType: options.format === 'pcm' ? `audio/L16;rate=${options.sampleRate};channels=1` : f.mimeType, extension: f.extension, outputSampleRate: options.sampleRate,
		async write(pcm) { chunks.push(pcm); bytes += pcm.length; return Buffer.alloc(0); },
		async end() {
			const pcm = Buffer.concat(chunks); const even = pcm.subarray(0, pcm.length - (pcm.length % 2));
			if (options.format === 'pcm') return even;
			const { wrapPcmAsWav } = await import('../audio');
			return wrapPcmAsWav(even, { sampleRate: options.sampleRate, channels: 1, bitsPerSample: 16 });
		},
		durationSeconds: () => bytes / 2 / options.sampleRate,
	};
}
