/** Tests of the strict multipart/form-data parser, on bodies from fetch and built by hand. */
import { MultipartError, parseMultipart } from './multipart';
import { TEXT, wav, blob } from './testKit';

describe('parseMultipart', () => {
	const CT = 'multipart/form-data; boundary=XyZ';
	const parse = (body: string | Buffer, ct = CT) => parseMultipart(Buffer.from(body), ct);

	test('parses a body produced by fetch/FormData, keeping bytes exactly', async () => {
		// Binary content that contains CRLF and dashes, to prove only the real delimiter splits.
		const bin = Buffer.concat([wav(0.05), Buffer.from('\r\n--\r\n-- not a boundary\r\n'), Buffer.from([0, 255, 13, 10])]);
		const form = new FormData();
		form.append('text', TEXT);
		form.append('file', blob(bin, 'audio/wav'), 'voice.wav');
		const request = new Request('http://127.0.0.1/', { method: 'POST', body: form });
		const contentType = request.headers.get('content-type') ?? '';
		const body = Buffer.from(await request.arrayBuffer());

		const parts = parseMultipart(body, contentType);
		expect(parts.map((p) => p.name)).toEqual(['text', 'file']);
		expect(parts[0].filename).toBeUndefined();
		expect(parts[0].data.toString('utf8')).toBe(TEXT);
		expect(parts[1].filename).toBe('voice.wav');
		expect(parts[1].contentType).toBe('audio/wav');
		expect(parts[1].data.equals(bin)).toBe(true);
		expect(parts[1].headers['content-disposition']).toContain('name="file"');
	});

	test('ignores preamble and epilogue, accepts transport padding and a quoted boundary', () => {
		const boundary = "a'()+_,-./:=? b";
		const body =
			`This is the preamble\r\n--${boundary}  \r\n` +
			'content-disposition: form-data; name="a"\r\n\r\none\r\n' +
			`--${boundary}\r\nContent-Disposition: form-data; name="b"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n` +
			`--${boundary}--\r\nepilogue --${boundary}\r\n junk`;
		const parts = parse(body, `Multipart/Form-Data; boundary="${boundary}"; charset=utf-8`);
		expect(parts).toHaveLength(2);
		expect(parts[0]).toMatchObject({ name: 'a', headers: { 'content-disposition': 'form-data; name="a"' } });
		expect(parts[0].data.toString()).toBe('one');
		expect(parts[0].contentType).toBeUndefined();
		expect(parts[1]).toMatchObject({ name: 'b', filename: 'x.bin', contentType: 'application/octet-stream' });
		expect(parts[1].data.length).toBe(0);
	});

	test('filename="" is present-but-empty; quoted-pair escapes are decoded', () => {
		const parts = parse(
			'--XyZ\r\nContent-Disposition: form-data; name="f"; filename=""\r\n\r\nzz\r\n' +
				'--XyZ\r\nContent-Disposition: form-data; name="a\\"b"\r\n\r\nv\r\n--XyZ--',
		);
		expect(parts[0].filename).toBe('');
		expect(parts[1].name).toBe('a"b');
	});

	test('an empty form is zero parts', () => {
		expect(parse('--XyZ--\r\n')).toEqual([]);
	});

	test.each<[string, string, string]>([
		['not multipart', '--XyZ--', 'application/json'],
		['no boundary parameter', '--XyZ--', 'multipart/form-data'],
		['boundary longer than 70', '--XyZ--', `multipart/form-data; boundary=${'a'.repeat(71)}`],
		['unterminated quoted boundary', '--XyZ--', 'multipart/form-data; boundary="XyZ'],
		['duplicate content-type parameter', '--XyZ--', 'multipart/form-data; boundary=XyZ; boundary=XyZ'],
		['no opening boundary', 'hello', CT],
		['missing final boundary', '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n', CT],
		['ends right after a delimiter', '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--XyZ', CT],
		['LF-only framing', '--XyZ\nContent-Disposition: form-data; name="a"\n\nv\n--XyZ--\n', CT],
		['no headers', '--XyZ\r\n\r\nv\r\n--XyZ--', CT],
		['no content-disposition', '--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n--XyZ--', CT],
		['disposition not form-data', '--XyZ\r\nContent-Disposition: attachment; name="a"\r\n\r\nv\r\n--XyZ--', CT],
		['no name', '--XyZ\r\nContent-Disposition: form-data; filename="a.wav"\r\n\r\nv\r\n--XyZ--', CT],
		['empty name', '--XyZ\r\nContent-Disposition: form-data; name=""\r\n\r\nv\r\n--XyZ--', CT],
		['header without colon', '--XyZ\r\nContent-Disposition form-data\r\n\r\nv\r\n--XyZ--', CT],
		['folded header', '--XyZ\r\nContent-Disposition: form-data;\r\n name="a"\r\n\r\nv\r\n--XyZ--', CT],
		[
			'duplicate header',
			'--XyZ\r\nContent-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"\r\n\r\nv\r\n--XyZ--',
			CT,
		],
		['duplicate parameter', '--XyZ\r\nContent-Disposition: form-data; name="a"; name="b"\r\n\r\nv\r\n--XyZ--', CT],
		['filename*', "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename*=UTF-8''x.wav\r\n\r\nv\r\n--XyZ--", CT],
		[
			'base64 transfer encoding',
			'--XyZ\r\nContent-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64\r\n\r\ndg==\r\n--XyZ--',
			CT,
		],
		['unquoted non-token value', '--XyZ\r\nContent-Disposition: form-data; name=a/b\r\n\r\nv\r\n--XyZ--', CT],
		['boundary prefix inside content', '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--XyZabc\r\n--XyZ--', CT],
		['headers not terminated', '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n--XyZ--', CT],
	])('rejects: %s', (_label, body, ct) => {
		let caught: unknown;
		try {
			parse(body, ct);
		} catch (err) {
			caught = err;
		}
		expect(caught).toBeInstanceOf(MultipartError);
		expect((caught as MultipartError).code).toBe('MULTIPART_MALFORMED');
	});
});
