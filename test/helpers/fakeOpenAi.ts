/**
 * A small OpenAI-compatible server on loopback for the AI Agent test: it plays a model that
 * first calls the Faseeh tool with the arguments the test chose, then, once it sees the tool's
 * result, answers with a final message quoting that result verbatim.
 *
 * Speaks the Chat Completions API (`POST /v1/chat/completions`, plain JSON or `stream: true`
 * server-sent events) and `GET /v1/models`; anything else is a 404, a wrong key a 401, so a
 * misconfigured credential fails loudly instead of reaching api.openai.com.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatRequest {
	method: string;
	path: string;
	authorization?: string;
	body?: ChatBody;
}

export interface ChatTool {
	type: string;
	function: { name: string; description?: string; parameters?: { properties?: Record<string, unknown>; required?: string[] } };
}

interface ChatMessage {
	role: string;
	content?: string | Array<{ type: string; text?: string }> | null;
	tool_call_id?: string;
	tool_calls?: unknown[];
}

interface ChatBody {
	model?: string;
	messages?: ChatMessage[];
	tools?: ChatTool[];
	stream?: boolean;
}

export type FakeOpenAiOptions =
	| {
			apiKey: string;
			/** Picks the tool to call from the ones the agent offers. */
			toolName: RegExp;
			/** The arguments of the tool call (what the "model" decided). */
			toolArguments: Record<string, unknown>;
			/** The final answer, given the tool message's content. */
			finalAnswer: (toolResult: string) => string;
	  }
	| {
			apiKey: string;
			/** No tool: the model answers the last user message at once (the voice agent). */
			reply: (userMessage: string) => string;
	  };

export const TOOL_CALL_ID = 'call_faseeh_1';

export class FakeOpenAi {
	readonly requests: ChatRequest[] = [];
	private server?: http.Server;
	private port = 0;

	constructor(private readonly options: FakeOpenAiOptions) {}

	/** The value for the OpenAI credential's Base URL field. */
	get baseUrl(): string {
		return `http://127.0.0.1:${this.port}/v1`;
	}

	/** The chat completion requests, in order. */
	get completions(): ChatRequest[] {
		return this.requests.filter((request) => request.path === '/v1/chat/completions');
	}

	async start(): Promise<void> {
		this.server = http.createServer((req, res) => {
			const chunks: Buffer[] = [];
			req.on('data', (chunk: Buffer) => chunks.push(chunk));
			req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
		});
		await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
		this.port = (this.server.address() as AddressInfo).port;
	}

	async stop(): Promise<void> {
		if (!this.server) return;
		this.server.closeAllConnections();
		await new Promise<void>((resolve) => this.server!.close(() => resolve()));
	}

	private handle(req: http.IncomingMessage, text: string, res: http.ServerResponse) {
		const path = new URL(req.url ?? '/', 'http://fake.invalid').pathname;
		const record: ChatRequest = { method: req.method ?? 'GET', path, authorization: req.headers.authorization };
		this.requests.push(record);
		if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
			return sendJson(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } });
		}
		if (req.method === 'GET' && path === '/v1/models') {
			return sendJson(res, 200, { object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 1700000000, owned_by: 'fake' }] });
		}
		if (req.method !== 'POST' || path !== '/v1/chat/completions') {
			return sendJson(res, 404, { error: { message: `No route ${req.method} ${path}`, type: 'invalid_request_error' } });
		}
		try {
			record.body = JSON.parse(text) as ChatBody;
		} catch {
			return sendJson(res, 400, { error: { message: 'Invalid JSON body', type: 'invalid_request_error' } });
		}
		const body = record.body;
		const options = this.options;
		if ('reply' in options) {
			const users = (body.messages ?? []).filter((message) => message.role === 'user');
			const last = users.length > 0 ? contentText(users[users.length - 1].content) : '';
			return this.answer(res, body, { role: 'assistant', content: options.reply(last) });
		}
		const toolMessage = (body.messages ?? []).find((message) => message.role === 'tool' && message.tool_call_id === TOOL_CALL_ID);
		let message: Record<string, unknown>;
		if (toolMessage) {
			message = { role: 'assistant', content: options.finalAnswer(contentText(toolMessage.content)) };
		} else {
			const tool = (body.tools ?? []).find((candidate) => options.toolName.test(candidate.function?.name ?? ''));
			if (!tool) {
				const offered = (body.tools ?? []).map((candidate) => candidate.function?.name).join(', ');
				return sendJson(res, 400, { error: { message: `No tool matching ${options.toolName} among: ${offered}`, type: 'invalid_request_error' } });
			}
			message = {
				role: 'assistant',
				content: null,
				tool_calls: [{ id: TOOL_CALL_ID, type: 'function', function: { name: tool.function.name, arguments: JSON.stringify(options.toolArguments) } }],
			};
		}
		this.answer(res, body, message);
	}

	/** Sends one assistant message, as JSON or as server-sent events when the request streams. */
	private answer(res: http.ServerResponse, body: ChatBody, message: Record<string, unknown>) {
		const finishReason = message.tool_calls ? 'tool_calls' : 'stop';
		const id = `chatcmpl-fake-${this.requests.length}`;
		const created = Math.floor(Date.now() / 1000);
		const model = body.model ?? 'gpt-4o-mini';
		const usage = { prompt_tokens: 20, completion_tokens: 10, total_tokens: 30 };
		if (body.stream) {
			res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
			const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
				res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`);
			const toolCalls = message.tool_calls as Array<Record<string, unknown>> | undefined;
			chunk(toolCalls ? { role: 'assistant', content: null, tool_calls: toolCalls.map((call, index) => ({ index, ...call })) } : { role: 'assistant', content: message.content }, null);
			chunk({}, finishReason);
			res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`);
			res.end('data: [DONE]\n\n');
			return;
		}
		sendJson(res, 200, { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, finish_reason: finishReason }], usage });
	}
}

function contentText(content: ChatMessage['content']): string {
	if (typeof content === 'string') return content;
	return (content ?? []).map((part) => part.text ?? '').join('');
}

function sendJson(res: http.ServerResponse, status: number, body: unknown) {
	const text = JSON.stringify(body);
	res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
	res.end(text);
}
