/**
 * `npm run provision`: installs (or confirms) the pinned Node 24 + n8n runtime used by
 * the end-to-end tests, printing progress. Safe to run repeatedly and concurrently.
 *
 *   --write-lock   after provisioning, copy the runtime's package-lock.json into
 *                  scripts/lib/n8n-runtime.package-lock.json (do this after changing the
 *                  pinned versions in scripts/lib/runtime.ts; delete the old lock first so
 *                  the install resolves afresh).
 */
import { ensureRuntime, runtimeCacheDir, writeRuntimeLockfile } from './lib/runtime';

async function main() {
	const t0 = Date.now();
	const rt = await ensureRuntime();
	if (process.argv.includes('--write-lock')) {
		console.error(`[runtime] wrote ${writeRuntimeLockfile()}`);
	}
	console.log(
		JSON.stringify({ ...rt, cacheDir: runtimeCacheDir(), seconds: (Date.now() - t0) / 1000 }, null, 2),
	);
}

main().catch((err) => {
	console.error(`provision failed: ${err instanceof Error ? err.message : String(err)}`);
	process.exit(1);
});
