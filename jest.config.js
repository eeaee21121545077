/**
 * The audio decoders the nodes load with import() (opus-decoder, mpg123-decoder and the package
 * they share) are ES modules. The nodes run as CommonJS here as in n8n, and Jest's module system
 * cannot load an ES module from CommonJS, so Jest compiles those packages' own files to CommonJS
 * (TypeScript's transpiler, nothing else changed). In n8n, Node.js loads them as they ship.
 */
const ESM_PACKAGES = ['opus-decoder', 'mpg123-decoder', '@wasm-audio-decoders/common', 'simple-yenc'];

/** @type {import('jest').Config} */
module.exports = {
	// Node's environment, with console output printed only for failed tests (see the file).
	testEnvironment: '<rootDir>/test/helpers/quietEnvironment.ts',
	roots: ['<rootDir>/test'],
	testMatch: ['**/*.test.ts'],
	// The end-to-end suite needs a real n8n: it has its own config (jest.e2e.config.js).
	testPathIgnorePatterns: ['/node_modules/', '/test/e2e/'],
	transform: {
		'^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json' }],
		[`/node_modules/(${ESM_PACKAGES.join('|')})/.+\\.js$`]: [
			'ts-jest',
			{ tsconfig: { allowJs: true, module: 'commonjs', target: 'es2021', esModuleInterop: true }, isolatedModules: true },
		],
	},
	transformIgnorePatterns: [`/node_modules/(?!(${ESM_PACKAGES.join('|')})/)`],
	setupFilesAfterEnv: ['<rootDir>/test/helpers/setup.ts'],
	testTimeout: 60000,
};
