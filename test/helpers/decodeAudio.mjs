// Decodes MP3 or Ogg Opus files with an independent decoder (mpg123 or libopus, as WebAssembly,
// from wasm-audio-decoders) in a plain Node process: the decoders are ES modules, which Jest's
// CommonJS runtime cannot load. Usage: node decodeAudio.mjs <mp3|ogg> <in-file> <out-file> [<in-file> <out-file> …].
// Writes channel 0 of each input as raw Float32 LE to its out-file and prints JSON: for one file an
// object, for several an array, each with sampleRate, channels, samplesDecoded, errors.
import { readFileSync, writeFileSync } from 'node:fs';

const [kind, ...files] = process.argv.slice(2);
if (files.length === 0 || files.length % 2 !== 0) throw new Error('usage: decodeAudio.mjs <mp3|ogg> <in> <out> [<in> <out> …]');

async function decoderFor(kind) {
	if (kind === 'mp3') {
		const { MPEGDecoder } = await import('mpg123-decoder');
		return { create: () => new MPEGDecoder(), decode: async (decoder, bytes) => decoder.decode(bytes) };
	}
	if (kind === 'ogg') {
		const { OggOpusDecoder } = await import('ogg-opus-decoder');
		return { create: () => new OggOpusDecoder(), decode: async (decoder, bytes) => await decoder.decodeFile(bytes) };
	}
	throw new Error(`unknown kind ${kind}`);
}

const codec = await decoderFor(kind);
const results = [];
for (let i = 0; i < files.length; i += 2) {
	// A fresh decoder per file: no state carries from one file to the next.
	const decoder = codec.create();
	await decoder.ready;
	const result = await codec.decode(decoder, new Uint8Array(readFileSync(files[i])));
	decoder.free();
	const channel = result.channelData[0] ?? new Float32Array(0);
	writeFileSync(files[i + 1], Buffer.from(channel.buffer, channel.byteOffset, channel.byteLength));
	results.push({
		sampleRate: result.sampleRate,
		channels: result.channelData.length,
		samplesDecoded: result.samplesDecoded,
		errors: result.errors.map((error) => error.message ?? String(error)),
	});
}
process.stdout.write(JSON.stringify(results.length === 1 ? results[0] : results));
