/**
 * Runs the Faseeh sandbox as a dev server:
 *
 *   node -r ts-node/register/transpile-only test/sandbox/cli.ts \
 *     [--port 8787] [--key KEY] [--latency-ms N] [--max-concurrent N] [--retry-after N]
 *
 * Env: FASEEH_SANDBOX_PORT, FASEEH_SANDBOX_KEY (flags win). Logs one line per request
 * (method, path without query, status, ms); never logs request headers, so no received key.
 */
import { FaseehSandbox } from './FaseehSandbox';

interface CliOptions {
	port: number;
	key?: string;
	latencyMs?: number;
	maxConcurrent?: number;
	retryAfterSeconds?: number;
}

const USAGE =
	'Usage: cli.ts [--port 8787] [--key KEY] [--latency-ms N] [--max-concurrent N] [--retry-after N]';

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): CliOptions {
	const options: CliOptions = { port: 8787 };
	const integer = (flag: string, raw: string | undefined, min: number): number => {
		if (raw === undefined || !/^\d+$/.test(raw) || Number(raw) < min) {
			throw new Error(`${flag} needs an integer >= ${min}\n${USAGE}`);
		}
		return Number(raw);
	};
	if (env.FASEEH_SANDBOX_PORT) options.port = integer('FASEEH_SANDBOX_PORT', env.FASEEH_SANDBOX_PORT, 0);
	if (env.FASEEH_SANDBOX_KEY) options.key = env.FASEEH_SANDBOX_KEY;
	for (let i = 0; i < argv.length; i++) {
		const flag = argv[i];
		const value = argv[i + 1];
		switch (flag) {
			case '--port':
				options.port = integer(flag, value, 0);
				break;
			case '--key':
				if (!value) throw new Error(`--key needs a value\n${USAGE}`);
				options.key = value;
				break;
			case '--latency-ms':
				options.latencyMs = integer(flag, value, 0);
				break;
			case '--max-concurrent':
				options.maxConcurrent = integer(flag, value, 1);
				break;
			case '--retry-after':
				options.retryAfterSeconds = integer(flag, value, 0);
				break;
			case '--help':
			case '-h':
				console.log(USAGE);
				process.exit(0);
				break;
			default:
				throw new Error(`Unknown argument: ${flag}\n${USAGE}`);
		}
		i++; // every flag above takes one value
	}
	if (options.port > 65535) throw new Error('port must be <= 65535');
	return options;
}

async function main(): Promise<void> {
	const options = parseArgs(process.argv.slice(2), process.env);
	const sandbox = new FaseehSandbox({
		port: options.port,
		apiKey: options.key,
		latencyMs: options.latencyMs,
		maxConcurrent: options.maxConcurrent,
		retryAfterSeconds: options.retryAfterSeconds,
		// A long-running dev server must not accumulate every upload in memory.
		keepPartData: false,
		maxRecorded: 100,
		onRequestDone: (rec) => {
			const outcome = rec.status !== undefined ? String(rec.status) : 'aborted';
			console.log(`${new Date().toISOString()} ${rec.method} ${rec.path} ${outcome} ${rec.durationMs ?? 0}ms`);
		},
	});
	const url = await sandbox.start();
	console.log(`Faseeh sandbox listening on ${url}`);
	console.log(`API key: ${sandbox.apiKey}`);

	let stopping = false;
	const shutdown = (signal: string) => {
		if (stopping) return;
		stopping = true;
		console.log(`${signal} received, stopping`);
		sandbox.stop().then(
			() => process.exit(0),
			() => process.exit(1),
		);
	};
	process.on('SIGINT', () => shutdown('SIGINT'));
	process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: Error) => {
	console.error(err.message);
	process.exit(1);
});
