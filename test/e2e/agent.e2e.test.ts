/**
 * End-to-end: the Faseeh node as an AI Agent tool in a real n8n 2.41.1. The workflow is
 * examples/ai-agent-speech-tool.json with its Chat Trigger swapped for a Manual Trigger and a Set
 * node that feeds `chatInput` (a chat message cannot be sent to `n8n execute`); the AI Agent, the
 * OpenAI Chat Model and the Faseeh Speak tool are the example's nodes as shipped. The model's
 * credential points at a fake OpenAI server on loopback (test/helpers/fakeOpenAi.ts) that calls
 * the tool with arguments of its own, then quotes the tool's result; the tool runs against the
 * Faseeh sandbox.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
	createUserFolder,
	executeWorkflow,
	importCredentials,
	importWorkflow,
	installPackage,
	executionProblem,
	outputItem,
	removeUserFolder,
} from '../../scripts/lib/n8n';
import type { ExecuteResult } from '../../scripts/lib/n8n';
import { ensureRuntime } from '../../scripts/lib/runtime';
import type { Runtime } from '../../scripts/lib/runtime';
import type { FaseehSandbox } from '../sandbox/FaseehSandbox';
import { FakeOpenAi, TOOL_CALL_ID } from '../helpers/fakeOpenAi';
import { TEST_API_KEY, requestsTo, startSandbox } from '../helpers/faseeh';

const REPO = path.resolve(__dirname, '..', '..');
const OPENAI_TEST_KEY = `sk-test-${createHash('sha256').update('faseeh agent e2e').digest('hex').slice(0, 32)}`;
const CHAT_INPUT = 'Please greet our listeners out loud, in a female Hijazi voice.';
/** What the "model" decides to send to the tool: neither appears in the chat input or the example. */
const TOOL_ARGUMENTS = { text: 'أهلا وسهلا بكم يا مستمعينا الكرام', voice_id: 'ar-hijazi-female-1' };
const ANSWER_PREFIX = 'I spoke it with Faseeh. The tool returned: ';

let runtime: Runtime;
let sandbox: FaseehSandbox;
let openAi: FakeOpenAi;
let userFolder: string;
let result: ExecuteResult;
/** Everything n8n printed, searched for both keys at the end. */
const n8nOutput: string[] = [];

interface WorkflowNode {
	id: string;
	name: string;
	type: string;
	typeVersion: number;
	position: number[];
	parameters: Record<string, unknown>;
	credentials?: Record<string, { id: string; name: string }>;
}

type ToolData = { ai_tool: Array<Array<{ json: Record<string, unknown> }>> };

/** The example with a Manual Trigger → Set (chatInput) in place of its Chat Trigger. */
function agentTestWorkflow(): Record<string, unknown> {
	const example = JSON.parse(fs.readFileSync(path.join(REPO, 'examples', 'ai-agent-speech-tool.json'), 'utf8')) as {
		nodes: WorkflowNode[];
		connections: Record<string, { main?: Array<Array<{ node: string; type: string; index: number }>> }>;
	};
	const chatTrigger = example.nodes.find((node) => node.type === '@n8n/n8n-nodes-langchain.chatTrigger');
	if (!chatTrigger) throw new Error('the example has no Chat Trigger');
	const agentName = example.connections[chatTrigger.name].main![0][0].node;
	const nodes: WorkflowNode[] = example.nodes.filter((node) => node !== chatTrigger);
	const model = nodes.find((node) => node.type === '@n8n/n8n-nodes-langchain.lmChatOpenAi')!;
	model.credentials = { openAiApi: { id: 'openAiCredential1', name: 'Fake OpenAI' } };
	nodes.push(
		{ id: 'f0000000-0000-4000-8000-000000000001', name: 'Run Test', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [-400, 0], parameters: {} },
		{
			id: 'f0000000-0000-4000-8000-000000000002',
			name: 'Chat Input',
			type: 'n8n-nodes-base.set',
			typeVersion: 3.4,
			position: [-200, 0],
			parameters: {
				assignments: { assignments: [{ id: 'f0000000-0000-4000-8000-000000000003', name: 'chatInput', value: CHAT_INPUT, type: 'string' }] },
				options: {},
			},
		},
	);
	const connections: Record<string, unknown> = { ...example.connections };
	delete connections[chatTrigger.name];
	connections['Run Test'] = { main: [[{ node: 'Chat Input', type: 'main', index: 0 }]] };
	connections['Chat Input'] = { main: [[{ node: agentName, type: 'main', index: 0 }]] };
	return { ...example, id: 'faseehAgentE2e', name: 'Faseeh agent tool (e2e)', nodes, connections };
}

beforeAll(async () => {
	runtime = await ensureRuntime();
	sandbox = await startSandbox();
	openAi = new FakeOpenAi({
		apiKey: OPENAI_TEST_KEY,
		toolName: /faseeh/i,
		toolArguments: TOOL_ARGUMENTS,
		finalAnswer: (toolResult) => `${ANSWER_PREFIX}${toolResult}`,
	});
	await openAi.start();

	userFolder = await createUserFolder();
	await installPackage(userFolder, REPO);
	const credentials = await importCredentials(runtime, userFolder, [
		{ id: 'faseehCredential1', name: 'Faseeh API', type: 'faseehApi', data: { apiKey: TEST_API_KEY, baseUrl: sandbox.baseUrl } },
		{ id: 'openAiCredential1', name: 'Fake OpenAI', type: 'openAiApi', data: { apiKey: OPENAI_TEST_KEY, url: openAi.baseUrl } },
	]);
	const workflow = await importWorkflow(runtime, userFolder, agentTestWorkflow());
	result = await executeWorkflow(runtime, userFolder, 'faseehAgentE2e', { N8N_DEFAULT_BINARY_DATA_MODE: 'filesystem' });
	n8nOutput.push(credentials.stdout, credentials.stderr, workflow.stdout, workflow.stderr, result.stdout, result.stderr);
}, 30 * 60_000);

afterAll(async () => {
	await openAi?.stop();
	await sandbox?.stop();
	if (userFolder) await removeUserFolder(userFolder);
});

it('runs the agent: a tool call, then a final answer', () => {
	expect(executionProblem(result)).toBeUndefined();
	expect(openAi.requests.every((request) => request.authorization === `Bearer ${OPENAI_TEST_KEY}`)).toBe(true);
	const [first, second] = openAi.completions;
	expect(openAi.completions).toHaveLength(2);
	// The agent offered the Faseeh tool with the two $fromAI inputs of the example.
	const tool = first.body?.tools?.find((candidate) => /faseeh/i.test(candidate.function.name));
	expect(Object.keys(tool?.function.parameters?.properties ?? {}).sort()).toEqual(['text', 'voice_id']);
	expect(JSON.stringify(first.body?.messages)).toContain(CHAT_INPUT);
	// ... and sent its result back as the answer to our tool call.
	const toolMessages = (second.body?.messages ?? []).filter((message) => message.role === 'tool');
	expect(toolMessages.map((message) => message.tool_call_id)).toEqual([TOOL_CALL_ID]);
	// That result is exactly what the Faseeh Speak node output in n8n's run data.
	const toolRun = (result.runData?.['Faseeh Speak'] ?? []) as Array<{ inputOverride?: ToolData; data?: ToolData }>;
	expect(toolRun).toHaveLength(1);
	expect(toolRun[0].inputOverride?.ai_tool[0].map((item) => item.json)).toEqual([TOOL_ARGUMENTS]);
	expect(JSON.parse(String(toolMessages[0].content))).toEqual(toolRun[0].data?.ai_tool[0].map((item) => item.json));
});

it("the tool's input came from the model's arguments: one text-to-speech request with that text and voice", () => {
	const speech = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
	expect(sandbox.requests).toHaveLength(1);
	expect(speech).toHaveLength(1);
	expect(speech[0].status).toBe(200);
	expect(speech[0].headers['x-api-key']).toBe(TEST_API_KEY);
	expect(speech[0].json).toEqual({ ...TOOL_ARGUMENTS, stability: 0.5, streaming: false });
});

it("the agent's answer carries the tool's JSON, matching what the sandbox served", async () => {
	const answer = outputItem(result, 'AI Agent');
	const output = String(answer?.json.output);
	expect(output.startsWith(ANSWER_PREFIX)).toBe(true);
	const quoted = JSON.parse(output.slice(ANSWER_PREFIX.length)) as unknown;
	const toolJson = (Array.isArray(quoted) ? quoted[0] : quoted) as Record<string, unknown>;

	// The sandbox is deterministic: the same request gives the same WAV it served to the tool.
	const [served] = requestsTo(sandbox, 'POST', '/text-to-speech/faseeh-v1-preview');
	const response = await fetch(`${sandbox.baseUrl}/text-to-speech/faseeh-v1-preview`, {
		method: 'POST',
		headers: { 'content-type': 'application/json', 'x-api-key': TEST_API_KEY },
		body: JSON.stringify(served.json),
	});
	expect(response.status).toBe(200);
	const wav = Buffer.from(await response.arrayBuffer());
	const sentText = (served.json as { text: string }).text;
	expect(toolJson).toMatchObject({
		voice_id: (served.json as { voice_id: string }).voice_id,
		text: sentText,
		characters: [...sentText].length,
		fileSize: wav.length,
		mimeType: 'audio/wav',
	});
	// WAV data bytes / byte rate (header offset 28).
	expect(toolJson.durationSeconds).toBeCloseTo((wav.length - 44) / wav.readUInt32LE(28), 3);
	// No audio bytes reach the model.
	expect(output).not.toMatch(/UklGR|RIFF/);
});

it('neither API key appears in what n8n printed', () => {
	const everything = n8nOutput.join('\n');
	expect(everything).toContain('Faseeh');
	expect(everything).not.toContain(TEST_API_KEY);
	expect(everything).not.toContain(OPENAI_TEST_KEY);
});
