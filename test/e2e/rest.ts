/**
 * n8n's REST API as the signed-in owner uses it from the editor, for the end-to-end tests that drive
 * a running `n8n start`: sign-in session, JSON calls, the editor's node list, and running a saved
 * workflow the way *Execute workflow* does, then reading its execution back.
 */
import { createRequire } from 'node:module';
import * as path from 'node:path';

import type { Runtime } from '../../scripts/lib/runtime';

export interface Session {
	url: string;
	cookie: string;
	browserId: string;
}

/** n8n 1.x answers /healthz/readiness before its REST routes are mounted: wait for /rest/settings. */
export async function restReady(url: string): Promise<void> {
	const deadline = Date.now() + 120_000;
	for (;;) {
		const res = await fetch(`${url}/rest/settings`).catch(() => undefined);
		await res?.arrayBuffer();
		if (res?.status === 200) return;
		if (Date.now() > deadline) throw new Error(`${url}/rest/settings did not answer 200 within 120 s (last: HTTP ${res?.status})`);
		await new Promise((resolve) => setTimeout(resolve, 300));
	}
}

/** A REST call as the signed-in owner; returns n8n's `data` (throws on an HTTP error). */
export async function rest(s: Session, method: string, urlPath: string, body?: unknown): Promise<unknown> {
	const res = await fetch(`${s.url}${urlPath}`, {
		method,
		headers: { cookie: s.cookie, 'browser-id': s.browserId, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`${method} ${urlPath}: HTTP ${res.status} ${text.slice(0, 1000)}`);
	if (!text) return undefined;
	const parsed = JSON.parse(text) as { data?: unknown };
	return parsed.data;
}

/** The node types of `packageName` the editor would list (`/types/nodes.json`, regenerated on install). */
export async function packageTypes(s: Session, packageName: string): Promise<string[]> {
	// n8n rewrites the file right after an install or update: a read in the middle of that gets a
	// cut-off JSON (seen on 1.123.81), so read again until it parses.
	for (let attempt = 1; ; attempt++) {
		const res = await fetch(`${s.url}/types/nodes.json`, { headers: { cookie: s.cookie, 'browser-id': s.browserId } });
		if (!res.ok) throw new Error(`GET /types/nodes.json: HTTP ${res.status}`);
		const text = await res.text();
		let types: Array<{ name: string }>;
		try {
			types = JSON.parse(text) as Array<{ name: string }>;
		} catch (error) {
			if (attempt >= 20) throw error;
			await new Promise((resolve) => setTimeout(resolve, 500));
			continue;
		}
		return [...new Set(types.map((t) => t.name).filter((name) => name.startsWith(`${packageName}.`)))].sort();
	}
}

export interface WorkflowRun {
	id?: string;
	status: string;
	error?: string;
	/** The items a node put on its main output 0 in its last run. */
	output(node: string): Array<{ json: Record<string, unknown> }>;
	/** The error a node's last run ended with, if any. */
	nodeError(node: string): { message?: string; description?: string } | undefined;
}

/**
 * Runs a stored workflow as the owner (`POST /rest/workflows/:id/run`, what the editor's
 * *Execute workflow* sends) from its trigger `trigger`, and waits for the execution to finish.
 * A run n8n refuses to start comes back with status `refused`.
 */
export async function runWorkflow(s: Session, rt: Runtime, id: string, trigger = 'Start'): Promise<WorkflowRun> {
	const workflowData = await rest(s, 'GET', `/rest/workflows/${id}`);
	let started: { executionId?: string };
	try {
		started = (await rest(s, 'POST', `/rest/workflows/${id}/run`, { workflowData, triggerToStartFrom: { name: trigger } })) as { executionId?: string };
	} catch (error) {
		return { status: 'refused', error: (error as Error).message, output: () => [], nodeError: () => undefined };
	}
	if (!started?.executionId) throw new Error(`run of ${id} gave no execution id: ${JSON.stringify(started)}`);
	const deadline = Date.now() + 120_000;
	for (;;) {
		const execution = (await rest(s, 'GET', `/rest/executions/${started.executionId}`)) as { status?: string; finished?: boolean; stoppedAt?: string; data?: string };
		if (execution?.stoppedAt || ['success', 'error', 'crashed', 'canceled'].includes(execution?.status ?? '')) {
			const data = parseFlatted(rt, execution.data ?? '[{}]') as {
				resultData?: {
					error?: { message?: string };
					runData?: Record<string, Array<{ error?: { message?: string; description?: string }; data?: { main?: Array<Array<{ json: Record<string, unknown> }>> } }>>;
				};
			};
			const lastRun = (node: string) => {
				const runs = data.resultData?.runData?.[node] ?? [];
				return runs[runs.length - 1];
			};
			return {
				id: started.executionId,
				status: execution.status ?? 'unknown',
				error: data.resultData?.error?.message,
				output: (node) => lastRun(node)?.data?.main?.[0] ?? [],
				nodeError: (node) => lastRun(node)?.error,
			};
		}
		if (Date.now() > deadline) throw new Error(`execution ${started.executionId} did not finish in 120 s`);
		await new Promise((resolve) => setTimeout(resolve, 300));
	}
}

/** n8n stores execution data in `flatted` form; parse it with the flatted n8n itself ships. */
function parseFlatted(rt: Runtime, text: string): unknown {
	const flatted = createRequire(path.join(rt.n8nDir, 'package.json'))('flatted') as { parse(text: string): unknown };
	return flatted.parse(text);
}
