/**
 * The one module of this package that reads environment variables and files (docs/design.md,
 * "One plan across every worker"): where the shared account limiter finds n8n's Redis
 * and the secret every process of the instance shares. n8n's node rules forbid both in node code;
 * eslint.config.mjs and test/e2e/scanner.e2e.test.ts accept them in this file only.
 *
 * It reads exactly what n8n 2.41.1 reads for its own queue (`@n8n/config`: ScalingModeConfig,
 * InstanceSettingsConfig), with n8n's rules: a variable that is set wins over its `_FILE` form, the
 * file's text is trimmed; strings lose surrounding quotes; numbers that are empty keep the default;
 * booleans are `true`/`1` or `false`/`0`.
 */
import { readFileSync } from 'fs';

/** A Redis URL (redis:// or rediss://) for the shared limiter in any mode, or `off` to turn it off. */
export const OVERRIDE_VARIABLE = 'FASEEH_LIMITER_REDIS_URL';
/** How long a slot held by a process that stopped answering stays taken (seconds, default 15). */
export const LEASE_VARIABLE = 'FASEEH_LIMITER_LEASE_SECONDS';
export const DEFAULT_LEASE_SECONDS = 15;
const MIN_LEASE_SECONDS = 3;
const MAX_LEASE_SECONDS = 300;

export interface RedisConnectionSettings {
	/** FASEEH_LIMITER_REDIS_URL, when that is what is used. */
	url?: string;
	host: string;
	port: number;
	db: number;
	username: string;
	password: string;
	tls?: { servername?: string; rejectUnauthorized: boolean };
	/** QUEUE_BULL_REDIS_CLUSTER_NODES, parsed as n8n parses it. */
	clusterNodes: Array<{ host: string; port: number }>;
}

export interface SharedLimiterSettings {
	connection: RedisConnectionSettings;
	/** QUEUE_BULL_PREFIX (n8n's default `bull`): the limiter's keys start with `<prefix>:faseeh-limiter:`. */
	prefix: string;
	/** n8n's encryption key: the secret of the keyed hash that names an account in Redis. */
	secret: string;
	leaseMs: number;
	/** Where the limiter connects, for log lines: setting names and host:port, never a password. */
	where: string;
}

export type SharedLimiterChoice =
	| { shared: true; settings: SharedLimiterSettings }
	/** `reason` is logged (debug) once; `problem` is a configuration error worth a warning. */
	| { shared: false; reason: string; problem?: string };

type Env = Record<string, string | undefined>;

/** n8n's readEnv: the variable if set, else the trimmed content of the file its `_FILE` form names. */
function readSetting(env: Env, name: string): string | undefined {
	if (name in env) return env[name];
	const file = env[`${name}_FILE`];
	if (file) return readFileSync(file, 'utf8').trim();
	return undefined;
}

const normalise = (value: string) => value.trim().replace(/^(['"])(.*)\1$/, '$2');

function stringSetting(env: Env, name: string, fallback: string): string {
	const value = readSetting(env, name);
	return value === undefined ? fallback : normalise(value);
}

function numberSetting(env: Env, name: string, fallback: number): number {
	const value = readSetting(env, name);
	if (value === undefined || normalise(value) === '') return fallback;
	const parsed = Number(value);
	return Number.isNaN(parsed) ? fallback : parsed;
}

function booleanSetting(env: Env, name: string, fallback: boolean): boolean {
	const value = readSetting(env, name)?.toLowerCase();
	if (value === 'true' || value === '1') return true;
	if (value === 'false' || value === '0') return false;
	return fallback;
}

/**
 * The encryption key every process of an n8n instance shares: N8N_ENCRYPTION_KEY (or its _FILE
 * form), else `encryptionKey` in `<N8N_USER_FOLDER or HOME>/.n8n/config`, as n8n's
 * InstanceSettings reads it (n8n refuses to start with both set and different).
 */
function encryptionKey(env: Env): string | undefined {
	const fromEnv = stringSetting(env, 'N8N_ENCRYPTION_KEY', '');
	if (fromEnv) return fromEnv;
	const userHome = env.N8N_USER_FOLDER ?? env[process.platform === 'win32' ? 'USERPROFILE' : 'HOME'] ?? process.cwd();
	try {
		const config = JSON.parse(readFileSync(`${userHome.replace(/[\\/]+$/, '')}/.n8n/config`, 'utf8')) as { encryptionKey?: unknown };
		return typeof config.encryptionKey === 'string' && config.encryptionKey ? config.encryptionKey : undefined;
	} catch {
		return undefined;
	}
}

function leaseMs(env: Env): number {
	const seconds = numberSetting(env, LEASE_VARIABLE, DEFAULT_LEASE_SECONDS);
	return Math.round(Math.min(MAX_LEASE_SECONDS, Math.max(MIN_LEASE_SECONDS, seconds)) * 1000);
}

/** host:port as a log line shows it (brackets around IPv6). */
function hostPort(host: string, port: number): string {
	return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Whether this process shares its account limiter through Redis, and where. Shared in queue mode
 * (EXECUTIONS_MODE=queue, n8n's own Redis) and wherever FASEEH_LIMITER_REDIS_URL is set; nothing is
 * read beyond EXECUTIONS_MODE and FASEEH_LIMITER_REDIS_URL otherwise. Never throws: a setting that
 * cannot be read turns the shared limiter off with the reason.
 */
export function readSharedLimiterChoice(env: Env = process.env): SharedLimiterChoice {
	try {
		const override = stringSetting(env, OVERRIDE_VARIABLE, '');
		if (override.toLowerCase() === 'off') return { shared: false, reason: `${OVERRIDE_VARIABLE}=off` };
		const queueMode = stringSetting(env, 'EXECUTIONS_MODE', 'regular') === 'queue';
		if (!override && !queueMode) return { shared: false, reason: `regular mode and no ${OVERRIDE_VARIABLE}` };

		const secret = encryptionKey(env);
		if (!secret) {
			return {
				shared: false,
				reason: 'no encryption key',
				problem: `no N8N_ENCRYPTION_KEY and no encryptionKey in n8n's config file, so processes cannot name an account alike (set N8N_ENCRYPTION_KEY on every process)`,
			};
		}
		const prefix = stringSetting(env, 'QUEUE_BULL_PREFIX', 'bull');
		if (override) {
			let url: URL;
			try {
				url = new URL(override);
			} catch {
				return { shared: false, reason: 'bad URL', problem: `${OVERRIDE_VARIABLE} is not a URL (expected redis://host:port/db or rediss://…)` };
			}
			if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
				return { shared: false, reason: 'bad URL', problem: `${OVERRIDE_VARIABLE} must start with redis:// or rediss://, got ${url.protocol}//` };
			}
			const port = Number(url.port || 6379);
			const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
			return {
				shared: true,
				settings: {
					connection: { url: override, host, port, db: Number(url.pathname.slice(1) || 0), username: '', password: '', clusterNodes: [] },
					prefix,
					secret,
					leaseMs: leaseMs(env),
					where: `${OVERRIDE_VARIABLE} (${url.protocol}//${hostPort(host, port)})`,
				},
			};
		}

		const host = stringSetting(env, 'QUEUE_BULL_REDIS_HOST', 'localhost');
		const port = numberSetting(env, 'QUEUE_BULL_REDIS_PORT', 6379);
		const tls = booleanSetting(env, 'QUEUE_BULL_REDIS_TLS', false);
		const clusterNodes = stringSetting(env, 'QUEUE_BULL_REDIS_CLUSTER_NODES', '')
			.split(',')
			.filter((pair) => pair.trim().length > 0)
			.map((pair) => {
				const [nodeHost, nodePort] = pair.split(':');
				return { host: nodeHost, port: parseInt(nodePort) };
			});
		const where =
			clusterNodes.length > 0
				? `QUEUE_BULL_REDIS_CLUSTER_NODES (${clusterNodes.map((node) => hostPort(node.host, node.port)).join(', ')})`
				: `QUEUE_BULL_REDIS_HOST / QUEUE_BULL_REDIS_PORT (${hostPort(host, port)})`;
		return {
			shared: true,
			settings: {
				connection: {
					host,
					port,
					db: numberSetting(env, 'QUEUE_BULL_REDIS_DB', 0),
					username: stringSetting(env, 'QUEUE_BULL_REDIS_USERNAME', ''),
					password: stringSetting(env, 'QUEUE_BULL_REDIS_PASSWORD', ''),
					tls: tls
						? {
								servername: stringSetting(env, 'QUEUE_BULL_REDIS_TLS_SERVERNAME', '') || undefined,
								rejectUnauthorized: booleanSetting(env, 'QUEUE_BULL_REDIS_TLS_VALIDATE_CERTIFICATE', true),
							}
						: undefined,
					clusterNodes,
				},
				prefix,
				secret,
				leaseMs: leaseMs(env),
				where: `${where}${tls ? ' with QUEUE_BULL_REDIS_TLS' : ''}`,
			},
		};
	} catch (error) {
		// A _FILE that cannot be read: its message names the file, never a value.
		return { shared: false, reason: 'unreadable setting', problem: `a Redis setting could not be read: ${(error as Error).message}` };
	}
}
