/**
 * One n8n process's worth of the shared account limiter, for test/wire/sharedLimiter.test.ts: a
 * child process (its own Redis connection, its own process id) that takes commands over IPC and
 * sends real HTTP requests to the sandbox the way the transport does (a slot per request, a 429
 * handed back with the maximum Faseeh named, waited out keeping its place).
 *
 * Settings come from the environment, as in n8n: FASEEH_LIMITER_REDIS_URL, N8N_ENCRYPTION_KEY,
 * FASEEH_LIMITER_LEASE_SECONDS.
 */
import { parseFaseehError } from '../../nodes/shared/transport/errors';
import { INTERACTIVE_TICKET, parseConcurrencyMaximum, takeTicket } from '../../nodes/shared/transport/limiter';
import type { LimiterPermit } from '../../nodes/shared/transport/limiter';
import { limiterFor, sharedLimiterHub } from '../../nodes/shared/transport/sharedLimiter';

export type ChildCommand =
	| { cmd: 'burst'; id: number; baseUrl: string; apiKey: string; plan?: number; count: number; credential?: string; interactive?: boolean; maxWaitMs?: number }
	| { cmd: 'hold'; id: number; baseUrl: string; apiKey: string; plan?: number; count: number; holdMs: number }
	| { cmd: 'waiters'; id: number; baseUrl: string; apiKey: string; plan?: number; cancelAfterMs: number; maxWaitMs: number }
	| { cmd: 'mode'; id: number }
	| { cmd: 'exit'; id: number };

export interface RequestRecord {
	enqueuedAt: number;
	admittedAt: number;
	endedAt: number;
	statuses: number[];
	interactive: boolean;
}

export interface ChildReply {
	id: number;
	ok: boolean;
	error?: string;
	records?: RequestRecord[];
	mode?: string;
	outcomes?: string[];
	/** The hub's process prefix: the start of every slot id this process takes. */
	prefix?: string;
	logs?: Array<{ level: string; message: string }>;
}

const logs: Array<{ level: string; message: string }> = [];
const logger = {
	debug: (message: string, meta?: Record<string, unknown>) => logs.push({ level: 'debug', message: `${message} ${meta ? JSON.stringify(meta) : ''}` }),
	warn: (message: string, meta?: Record<string, unknown>) => logs.push({ level: 'warn', message: `${message} ${meta ? JSON.stringify(meta) : ''}` }),
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function limiter(command: { baseUrl: string; apiKey: string; plan?: number; credential?: string }) {
	return limiterFor(command.baseUrl, command.apiKey, command.plan, Date.now(), command.credential ?? 'cred-1', logger);
}

/** One request as the transport sends it: a slot, the HTTP call, a 429 waited out in its place. */
async function request(command: { baseUrl: string; apiKey: string; plan?: number; credential?: string; interactive?: boolean; maxWaitMs?: number }): Promise<RequestRecord> {
	const ticket = command.interactive ? INTERACTIVE_TICKET : takeTicket();
	const record: RequestRecord = { enqueuedAt: Date.now(), admittedAt: 0, endedAt: 0, statuses: [], interactive: command.interactive === true };
	for (let attempt = 1; ; attempt++) {
		const account = limiter(command);
		const permit = await account.acquire(ticket, [AbortSignal.timeout(command.maxWaitMs ?? 120_000)]);
		record.admittedAt = Date.now();
		let status = 0;
		let body: unknown;
		try {
			const response = await fetch(`${command.baseUrl}/models`, { headers: { 'x-api-key': command.apiKey } });
			status = response.status;
			body = await response.json().catch(() => undefined);
		} catch {
			permit.release();
			record.statuses.push(0);
			await sleep(100);
			continue;
		}
		record.statuses.push(status);
		if (status === 429) {
			const { message, code } = parseFaseehError(body);
			permit.rateLimited(parseConcurrencyMaximum(message, code));
			await sleep(Math.min(1000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2));
			continue;
		}
		permit.succeeded();
		record.endedAt = Date.now();
		return record;
	}
}

async function handle(command: ChildCommand): Promise<ChildReply> {
	switch (command.cmd) {
		case 'burst': {
			const records = await Promise.all(Array.from({ length: command.count }, () => request(command)));
			return { id: command.id, ok: true, records, mode: sharedLimiterHub()?.mode };
		}
		case 'hold': {
			// Slots taken and kept (a long upload or transcription) without HTTP: the lease must hold them.
			const account = limiter(command);
			const permits: LimiterPermit[] = [];
			const records: RequestRecord[] = [];
			for (let i = 0; i < command.count; i++) {
				const enqueuedAt = Date.now();
				permits.push(await account.acquire(takeTicket()));
				records.push({ enqueuedAt, admittedAt: Date.now(), endedAt: 0, statuses: [], interactive: false });
			}
			process.send?.({ id: command.id, ok: true, records, mode: 'holding' } satisfies ChildReply);
			await sleep(command.holdMs);
			for (const [i, permit] of permits.entries()) {
				permit.succeeded();
				records[i].endedAt = Date.now();
			}
			return { id: -command.id, ok: true, records };
		}
		case 'waiters': {
			// One slot held; behind it one waiter cancelled and one that runs out of Max Wait; the
			// held permit is then ended three times over. Each must reach Redis exactly once.
			const account = limiter(command);
			const held = await account.acquire(takeTicket());
			const cancel = new AbortController();
			const cancelled = account.acquire(takeTicket(), [cancel.signal]).then(() => 'admitted', (error: Error) => error.name + ':' + error.message);
			const timedOut = account.acquire(takeTicket(), [AbortSignal.timeout(command.maxWaitMs)]).then(() => 'admitted', (error: Error) => error.name + ':' + error.message);
			await sleep(command.cancelAfterMs);
			cancel.abort();
			const outcomes = [await cancelled, await timedOut];
			held.release();
			held.release();
			held.succeeded();
			// Then the slot is there again, once: the next request gets it at once.
			const next = await account.acquire(takeTicket(), [AbortSignal.timeout(5_000)]);
			next.succeeded();
			await sleep(300);
			return { id: command.id, ok: true, outcomes, prefix: sharedLimiterHub()?.prefix };
		}
		case 'mode':
			return { id: command.id, ok: true, mode: sharedLimiterHub()?.mode, logs };
		case 'exit':
			await sharedLimiterHub()?.close();
			process.send?.({ id: command.id, ok: true } satisfies ChildReply, () => process.exit(0));
			return new Promise(() => undefined);
	}
}

process.on('message', (command: ChildCommand) => {
	handle(command).then(
		(reply) => process.send?.(reply),
		(error: Error) => process.send?.({ id: command.id, ok: false, error: `${error.name}: ${error.message}` } satisfies ChildReply),
	);
});
process.send?.({ id: 0, ok: true } satisfies ChildReply);
