/**
 * In-process harness that runs an n8n node through n8n-core's real execution engine.
 *
 * What is real (from n8n-core / n8n-workflow, not mocked):
 * - `WorkflowExecute.run()` over a two-node `Workflow` (fixture source -> node under test),
 *   so parameters, expressions, pairedItem, continueOnFail/onError and error handling are n8n's own.
 * - `ExecuteContext` helpers: assertBinaryData, getBinaryDataBuffer, getBinaryStream,
 *   getBinaryMetadata, prepareBinaryData, httpRequestWithAuthentication (which goes through
 *   `@n8n/backend-network`'s OutboundHttp, i.e. real axios over a real socket).
 * - `BinaryDataService` in `filesystem` mode (binaries get an `id`, bytes live in a temp dir)
 *   or `default` mode (base64 kept in the item, no `id`).
 * - `LoadOptionsContext` for `methods.loadOptions`.
 *
 * What the harness supplies itself (the parts n8n's CLI normally provides from its database):
 * - a credentials helper that returns fixture credentials and applies the credential type's
 *   `authenticate` exactly like packages/cli/src/credentials-helper.ts does;
 * - a tiny node-types registry;
 * - a minimal `IWorkflowExecuteAdditionalData`.
 *
 * The binary-data mode is process-global state in n8n (the `BinaryDataConfig`/`BinaryDataService`
 * singletons in the DI container), so runs in one mode run at once, as executions of one n8n
 * process do, and a run in another mode waits until they have all finished (see `withMode`).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';

// @n8n/di is n8n-core's own DI container (a dependency of n8n-core, hoisted into node_modules).
// It must be the very same module instance n8n-core uses, which it is (there is only one copy).
// It also loads `reflect-metadata`, which the decorated n8n services need.
import { Container } from '@n8n/di';
import {
	BinaryDataConfig,
	BinaryDataService,
	Credentials,
	ExecutionLifecycleHooks,
	ExternalSecretsProxy,
	LoadOptionsContext,
	WorkflowExecute,
	getAdditionalKeys,
} from 'n8n-core';
import {
	ICredentialsHelper,
	NodeHelpers,
	UnexpectedError,
	Workflow,
	isExpression,
	isNodeClassInstance,
} from 'n8n-workflow';
import type {
	ExecutionBaseError,
	ICredentialDataDecryptedObject,
	ICredentialType,
	ICredentials,
	IDataObject,
	IExecuteFunctions,
	IHttpRequestHelper,
	IHttpRequestOptions,
	INode,
	INodeCredentials,
	INodeCredentialsDetails,
	INodeExecutionData,
	INodeParameters,
	INodeProperties,
	INodePropertyOptions,
	INodeType,
	INodeTypes,
	IRequestOptionsSimplified,
	IRun,
	IWorkflowBase,
	IWorkflowExecuteAdditionalData,
	WorkflowExecuteMode,
} from 'n8n-workflow';

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export type BinaryMode = 'filesystem' | 'default';

export interface FixtureBinary {
	/**
	 * The bytes, or a function returning a fresh stream of them (e.g. `fs.createReadStream`), so
	 * a large file reaches n8n's binary store without being held in this process's memory.
	 */
	data: Buffer | (() => Readable);
	fileName?: string;
	mimeType?: string;
}

export interface FixtureItem {
	json?: IDataObject;
	binary?: Record<string, FixtureBinary>;
}

export interface RunNodeOptions {
	/** An instance, e.g. `new FaseehVoiceClone()`. */
	nodeType: INodeType;
	/** Registered type name; default `'n8n-nodes-faseeh.' + description.name`. */
	typeName?: string;
	/** Node parameters; may contain expressions such as `'={{ $json.text }}'`. */
	parameters: INodeParameters;
	/** Input items. Binaries become real n8n binaries via an upstream `prepareBinaryData` call. */
	items: FixtureItem[];
	/** Decrypted credential data by credential type name, e.g. `{ faseehApi: { apiKey, baseUrl } }`. */
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	/** Credential types used for defaults and `authenticate`, e.g. `[new FaseehApi()]`. */
	credentialTypes?: ICredentialType[];
	/** Binary data mode for this run; default `'filesystem'`. */
	binaryMode?: BinaryMode;
	/** The node's "On Error" setting. */
	onError?: 'stopWorkflow' | 'continueRegularOutput' | 'continueErrorOutput';
	/** When this settles, the execution is cancelled as n8n's Stop button does (WorkflowExecute's cancel). */
	cancelWhen?: Promise<unknown>;
}

export interface NodeRunResult {
	/** Output items of the node under test (main output 0). */
	items: INodeExecutionData[];
	/** All main outputs of the node under test (output 1 is the error output with `continueErrorOutput`). */
	outputs: INodeExecutionData[][];
	/** The error the node run ended with, if any (the real n8n error object when the node threw it). */
	error?: ExecutionBaseError | Error;
	/** The full run as returned by `WorkflowExecute.run()`, for anything not covered above. */
	run?: IRun;
	/** Read an output binary back through BinaryDataService (works for id-backed and in-memory). */
	binaryBuffer(item: INodeExecutionData, field: string): Promise<Buffer>;
}

export interface RunLoadOptionsOptions {
	nodeType: INodeType;
	/** Name of the function in `nodeType.methods.loadOptions`. */
	method: string;
	typeName?: string;
	/** The node's current parameters, as the editor would send them. */
	parameters?: INodeParameters;
	credentials?: Record<string, ICredentialDataDecryptedObject>;
	credentialTypes?: ICredentialType[];
	/** Path of the property being loaded (what the editor sends); default `'parameters'`. */
	path?: string;
}

/** Name of the node under test inside the harness workflow. */
export const NODE_UNDER_TEST = 'Node Under Test';
/** Name of the fixture source node inside the harness workflow. */
export const FIXTURE_SOURCE = 'Fixture Source';

export async function runNode(options: RunNodeOptions): Promise<NodeRunResult> {
	const mode = options.binaryMode ?? 'filesystem';
	return await withMode(mode, async (ready) => await runNodeNow(options, ready));
}

export async function runLoadOptions(
	options: RunLoadOptionsOptions,
): Promise<INodePropertyOptions[]> {
	return await withMode(EXCLUSIVE, async () => await runLoadOptionsNow(options));
}

/** Absolute path of an id-backed (filesystem mode) binary's bytes on disk. */
export function binaryFilePath(binaryDataId: string): string {
	return ensureSetup().service.getPath(binaryDataId);
}

/**
 * The real `BinaryDataService` the engine's helpers use (one per process), e.g. to spy on its
 * `getAsBuffer` and prove a node never reads a whole id-backed file.
 */
export function binaryDataService(): BinaryDataService {
	return ensureSetup().service;
}

/** Remove the temp directory (binary data + n8n user folder). Call from `afterAll`. */
export async function cleanupHarness(): Promise<void> {
	await withMode(EXCLUSIVE, async () => {
		if (state) {
			rmSync(state.rootDir, { recursive: true, force: true });
			state = undefined;
		}
	});
}

// ---------------------------------------------------------------------------------------------
// Process-level n8n setup
// ---------------------------------------------------------------------------------------------

interface HarnessState {
	rootDir: string;
	storageDir: string;
	config: BinaryDataConfig;
	service: BinaryDataService;
}

let state: HarnessState | undefined;

// n8n's Logger prints every node error (with stack) and the nodes' progress lines to stdout;
// expected failures in tests would flood the output. Run with N8N_LOG_LEVEL=warn (or debug) to
// see engine logs. Set when this module loads: the Logger reads its level once, when a test first
// gets it from the container, and a test that spies on it before its first run (longText.test.ts)
// got the default level, info, and printed every piece's progress.
process.env.N8N_LOG_LEVEL ??= 'silent';

function ensureSetup(): HarnessState {
	if (state) return state;

	const rootDir = mkdtempSync(path.join(tmpdir(), 'n8n-harness-'));
	const userFolder = path.join(rootDir, 'user');
	const storageDir = path.join(rootDir, 'storage');
	mkdirSync(userFolder, { recursive: true });
	mkdirSync(storageDir, { recursive: true });

	// Why: InstanceSettings (needed by BinaryDataConfig and the credential Cipher) reads and,
	// if missing, writes `<N8N_USER_FOLDER>/.n8n/config` with an encryption key. Point it at the
	// temp dir so tests never touch the developer's ~/.n8n. These are read when the config
	// singletons are first constructed, i.e. on the first Container.get below.
	process.env.N8N_USER_FOLDER = userFolder;
	process.env.N8N_BINARY_DATA_STORAGE_PATH = storageDir;
	const config = Container.get(BinaryDataConfig);
	// Set explicitly as well: after cleanupHarness() the singleton survives and needs the new dir.
	config.localStoragePath = storageDir;
	const service = Container.get(BinaryDataService);

	state = { rootDir, storageDir, config, service };
	return state;
}

/**
 * Select the binary data mode the way n8n does at startup: `BinaryDataConfig.mode` (env
 * N8N_DEFAULT_BINARY_DATA_MODE) followed by `BinaryDataService.init()`. `init()` always
 * (re)creates the filesystem manager, so ids from earlier filesystem runs stay readable.
 * The config singleton matters too: the engine's output conversion reads its `mode`.
 */
async function selectBinaryMode(mode: BinaryMode): Promise<HarnessState> {
	const current = ensureSetup();
	current.config.mode = mode;
	current.config.localStoragePath = current.storageDir;
	await current.service.init();
	return current;
}

const EXCLUSIVE = 'exclusive';
type Group = { mode: string; running: number; ready?: Promise<HarnessState> };
let group: Group | undefined;
const pending: Array<{ mode: string; start: (joined: Group) => void }> = [];

/**
 * Runs `fn` when the harness is in `mode`: at once beside other runs in the same mode (they share
 * one `BinaryDataService.init()`, made by the first of them), after every run of another mode has
 * finished, first come first served. EXCLUSIVE operations (load options, clean-up) run alone.
 */
async function withMode<T>(mode: string, fn: (ready: () => Promise<HarnessState>) => Promise<T>): Promise<T> {
	const joined = await new Promise<Group>((start) => {
		pending.push({ mode, start });
		admit();
	});
	const ready = () => (joined.ready ??= selectBinaryMode(mode as BinaryMode));
	try {
		return await fn(ready);
	} finally {
		joined.running--;
		if (joined.running === 0 && group === joined) group = undefined;
		admit();
	}
}

function admit(): void {
	while (pending.length > 0) {
		const next = pending[0];
		if (group && (group.mode !== next.mode || next.mode === EXCLUSIVE)) return;
		pending.shift();
		group ??= { mode: next.mode, running: 0 };
		group.running++;
		next.start(group);
	}
}

// ---------------------------------------------------------------------------------------------
// Node types
// ---------------------------------------------------------------------------------------------

class HarnessNodeTypes implements INodeTypes {
	constructor(private readonly types: Record<string, INodeType>) {}

	getByName(nodeType: string): INodeType {
		return this.getByNameAndVersion(nodeType);
	}

	getByNameAndVersion(nodeType: string, _version?: number): INodeType {
		const type = this.types[nodeType];
		if (!type) {
			throw new UnexpectedError(`Unknown node type "${nodeType}" in harness`);
		}
		return type;
	}

	getKnownTypes(): IDataObject {
		return {};
	}
}

const FIXTURE_SOURCE_TYPE = 'n8n-nodes-harness.fixtureSource';

/**
 * Test-only source node. It turns fixtures into real n8n binaries by calling
 * `this.helpers.prepareBinaryData`, exactly like a "Read File" or HTTP download node would, so in
 * filesystem mode the node under test receives id-backed binaries with bytes on disk.
 */
function createFixtureSourceNodeType(items: FixtureItem[]): INodeType {
	return {
		description: {
			displayName: 'Harness Fixture Source',
			name: 'fixtureSource',
			group: ['input'],
			version: 1,
			description: 'Emits harness fixture items',
			defaults: { name: FIXTURE_SOURCE },
			inputs: ['main'],
			outputs: ['main'],
			properties: [],
		},
		async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
			const output: INodeExecutionData[] = [];
			for (const fixture of items) {
				const item: INodeExecutionData = { json: { ...(fixture.json ?? {}) }, pairedItem: { item: 0 } };
				if (fixture.binary) {
					item.binary = {};
					for (const [field, bin] of Object.entries(fixture.binary)) {
						// Why the mimeType fallback: without a MIME type and without a file extension
						// n8n-core sniffs bytes with `await import('file-type')` (ESM), which a CommonJS
						// Jest runtime cannot load. Passing an explicit type keeps runs deterministic.
						const mimeType =
							bin.mimeType ?? (bin.fileName && path.extname(bin.fileName) ? undefined : 'application/octet-stream');
						const data = Buffer.isBuffer(bin.data) ? bin.data : bin.data();
						item.binary[field] = await this.helpers.prepareBinaryData(data, bin.fileName, mimeType);
					}
				}
				output.push(item);
			}
			return [output];
		},
	};
}

/**
 * Wrap the node under test to keep a reference to the error its `execute()` throws.
 * Why: WorkflowExecute stores node errors as plain spread copies (`{ ...error, message, stack }`),
 * which loses the prototype, so `instanceof NodeApiError` would fail on `runData[...].error`.
 * The wrapper inherits everything else (description, methods, ...) from the original instance.
 */
function withErrorCapture(nodeType: INodeType, sink: { error?: Error }): INodeType {
	const original = nodeType.execute;
	if (!original) return nodeType;
	const wrapper = Object.create(nodeType) as INodeType;
	const classInstance = isNodeClassInstance(nodeType);
	wrapper.execute = async function (this: IExecuteFunctions, ...args: unknown[]) {
		try {
			// n8n calls class-style nodes as `node.execute(context)` and classic ones as
			// `execute.call(context)`; mirror whichever form the engine used.
			return classInstance
				? await (original as (...a: unknown[]) => Promise<unknown>).apply(nodeType, args)
				: await (original as (...a: unknown[]) => Promise<unknown>).apply(this, args);
		} catch (error) {
			sink.error = error as Error;
			throw error;
		}
	} as INodeType['execute'];
	return wrapper;
}

function defaultTypeName(nodeType: INodeType): string {
	return `n8n-nodes-faseeh.${nodeType.description.name}`;
}

function latestVersion(nodeType: INodeType): number {
	const { version } = nodeType.description;
	return Array.isArray(version) ? Math.max(...version) : version;
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

/**
 * Credentials helper backed by fixture data instead of n8n's database. `getDecrypted` applies the
 * credential type's property defaults and resolves expressions like the CLI's
 * `applyDefaultsAndOverwrites`; `authenticate` is the CLI's algorithm (function or generic
 * headers/qs/body/auth with `$credentials` expressions resolved by the workflow's expression engine).
 */
export class HarnessCredentialsHelper extends ICredentialsHelper {
	private readonly types = new Map<string, ICredentialType>();

	constructor(
		private readonly data: Record<string, ICredentialDataDecryptedObject>,
		credentialTypes: ICredentialType[],
	) {
		super();
		for (const type of credentialTypes) this.types.set(type.name, type);
	}

	getParentTypes(_name: string): string[] {
		// No OAuth parents: the harness does not emulate OAuth1/OAuth2 token flows.
		return [];
	}

	isCredentialUsableByNode(credentialType: string, nodeType: string): boolean {
		const type = this.types.get(credentialType);
		if (!type?.restrictToSupportedNodes) return true;
		const shortName = nodeType.split('.').pop() ?? nodeType;
		return (type.supportedNodes ?? []).some((name) => name === nodeType || name === shortName);
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		requestOptions: IHttpRequestOptions | IRequestOptionsSimplified,
		workflow?: Workflow,
		node?: INode,
	): Promise<IHttpRequestOptions> {
		const credentialType = this.types.get(typeName);
		const authenticate = credentialType?.authenticate;
		if (!authenticate) return requestOptions as IHttpRequestOptions;

		if (typeof authenticate === 'function') {
			return await authenticate(credentials, requestOptions as IHttpRequestOptions);
		}

		if (!workflow || !node) {
			throw new UnexpectedError('Workflow and node are required for declarative credential authentication');
		}
		if (requestOptions.headers === undefined) requestOptions.headers = {};
		if (authenticate.type === 'generic') {
			const target = requestOptions as unknown as Record<string, Record<string, unknown> | undefined>;
			for (const [outerKey, outerValue] of Object.entries(authenticate.properties)) {
				for (const [key, value] of Object.entries(outerValue as Record<string, string>)) {
					const keyResolved = resolveCredentialValue(key, credentials, workflow, node);
					const valueResolved = resolveCredentialValue(value, credentials, workflow, node);
					target[outerKey] ??= {};
					target[outerKey][keyResolved] = valueResolved;
				}
			}
		}
		return requestOptions as IHttpRequestOptions;
	}

	async preAuthentication(
		_helpers: IHttpRequestHelper,
		_credentials: ICredentialDataDecryptedObject,
		_typeName: string,
		_node: INode,
		_credentialsExpired: boolean,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		return undefined;
	}

	async runPreAuthentication(
		_helpers: IHttpRequestHelper,
		_credentials: ICredentialDataDecryptedObject,
		_typeName: string,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		return undefined;
	}

	async getCredentials(nodeCredentials: INodeCredentialsDetails, type: string): Promise<ICredentials> {
		// A real (encrypted) n8n Credentials object holding the fixture data.
		const credentials = new Credentials({ id: nodeCredentials.id, name: nodeCredentials.name }, type);
		await credentials.setData(this.data[type] ?? {});
		return credentials;
	}

	async getDecrypted(
		additionalData: IWorkflowExecuteAdditionalData,
		_nodeCredentials: INodeCredentialsDetails,
		type: string,
		mode: WorkflowExecuteMode,
		executeData?: Parameters<ICredentialsHelper['getDecrypted']>[4],
		raw?: boolean,
		expressionResolveValues?: Parameters<ICredentialsHelper['getDecrypted']>[6],
	): Promise<ICredentialDataDecryptedObject> {
		const stored = this.data[type];
		if (stored === undefined) {
			throw new UnexpectedError(`No fixture credentials of type "${type}" were given to the harness`);
		}
		const original = structuredClone(stored);
		if (raw === true) return original;

		// Add credential-type defaults (e.g. a default baseUrl), as n8n does.
		const properties = this.getCredentialsProperties(type);
		let decrypted = (NodeHelpers.getNodeParameters(
			properties,
			original as INodeParameters,
			true,
			false,
			null,
			null,
		) ?? {}) as ICredentialDataDecryptedObject;
		// Keep keys the type does not declare (getNodeParameters drops them).
		decrypted = { ...original, ...decrypted };

		// Resolve expressions in credential values against the current item, as n8n does.
		if (expressionResolveValues) {
			decrypted = expressionResolveValues.workflow.expression.getParameterValue(
				decrypted as INodeParameters,
				expressionResolveValues.runExecutionData,
				expressionResolveValues.runIndex,
				expressionResolveValues.itemIndex,
				expressionResolveValues.node.name,
				expressionResolveValues.connectionInputData,
				mode,
				getAdditionalKeys(additionalData, mode, null, { isCredential: true }),
				executeData,
				false,
				decrypted,
			) as ICredentialDataDecryptedObject;
		}
		return decrypted;
	}

	async updateCredentials(
		_nodeCredentials: INodeCredentialsDetails,
		type: string,
		data: ICredentialDataDecryptedObject,
	): Promise<void> {
		this.data[type] = data;
	}

	async updateCredentialsOauthTokenData(
		_nodeCredentials: INodeCredentialsDetails,
		type: string,
		data: ICredentialDataDecryptedObject,
	): Promise<void> {
		this.data[type] = { ...(this.data[type] ?? {}), oauthTokenData: data.oauthTokenData };
	}

	getCredentialsProperties(type: string): INodeProperties[] {
		return this.types.get(type)?.properties ?? [];
	}
}

/** Same as the CLI's CredentialsHelper.resolveValue: `$credentials` expressions via the workflow. */
function resolveCredentialValue(
	value: string,
	credentials: ICredentialDataDecryptedObject,
	workflow: Workflow,
	node: INode,
): string {
	if (!isExpression(value)) return value;
	const resolved = workflow.expression.getSimpleParameterValue(
		node,
		value,
		'internal',
		{ $credentials: credentials },
		undefined,
		'',
	);
	if (!resolved) return '';
	return String(resolved);
}

function nodeCredentialsFor(credentials: Record<string, ICredentialDataDecryptedObject> | undefined): INodeCredentials | undefined {
	if (!credentials || Object.keys(credentials).length === 0) return undefined;
	const result: INodeCredentials = {};
	for (const type of Object.keys(credentials)) {
		result[type] = { id: `harness-${type}`, name: `Harness ${type}` };
	}
	return result;
}

// ---------------------------------------------------------------------------------------------
// Additional data
// ---------------------------------------------------------------------------------------------

let executionCounter = 0;

function notSupported(feature: string): never {
	throw new UnexpectedError(`${feature} is not supported by the n8n test harness`);
}

function createAdditionalData(
	credentialsHelper: ICredentialsHelper,
	executionId: string,
	workflowId: string,
	hooks?: ExecutionLifecycleHooks,
	currentNodeParameters?: INodeParameters,
): IWorkflowExecuteAdditionalData {
	const baseUrl = 'http://localhost:5678/';
	return {
		credentialsHelper,
		hooks,
		executionId,
		workflowId,
		currentNodeExecutionIndex: 0,
		currentNodeParameters,
		restApiUrl: `${baseUrl}rest`,
		instanceBaseUrl: baseUrl,
		formBaseUrl: `${baseUrl}form`,
		formWaitingBaseUrl: `${baseUrl}form-waiting`,
		formTestBaseUrl: `${baseUrl}form-test`,
		webhookBaseUrl: `${baseUrl}webhook`,
		webhookWaitingBaseUrl: `${baseUrl}webhook-waiting`,
		webhookTestBaseUrl: `${baseUrl}webhook-test`,
		mcpBaseUrl: `${baseUrl}mcp`,
		mcpTestBaseUrl: `${baseUrl}mcp-test`,
		variables: {},
		// Real proxy with no secrets manager: `$secrets` resolves to nothing, as on a fresh instance.
		externalSecretsProxy: Container.get(ExternalSecretsProxy),
		logAiEvent: () => {},
		executeWorkflow: async () => notSupported('Executing sub-workflows'),
		getRunExecutionData: async () => undefined,
		getRuntimeCredential: async () => undefined,
		startRunnerTask: async () => notSupported('Task runners (Code node)'),
	};
}

function workflowBase(id: string, nodes: INode[], connections: Workflow['connectionsBySourceNode']): IWorkflowBase {
	const now = new Date();
	return {
		id,
		name: 'n8n harness workflow',
		active: false,
		isArchived: false,
		activeVersionId: null,
		createdAt: now,
		updatedAt: now,
		nodes,
		connections,
	};
}

// ---------------------------------------------------------------------------------------------
// runNode
// ---------------------------------------------------------------------------------------------

async function runNodeNow(options: RunNodeOptions, ready: () => Promise<HarnessState>): Promise<NodeRunResult> {
	const { service } = await ready();

	const typeName = options.typeName ?? defaultTypeName(options.nodeType);
	const captured: { error?: Error } = {};
	const nodeTypes = new HarnessNodeTypes({
		[FIXTURE_SOURCE_TYPE]: createFixtureSourceNodeType(options.items),
		[typeName]: withErrorCapture(options.nodeType, captured),
	});

	const sourceNode: INode = {
		id: 'harness-source',
		name: FIXTURE_SOURCE,
		type: FIXTURE_SOURCE_TYPE,
		typeVersion: 1,
		position: [0, 0],
		parameters: {},
	};
	const nodeUnderTest: INode = {
		id: 'harness-node-under-test',
		name: NODE_UNDER_TEST,
		type: typeName,
		typeVersion: latestVersion(options.nodeType),
		position: [200, 0],
		// Copy: the Workflow constructor writes defaults into node.parameters.
		parameters: structuredClone(options.parameters),
	};
	const credentials = nodeCredentialsFor(options.credentials);
	if (credentials) nodeUnderTest.credentials = credentials;
	if (options.onError) nodeUnderTest.onError = options.onError;

	const connections = {
		[FIXTURE_SOURCE]: { main: [[{ node: NODE_UNDER_TEST, type: 'main' as const, index: 0 }]] },
	};
	executionCounter += 1;
	const workflowId = 'harness-workflow';
	const executionId = `harness-${process.pid}-${executionCounter}`;
	const workflow = new Workflow({
		id: workflowId,
		nodes: [sourceNode, nodeUnderTest],
		connections,
		active: false,
		nodeTypes,
		// v1 is the execution order of every workflow created in current n8n versions.
		settings: { executionOrder: 'v1' },
	});

	const credentialsHelper = new HarnessCredentialsHelper(
		structuredClone(options.credentials ?? {}),
		options.credentialTypes ?? [],
	);
	const hooks = new ExecutionLifecycleHooks(
		'manual',
		executionId,
		workflowBase(workflowId, [sourceNode, nodeUnderTest], connections),
	);
	const additionalData = createAdditionalData(credentialsHelper, executionId, workflowId, hooks);

	let run: IRun | undefined;
	let engineError: Error | undefined;
	try {
		const running = new WorkflowExecute(additionalData, 'manual').run({
			workflow,
			startNode: workflow.getNode(FIXTURE_SOURCE) ?? undefined,
		});
		void options.cancelWhen?.finally(() => running.cancel());
		run = await running;
	} catch (error) {
		// e.g. WorkflowHasIssuesError (a required parameter is missing) is thrown synchronously.
		engineError = error as Error;
	}

	const taskData = run?.data.resultData.runData[NODE_UNDER_TEST]?.[0];
	const outputs = (taskData?.data?.main ?? []).map((output) => output ?? []);
	const resultError = run?.data.resultData.error;
	const sourceError = run?.data.resultData.runData[FIXTURE_SOURCE]?.[0]?.error;

	return {
		items: outputs[0] ?? [],
		outputs,
		error: captured.error ?? engineError ?? taskData?.error ?? resultError ?? sourceError,
		run,
		binaryBuffer: async (item, field) => {
			const binary = item.binary?.[field];
			if (!binary) throw new UnexpectedError(`Output item has no binary field "${field}"`);
			return await service.getAsBuffer(binary);
		},
	};
}

// ---------------------------------------------------------------------------------------------
// runLoadOptions
// ---------------------------------------------------------------------------------------------

async function runLoadOptionsNow(options: RunLoadOptionsOptions): Promise<INodePropertyOptions[]> {
	ensureSetup();
	const method = options.nodeType.methods?.loadOptions?.[options.method];
	if (typeof method !== 'function') {
		throw new UnexpectedError(`Node type has no loadOptions method "${options.method}"`);
	}
	const typeName = options.typeName ?? defaultTypeName(options.nodeType);
	const parameters = structuredClone(options.parameters ?? {});

	// Same shape as the CLI's DynamicNodeParametersService: a one-node workflow named Temp-Node.
	const node: INode = {
		id: 'harness-temp-node',
		name: 'Temp-Node',
		type: typeName,
		typeVersion: latestVersion(options.nodeType),
		position: [0, 0],
		parameters: structuredClone(parameters),
	};
	const credentials = nodeCredentialsFor(options.credentials);
	if (credentials) node.credentials = credentials;

	const workflow = new Workflow({
		nodes: [node],
		connections: {},
		active: false,
		nodeTypes: new HarnessNodeTypes({ [typeName]: options.nodeType }),
	});
	const credentialsHelper = new HarnessCredentialsHelper(
		structuredClone(options.credentials ?? {}),
		options.credentialTypes ?? [],
	);
	executionCounter += 1;
	const additionalData = createAdditionalData(
		credentialsHelper,
		`harness-${process.pid}-${executionCounter}`,
		'harness-workflow',
		undefined,
		parameters,
	);
	const context = new LoadOptionsContext(workflow, node, additionalData, options.path ?? 'parameters');
	return await method.call(context);
}
