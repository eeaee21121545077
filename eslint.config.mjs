// n8n's rule sets for community nodes (the same ones @n8n/node-cli and the verification scanner
// apply), with exactly one exception: the design card keeps a short list of runtime dependencies:
// `form-data` so uploads stream from n8n's binary store (see docs/design.md, "Why form-data"), the
// two audio encoders (docs/design.md, "Audio encoders"), the two audio decoders (docs/design.md,
// "Audio decoders") and ioredis (docs/design.md, "One plan across every worker"), plus Node's own
// `stream` and `events` modules (NODE_BUILTINS). Two rules are wrapped so that only their reports
// about those are dropped; everything else they check still fails the lint.
import eslint from '@eslint/js';
import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';
import tseslint from 'typescript-eslint';

const CARD_RUNTIME_DEPENDENCIES = ['form-data', 'ioredis', 'mpg123-decoder', 'opus-decoder', 'opusscript', 'wasm-media-encoders'];
// Node's own stream and events modules: speech is written to n8n's binary store as a stream while it
// is encoded (bounded memory), and a batch's stop signal has many listeners. Both ship with Node.
const NODE_BUILTINS = ['stream', 'node:stream', 'events', 'node:events'];

/** A card dependency or a file inside one (opusscript's WebAssembly build: see nodes/shared/encode/opusNative.ts). */
const isCardDependency = (modulePath) =>
	typeof modulePath === 'string' && CARD_RUNTIME_DEPENDENCIES.some((name) => modulePath === name || modulePath.startsWith(`${name}/`));

// The shared account limiter's settings (docs/design.md, "One plan across every worker"): the one
// module that reads n8n's queue settings (QUEUE_BULL_REDIS_*, their _FILE forms, N8N_ENCRYPTION_KEY
// or n8n's config file). Only there, only `fs` and the `process` global are accepted.
const SETTINGS_MODULE = 'nodes/shared/transport/sharedLimiterSettings.ts';
const SETTINGS_MODULE_IMPORTS = ['fs'];
const SETTINGS_MODULE_GLOBALS = ['process'];
const isSettingsModule = (filename) => typeof filename === 'string' && filename.replace(/\\/g, '/').endsWith(`/${SETTINGS_MODULE}`);

/** Runs `rule` but drops the reports `isAllowed(report, filename)` accepts. */
function allowing(rule, isAllowed) {
	return {
		...rule,
		create(context) {
			const filename = context.filename ?? context.getFilename?.();
			const filtered = Object.create(context, {
				report: { value: (descriptor) => (isAllowed(descriptor, filename) ? undefined : context.report(descriptor)) },
			});
			return rule.create(filtered);
		},
	};
}

const communityRules = n8nCommunityNodesPlugin.rules;
const cardExceptions = {
	rules: {
		'no-restricted-imports': allowing(
			communityRules['no-restricted-imports'],
			(report, filename) =>
				isCardDependency(report.data?.modulePath) ||
				NODE_BUILTINS.includes(report.data?.modulePath) ||
				(isSettingsModule(filename) && SETTINGS_MODULE_IMPORTS.includes(report.data?.modulePath)),
		),
		'no-restricted-globals': allowing(
			communityRules['no-restricted-globals'],
			(report, filename) => isSettingsModule(filename) && SETTINGS_MODULE_GLOBALS.includes(report.data?.name),
		),
		'no-runtime-dependencies': allowing(communityRules['no-runtime-dependencies'], (report) => {
			const names = report.node?.value?.properties?.map((property) => property.key?.value) ?? [];
			return names.length > 0 && names.every((name) => CARD_RUNTIME_DEPENDENCIES.includes(name));
		}),
	},
};

const recommended = n8nCommunityNodesPlugin.configs.recommended;

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.cache/**', 'test-output/**', 'index.js', 'gulpfile.js', 'jest.config.js'] },
	{
		files: ['**/*.ts'],
		extends: [eslint.configs.recommended, tseslint.configs.recommended],
		rules: { 'prefer-spread': 'off' },
	},
	{
		files: ['nodes/**/*.ts', 'credentials/**/*.ts', 'package.json'],
		plugins: { ...recommended.plugins, 'n8n-nodes-base': n8nNodesBase, 'faseeh-card': cardExceptions },
		rules: {
			...recommended.rules,
			'no-console': 'error',
			'@n8n/community-nodes/no-restricted-imports': 'off',
			'@n8n/community-nodes/no-runtime-dependencies': 'off',
			'@n8n/community-nodes/no-restricted-globals': 'off',
			'faseeh-card/no-restricted-globals': 'error',
			'faseeh-card/no-restricted-imports': 'error',
			'faseeh-card/no-runtime-dependencies': 'error',
		},
	},
	{
		files: ['package.json'],
		languageOptions: { parser: tseslint.parser, parserOptions: { extraFileExtensions: ['.json'] } },
		rules: { ...n8nNodesBase.configs.community.rules },
	},
	{
		files: ['credentials/**/*.ts'],
		rules: {
			...n8nNodesBase.configs.credentials.rules,
			'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
		},
	},
	{
		files: ['nodes/**/*.ts'],
		rules: {
			...n8nNodesBase.configs.nodes.rules,
			'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
			'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
			'n8n-nodes-base/node-param-type-options-max-value-present': 'off',
		},
	},
	{
		// Tests, the sandbox and the dev scripts are tools, not node code: they may use process,
		// timers and the console.
		files: ['test/**/*.ts', 'scripts/**/*.ts'],
		rules: {
			'@typescript-eslint/no-require-imports': 'off',
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
		},
	},
);
