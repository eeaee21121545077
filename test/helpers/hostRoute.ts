/**
 * Reaches the real Faseeh and Munsit host names (`https://api.munsit.com/api/v1`, …) on this
 * machine, the way n8n reaches any host behind a company proxy: n8n (or n8n-core in the wire
 * tests) is given `HTTPS_PROXY`, this proxy answers its CONNECT for a listed host, terminates TLS
 * with a certificate for that name signed by a throwaway test CA, and passes the plain HTTP on to
 * the sandbox serving that host. The client still checks the certificate and the host name; it is
 * only told to trust the test CA (`NODE_EXTRA_CA_CERTS` for a real n8n process, trustTestCa() in
 * process). A CONNECT for any other host is refused (403) and recorded, so nothing leaves the
 * machine.
 *
 * Needs the `openssl` CLI (as test/wire/tls.test.ts does).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
// The module object itself (a default import), so trustTestCa() can replace its createSecureContext.
import tls from 'node:tls';

/** The hosts of the Faseeh API credential's choices (nodes/shared/transport/baseUrl.ts). */
export const MUNSIT_HOST = 'api.munsit.com';
export const FASEEH_GLOBAL_HOST = 'api.faseeh.ai';
export const FASEEH_UAE_HOST = 'ae.api.faseeh.ai';

/** Node's own, kept to undo trustTestCa(). */
const createSecureContext = tls.createSecureContext;

export interface HostRoute {
	/** `http://127.0.0.1:<port>`: use as HTTPS_PROXY. */
	proxyUrl: string;
	/** The test CA's certificate (PEM file), for NODE_EXTRA_CA_CERTS. */
	caFile: string;
	/** The test CA's certificate (PEM text). */
	caPem: string;
	/** Every CONNECT target the proxy accepted (`host:port`), in order. */
	connects: string[];
	/** Every CONNECT target it refused, in order. */
	refused: string[];
	stop(): Promise<void>;
}

/**
 * Starts the proxy. `routes` maps a host name to the loopback port of the plain-HTTP server that
 * answers for it (a sandbox's port).
 */
export async function startHostRoute(routes: Record<string, number>): Promise<HostRoute> {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-hosts-'));
	const { caPem, keyPem, certPem } = makeCertificates(dir, Object.keys(routes));
	const caFile = path.join(dir, 'ca.pem');
	const connects: string[] = [];
	const refused: string[] = [];
	const sockets = new Set<net.Socket>();
	const track = (socket: net.Socket) => {
		sockets.add(socket);
		socket.on('close', () => sockets.delete(socket));
	};

	const terminator = tls.createServer({ key: keyPem, cert: certPem });
	terminator.on('secureConnection', (clear: tls.TLSSocket) => {
		const port = routes[String((clear as tls.TLSSocket & { servername?: string | false }).servername || '')];
		if (!port) {
			clear.destroy();
			return;
		}
		const upstream = net.connect(port, '127.0.0.1');
		track(upstream);
		clear.pipe(upstream).pipe(clear);
		const end = () => {
			clear.destroy();
			upstream.destroy();
		};
		clear.on('error', end);
		upstream.on('error', end);
	});
	terminator.on('tlsClientError', () => undefined);

	const proxy = http.createServer((_req, res) => {
		res.writeHead(403, { connection: 'close' }).end('plain http is not routed by the test proxy\n');
	});
	proxy.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
		track(socket);
		socket.on('error', () => socket.destroy());
		const target = req.url ?? '';
		const host = target.replace(/:\d+$/, '');
		if (!(host in routes) || !target.endsWith(':443')) {
			refused.push(target);
			socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
			return;
		}
		connects.push(target);
		socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
		if (head.length > 0) socket.unshift(head);
		terminator.emit('connection', socket);
	});
	const port = await new Promise<number>((resolve, reject) => {
		proxy.once('error', reject);
		proxy.listen(0, '127.0.0.1', () => resolve((proxy.address() as net.AddressInfo).port));
	});

	return {
		proxyUrl: `http://127.0.0.1:${port}`,
		caFile,
		caPem,
		connects,
		refused,
		stop: async () => {
			for (const socket of sockets) socket.destroy();
			await new Promise<void>((resolve) => proxy.close(() => resolve()));
			fs.rmSync(dir, { recursive: true, force: true });
		},
	};
}

/** The test CAs this process trusts now (each route has its own). */
const trusted = new Set<string>();

/**
 * Makes this process trust a test CA as well as the usual roots (what NODE_EXTRA_CA_CERTS does
 * for a process started with it): TLS contexts created without a `ca` of their own get the public
 * roots plus the trusted test CAs. Certificate and host-name checks stay on. Returns the undo.
 */
export function trustTestCa(caPem: string): () => void {
	trusted.add(caPem);
	tls.createSecureContext = (options: tls.SecureContextOptions = {}) =>
		createSecureContext(options.ca ? options : { ...options, ca: [...tls.rootCertificates, ...trusted] });
	return () => {
		trusted.delete(caPem);
		if (trusted.size === 0) tls.createSecureContext = createSecureContext;
	};
}

/** A CA valid for two days and one server certificate for `hosts`, signed by it. */
function makeCertificates(dir: string, hosts: string[]): { caPem: string; keyPem: string; certPem: string } {
	const file = (name: string) => path.join(dir, name);
	const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
	run([
		'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=n8n-nodes-faseeh test CA',
		'-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
		'-keyout', file('ca.key'), '-out', file('ca.pem'),
	]);
	fs.writeFileSync(
		file('leaf.cnf'),
		[
			'[leaf]',
			`subjectAltName=${hosts.map((host) => `DNS:${host}`).join(',')}`,
			'basicConstraints=CA:FALSE',
			'keyUsage=digitalSignature,keyEncipherment',
			'extendedKeyUsage=serverAuth',
			'',
		].join('\n'),
	);
	run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${hosts[0]}`, '-keyout', file('leaf.key'), '-out', file('leaf.csr')]);
	run([
		'x509', '-req', '-in', file('leaf.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
		'-days', '2', '-extfile', file('leaf.cnf'), '-extensions', 'leaf', '-out', file('leaf.pem'),
	]);
	const read = (name: string) => fs.readFileSync(file(name), 'utf8');
	const certificates = { caPem: read('ca.pem'), keyPem: read('leaf.key'), certPem: read('leaf.pem') };
	// Only the CA certificate stays on disk (for NODE_EXTRA_CA_CERTS); no private key does.
	for (const name of ['ca.key', 'leaf.key', 'leaf.csr', 'leaf.pem', 'leaf.cnf', 'ca.srl']) fs.rmSync(file(name), { force: true });
	return certificates;
}
