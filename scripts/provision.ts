/**
 * `npm run provision`: installs (or confirms) a pinned Node + n8n runtime used by the
 * end-to-end tests, printing progress. Safe to run repeatedly and concurrently.
 *
 *   --version <line>  which runtime (scripts/lib/runtime.ts RUNTIME_SPECS): 2.41.x (default),
 *                     1.123.x or 1.85.x; `--version all` provisions every one, in parallel.
 *   --write-lock      after provisioning, copy the runtime's package-lock.json into the spec's
 *                     committed lockfile (do this after changing the pinned versions in
 *                     scripts/lib/runtime.ts; delete the old lock first so the install resolves
 *                     afresh).
 */
import { ensureRuntime, runtimeCacheDir, runtimeSpec, RUNTIME_SPECS, writeRuntimeLockfile } from './lib/runtime';

function argValue(name: string): string | undefined {
	const i = process.argv.indexOf(name);
	return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
	const wanted = argValue('--version');
	const specs = wanted === 'all' ? [...RUNTIME_SPECS] : [runtimeSpec(wanted)];
	await Promise.all(
		specs.map(async (spec) => {
			const t0 = Date.now();
			const rt = await ensureRuntime({
				version: spec.line,
				log: (line) => process.stderr.write(`[runtime ${spec.n8nVersion}] ${line}\n`),
			});
			if (process.argv.includes('--write-lock')) {
				console.error(`[runtime ${spec.n8nVersion}] wrote ${writeRuntimeLockfile(spec)}`);
			}
			console.log(
				JSON.stringify({ ...rt, cacheDir: runtimeCacheDir(spec), seconds: (Date.now() - t0) / 1000 }, null, 2),
			);
		}),
	);
}

main().catch((err) => {
	console.error(`provision failed: ${err instanceof Error ? err.message : String(err)}`);
	process.exit(1);
});
