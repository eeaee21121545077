// Decodes an MP3 or Ogg Opus file with an independent decoder (mpg123 or libopus, as WebAssembly,
// from wasm-audio-decoders) in a plain Node process: the decoders are ES modules, which Jest's
// CommonJS runtime cannot load. Usage: node decodeAudio.mjs <mp3|ogg> <in-file> <out-file>.
// Writes channel 0 as raw Float32 LE to <out-file> and prints JSON: sampleRate, channels,
// samplesDecoded, errors.
import { readFileSync, writeFileSync } from 'node:fs';

const [kind, input, output] = process.argv.slice(2);
const bytes = new Uint8Array(readFileSync(input));
let result;
if (kind === 'mp3') {
	const { MPEGDecoder } = await import('mpg123-decoder');
	const decoder = new MPEGDecoder();
	await decoder.ready;
	result = decoder.decode(bytes);
	decoder.free();
} else if (kind === 'ogg') {
	const { OggOpusDecoder } = await import('ogg-opus-decoder');
	const decoder = new OggOpusDecoder();
	await decoder.ready;
	result = await decoder.decodeFile(bytes);
	decoder.free();
} else {
	throw new Error(`unknown kind ${kind}`);
}
const channel = result.channelData[0] ?? new Float32Array(0);
writeFileSync(output, Buffer.from(channel.buffer, channel.byteOffset, channel.byteLength));
process.stdout.write(
	JSON.stringify({
		sampleRate: result.sampleRate,
		channels: result.channelData.length,
		samplesDecoded: result.samplesDecoded,
		errors: result.errors.map((error) => error.message ?? String(error)),
	}),
);
