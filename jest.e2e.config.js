/** End-to-end tests: the built package inside a real n8n (see test/e2e). Run by `npm run test:e2e`. */
const base = require('./jest.config');

module.exports = {
	...base,
	roots: ['<rootDir>/test/e2e'],
	testMatch: ['**/*.e2e.test.ts'],
	testPathIgnorePatterns: [],
	testTimeout: 10 * 60_000,
	maxWorkers: 1,
};
