/**
 * One test per catalogue case that no earlier test proves (docs/reliability.md, "Inputs" and
 * "API and network faults"). Cases with `provenBy` are proven by the test they name; the secrets
 * sweep (secrets.test.ts) runs them again.
 */
import { cleanupHarness } from '../harness/n8nHarness';
import { CATALOGUE_CASES, verifyCase } from './catalogue';
import type { CatalogueCase } from './catalogue';
import { startCaseContext } from './context';

let context: Awaited<ReturnType<typeof startCaseContext>>;
beforeAll(async () => {
	context = await startCaseContext();
});
afterAll(async () => {
	await context.stop();
	await cleanupHarness();
});

const newCases: Array<[string, CatalogueCase]> = CATALOGUE_CASES.filter((c) => !c.provenBy).map((c) => [`${c.id} ${c.title}`, c]);

it.each(newCases)('%s', async (_title, c) => {
	for (const binaryMode of c.binaryModes ?? ['filesystem']) {
		await verifyCase(c, context.forMode(binaryMode));
	}
});
