import { Readable } from 'node:stream';

import FormData from 'form-data';
import type { IBinaryData, IExecuteFunctions, INode } from 'n8n-workflow';

import { appendAudioPart, readAudioInput } from '../../nodes/shared/binary';
import { wrapPcmAsWav } from '../../nodes/shared/audio';

const node: INode = { id: '1', name: 'Faseeh Voice Clone', type: 'x', typeVersion: 1, position: [0, 0], parameters: {} };
const wav = wrapPcmAsWav(Buffer.alloc(4000, 1));

/**
 * A small stand-in for n8n's execute context: only the binary helpers these functions call.
 * `n8nBefore1115` gives getBinaryDataBuffer the signature of n8n-core before 1.114 (n8n 1.85 to
 * 1.114): `(itemIndex, propertyName)`, looked up as `binary[propertyName]` and then read with
 * BinaryDataService.getAsBuffer, which starts with `binaryData.id`.
 */
function contextWith(binary: IBinaryData, bytes: Buffer, n8nBefore1115 = false) {
	const calls: string[] = [];
	const items = [{ json: {}, binary: { voice_file: binary } as Record<string, IBinaryData> }];
	const getAsBuffer = async (binaryData: IBinaryData) => (binaryData.id ? bytes : Buffer.from(binaryData.data, 'base64'));
	const context = {
		getNode: () => node,
		getInputData: () => items,
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
			getBinaryDataBuffer: async (itemIndex: number, binaryOrName: IBinaryData | string) => {
				calls.push('getBinaryDataBuffer');
				if (n8nBefore1115) return await getAsBuffer(items[itemIndex].binary[binaryOrName as string]);
				return await getAsBuffer(binaryOrName as IBinaryData);
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
		expect(calls).toEqual(['getBinaryMetadata', 'getBinaryStream(4096)', 'getBinaryStream()']);
		// The known length lets form-data (and so axios) announce a Content-Length.
		expect(form.getLengthSync()).toBeGreaterThan(wav.length);
	});

	it('database mode: one whole read per item (n8n has no streaming read there), reused for the check and the upload', async () => {
		const binary: IBinaryData = { id: 'database:8c1f', data: 'database', mimeType: 'audio/wav', fileName: 'v.wav' };
		const { context, calls } = contextWith(binary, wav);
		const input = await readAudioInput.call(context, 0, spec);
		expect(input).toMatchObject({ size: wav.length, mimeType: 'audio/wav', format: 'wav' });
		expect(input.buffer?.equals(wav)).toBe(true);
		const form = new FormData();
		await appendAudioPart.call(context, form, 'voice_file', input, 0);
		await appendAudioPart.call(context, new FormData(), 'voice_file', input, 0); // a retry's body
		expect(calls).toEqual(['getBinaryStream()']);
	});

	it('sends an in-memory binary from its buffer, decoded from the item itself', async () => {
		const binary: IBinaryData = { data: wav.toString('base64'), mimeType: 'audio/wav', fileName: 'v.wav' };
		const { context, calls } = contextWith(binary, wav);
		const input = await readAudioInput.call(context, 0, spec);
		expect(input.buffer?.equals(wav)).toBe(true);
		await appendAudioPart.call(context, new FormData(), 'voice_file', input, 0);
		expect(calls).toEqual([]);
	});

	describe('on n8n before 1.115, where getBinaryDataBuffer takes the field name', () => {
		it('reads an in-memory binary (1.x default mode)', async () => {
			const binary: IBinaryData = { data: wav.toString('base64'), mimeType: 'audio/wav', fileName: 'v.wav' };
			const { context } = contextWith(binary, wav, true);
			const input = await readAudioInput.call(context, 0, spec);
			expect(input).toMatchObject({ mimeType: 'audio/wav', fileName: 'v.wav', size: wav.length });
			expect(input.buffer?.equals(wav)).toBe(true);
		});

		it('reads and wraps id-backed raw PCM through a stream', async () => {
			const pcm = Buffer.alloc(960, 5);
			const binary: IBinaryData = { id: 'filesystem-v2:pcm', data: 'filesystem-v2', mimeType: 'audio/raw;codec=pcm16;rate=24000;channels=1', fileName: 'p.pcm' };
			const { context, calls } = contextWith(binary, pcm, true);
			const input = await readAudioInput.call(context, 0, spec);
			expect(input).toMatchObject({ mimeType: 'audio/wav', fileName: 'p.wav', size: 44 + pcm.length });
			expect(input.buffer?.subarray(44).equals(pcm)).toBe(true);
			expect(calls).toEqual(['getBinaryMetadata', 'getBinaryStream()']);
		});
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
