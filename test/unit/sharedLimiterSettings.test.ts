/**
 * Where the shared limiter finds Redis and its secret: n8n 2.41.1's own rules for the queue settings
 * (@n8n/config: a set variable wins over its _FILE form, file text trimmed, quotes dropped, empty
 * numbers keep the default, booleans true/1 false/0) and for the encryption key.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readSharedLimiterChoice } from '../../nodes/shared/transport/sharedLimiterSettings';
import type { SharedLimiterSettings } from '../../nodes/shared/transport/sharedLimiterSettings';

let dir: string;
beforeAll(() => {
	dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faseeh-settings-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function shared(env: Record<string, string>): SharedLimiterSettings {
	const choice = readSharedLimiterChoice({ N8N_USER_FOLDER: dir, ...env });
	if (!choice.shared) throw new Error(`not shared: ${choice.reason} ${choice.problem ?? ''}`);
	return choice.settings;
}

it('regular mode without the override: off, and nothing else is read', () => {
	const choice = readSharedLimiterChoice({ QUEUE_BULL_REDIS_HOST: 'redis', QUEUE_BULL_REDIS_PASSWORD_FILE: '/does/not/exist' });
	expect(choice).toEqual({ shared: false, reason: 'regular mode and no FASEEH_LIMITER_REDIS_URL' });
});

it("queue mode: n8n's defaults (localhost:6379, db 0, prefix bull, no TLS), lease 15 s", () => {
	const settings = shared({ EXECUTIONS_MODE: 'queue', N8N_ENCRYPTION_KEY: 'k' });
	expect(settings).toEqual({
		connection: { host: 'localhost', port: 6379, db: 0, username: '', password: '', tls: undefined, clusterNodes: [] },
		prefix: 'bull',
		secret: 'k',
		leaseMs: 15_000,
		where: 'QUEUE_BULL_REDIS_HOST / QUEUE_BULL_REDIS_PORT (localhost:6379)',
	});
});

it('_FILE forms are read and trimmed, a set variable wins over its _FILE, quotes are dropped', () => {
	const passwordFile = path.join(dir, 'password');
	fs.writeFileSync(passwordFile, '  from-file \n');
	const settings = shared({
		EXECUTIONS_MODE: '"queue"',
		N8N_ENCRYPTION_KEY: 'k',
		QUEUE_BULL_REDIS_HOST: "'redis.internal'",
		QUEUE_BULL_REDIS_PORT: '6380',
		QUEUE_BULL_REDIS_DB: '',
		QUEUE_BULL_REDIS_PASSWORD_FILE: passwordFile,
		QUEUE_BULL_REDIS_USERNAME: 'user',
		QUEUE_BULL_REDIS_USERNAME_FILE: '/does/not/exist',
		QUEUE_BULL_REDIS_TLS: '1',
		QUEUE_BULL_REDIS_TLS_VALIDATE_CERTIFICATE: 'false',
		QUEUE_BULL_PREFIX: 'n8nq',
	});
	expect(settings.connection).toEqual({
		host: 'redis.internal',
		port: 6380,
		db: 0,
		username: 'user',
		password: 'from-file',
		tls: { servername: undefined, rejectUnauthorized: false },
		clusterNodes: [],
	});
	expect(settings.prefix).toBe('n8nq');
	expect(settings.where).toBe('QUEUE_BULL_REDIS_HOST / QUEUE_BULL_REDIS_PORT (redis.internal:6380) with QUEUE_BULL_REDIS_TLS');
	expect(settings.where).not.toContain('from-file');
});

it('cluster nodes as n8n parses them', () => {
	const settings = shared({ EXECUTIONS_MODE: 'queue', N8N_ENCRYPTION_KEY: 'k', QUEUE_BULL_REDIS_CLUSTER_NODES: 'r1:7000, r2:7001,' });
	expect(settings.connection.clusterNodes).toEqual([
		{ host: 'r1', port: 7000 },
		{ host: ' r2', port: 7001 },
	]);
});

it("the encryption key from n8n's config file when N8N_ENCRYPTION_KEY is not set", () => {
	fs.mkdirSync(path.join(dir, '.n8n'), { recursive: true });
	fs.writeFileSync(path.join(dir, '.n8n', 'config'), JSON.stringify({ encryptionKey: 'from-config-file' }));
	expect(shared({ EXECUTIONS_MODE: 'queue' }).secret).toBe('from-config-file');
	expect(shared({ EXECUTIONS_MODE: 'queue', N8N_ENCRYPTION_KEY: 'from-env' }).secret).toBe('from-env');
	fs.rmSync(path.join(dir, '.n8n'), { recursive: true });
	expect(readSharedLimiterChoice({ EXECUTIONS_MODE: 'queue', N8N_USER_FOLDER: dir })).toMatchObject({ shared: false, problem: expect.stringContaining('N8N_ENCRYPTION_KEY') });
});

it('FASEEH_LIMITER_REDIS_URL: any mode, named without its password; "off" turns the shared limiter off; bad URLs are refused', () => {
	const settings = shared({ FASEEH_LIMITER_REDIS_URL: 'rediss://me:p%40ss@cache.example:6390/2', N8N_ENCRYPTION_KEY: 'k', FASEEH_LIMITER_LEASE_SECONDS: '1' });
	expect(settings.connection).toMatchObject({ url: 'rediss://me:p%40ss@cache.example:6390/2', host: 'cache.example', port: 6390, db: 2 });
	expect(settings.where).toBe('FASEEH_LIMITER_REDIS_URL (rediss://cache.example:6390)');
	expect(settings.leaseMs).toBe(3_000);
	expect(readSharedLimiterChoice({ EXECUTIONS_MODE: 'queue', FASEEH_LIMITER_REDIS_URL: 'off' })).toEqual({ shared: false, reason: 'FASEEH_LIMITER_REDIS_URL=off' });
	expect(readSharedLimiterChoice({ FASEEH_LIMITER_REDIS_URL: 'http://x', N8N_ENCRYPTION_KEY: 'k' })).toMatchObject({ shared: false, problem: expect.stringContaining('redis://') });
});

it('an unreadable _FILE turns the shared limiter off with the reason (never throws)', () => {
	const choice = readSharedLimiterChoice({ EXECUTIONS_MODE: 'queue', N8N_ENCRYPTION_KEY: 'k', QUEUE_BULL_REDIS_PASSWORD_FILE: path.join(dir, 'missing') });
	expect(choice).toMatchObject({ shared: false, problem: expect.stringContaining('missing') });
});
