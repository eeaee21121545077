import { Readable } from 'node:stream';

import FormData from 'form-data';
import type { IBinaryData, IExecuteFunctions, INode } from 'n8n-workflow';

import { appendAudioPart, readAudioInput } from '../../nodes/shared/binary';
import { wrapPcmAsWav } from '../../nodes/shared/audio';

const node: INode = { id: '1', name: 'Faseeh Voice Clone', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
const wav = wrapPcmAsWav(Buffer.alloc(4000, 1));

/** A small stand-in for n8n's execute context: only the binary helpers these functions call. */
function contextWith(binary: IBinaryData, bytes: Buffer) {
	const calls: string[] = [];
	const context = {
		getNode: () => node,
		getInputData: () => [{ json: {}, binary: { voice_file: binary } }],
		helpers: {
			assertBinaryData: () => binary,
			getBinaryMetadata: async () => {
				calls.push('getBinaryMetadata');
				return { fileSize: bytes.length, fileName: binary.fileName, mimeType: binary.mimeType };
			},
			getBinaryStream: async (_id: string, chunkSize?: number) => {
				calls.push(`getBinaryStream(${chunkSize ?? ''})`);
				return Readable.from([bytes], { objectMode: false });
			},
			getBinaryDataBuffer: async () => {
				calls.push('getBinaryDataBuffer');
				return bytes;
			},
		},
	} as unknown as IExecuteFunctions;
	return { context, calls };
}

const spec = { parameterLabel: 'Voice File Field', field: 'voice_file', maxBytes: 1024 * 1024 };

describe('reading binaries', () => {
	it('never buffers an id-backed binary: metadata for the size, a stream for the bytes', async () => {
		const binary: IBinaryData = { id: 'filesystem-v2:abc', data: 'filesystem-v2', mimeType: 'audio/wav', fileName: 'v.wav' };
		const { context, calls } = contextWith(binary, wav);
		const input = await readAudioInput.call(context, 0, spec);
		expect(input.buffer).toBeUndefined();
		expect(input.size).toBe(wav.length);
		const form = new FormData();
		await appendAudioPart.call(context, form, 'voice_file', input, 0);
		expect(calls).toEqual(['getBinaryMetadata', 'getBinaryStream(16)', 'getBinaryStream()']);
		// The known length lets form-data (and so axios) announce a Content-Length.
		expect(form.getLengthSync()).toBeGreaterThan(wav.length);
	});

	it('sends an in-memory binary from its buffer', async () => {
		const binary: IBinaryData = { data: wav.toString('base64'), mimeType: 'audio/wav', fileName: 'v.wav' };
		const { context, calls } = contextWith(binary, wav);
		const input = await readAudioInput.call(context, 0, spec);
		expect(input.buffer?.equals(wav)).toBe(true);
		await appendAudioPart.call(context, new FormData(), 'voice_file', input, 0);
		expect(calls).toEqual(['getBinaryDataBuffer']);
	});

	it('wraps headerless PCM as WAV before upload', async () => {
		const pcm = Buffer.alloc(480, 3);
		const binary: IBinaryData = { data: pcm.toString('base64'), mimeType: 'audio/raw;codec=pcm16;rate=16000;channels=1', fileName: 'p.pcm' };
		const { context } = contextWith(binary, pcm);
		const input = await readAudioInput.call(context, 0, spec);
		expect(input).toMatchObject({ mimeType: 'audio/wav', fileName: 'p.wav', size: 524 });
		expect(input.buffer?.readUInt32LE(24)).toBe(16000);
	});
});
