/**
 * A local fake of Anthropic's Messages API on a real socket: the SSE streaming protocol
 * (message_start, content blocks with text_delta and input_json_delta, message_delta with the
 * stop reason, message_stop), its error responses (429 rate_limit_error, 529 overloaded_error),
 * a mid-stream `error` event and a dropped connection. Tests script it over HTTP
 * (client.ts), so tests inside workerd can drive it too.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { chunkText, type RecordedRequest, ScriptSchema, type Step } from "./script.ts";

export interface FakeAnthropic {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface Script {
  match: string;
  steps: Step[];
  requests: RecordedRequest[];
}

const ERROR_TYPES = { 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error" } as const;

export async function startFakeAnthropic(
  options: { port?: number; apiKey?: string } = {},
): Promise<FakeAnthropic> {
  const apiKey = options.apiKey ?? "test-anthropic-key";
  const scripts: Script[] = [];
  let ids = 0;

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? "/", "http://fake");
      if (url.pathname === "/_fake/scripts" && req.method === "POST") {
        const script = ScriptSchema.parse(JSON.parse(await readBody(req)));
        const existing = scripts.find((s) => s.match === script.match);
        if (existing) existing.steps.push(...script.steps);
        else scripts.push({ ...script, requests: [] });
        return json(res, 200, { ok: true });
      }
      if (url.pathname === "/_fake/requests" && req.method === "GET") {
        const script = scripts.find((s) => s.match === url.searchParams.get("match"));
        return json(res, 200, script?.requests ?? []);
      }
      if (url.pathname !== "/v1/messages" || req.method !== "POST") {
        return apiError(res, 404, "not_found_error", `No route ${req.method} ${url.pathname}`);
      }
      const key = req.headers["x-api-key"] ?? req.headers.authorization?.replace(/^Bearer /, "");
      if (key !== apiKey) return apiError(res, 401, "authentication_error", "invalid x-api-key");
      if (!req.headers["anthropic-version"]) {
        return apiError(res, 400, "invalid_request_error", "anthropic-version header is required");
      }
      const raw = await readBody(req);
      const body = JSON.parse(raw) as {
        model?: unknown;
        max_tokens?: unknown;
        messages?: unknown;
        stream?: unknown;
      };
      if (
        typeof body.model !== "string" ||
        typeof body.max_tokens !== "number" ||
        !Array.isArray(body.messages)
      ) {
        return apiError(
          res,
          400,
          "invalid_request_error",
          "model, max_tokens and messages are required",
        );
      }
      const script = scripts.find((s) => s.steps.length > 0 && raw.includes(s.match));
      const step = script?.steps.shift();
      if (!script || !step) {
        return apiError(
          res,
          500,
          "api_error",
          `fake: no script matches this request (${raw.slice(-200)})`,
        );
      }
      const record: RecordedRequest = { body, aborted: false };
      script.requests.push(record);
      res.on("close", () => {
        if (!res.writableFinished) record.aborted = true;
      });
      await sleep(step.latency?.firstTokenMs);
      if (step.kind === "error") {
        if (step.retryAfterSeconds !== undefined)
          res.setHeader("retry-after", String(step.retryAfterSeconds));
        return apiError(res, step.status, ERROR_TYPES[step.status], "Scripted failure");
      }
      if (body.stream !== true) return json(res, 200, wholeMessage(step, body.model, ++ids));
      await streamStep(res, step, body.model, ++ids, raw.length);
    } catch (error) {
      if (!res.headersSent) apiError(res, 400, "invalid_request_error", (error as Error).message);
      else res.destroy();
    }
  });

  // Node closes an idle keep-alive connection after 5 s by default; a client reusing it at
  // that moment gets "Network connection lost". The clients here are ours: keep them open.
  server.keepAliveTimeout = 0;
  // A test run (or `npm start`) ends on its own terms; an idle server must not keep it alive.
  server.unref();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function streamStep(
  res: ServerResponse,
  step: Exclude<Step, { kind: "error" }>,
  model: string,
  n: number,
  inputChars: number,
) {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "request-id": `req_fake_${n}`,
  });
  const send = (event: string, data: object) => {
    if (!res.destroyed)
      res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  };
  const pause = () => sleep(step.latency?.chunkMs);
  send("message_start", {
    message: {
      id: `msg_fake_${n}`,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: Math.ceil(inputChars / 4), output_tokens: 1 },
    },
  });
  send("ping", {});
  let index = 0;
  let chunksSent = 0;
  const text = step.kind === "tool_use" ? step.text : step.text;
  if (text) {
    send("content_block_start", { index, content_block: { type: "text", text: "" } });
    for (const piece of chunkText(text)) {
      if (step.kind === "cut" && chunksSent >= step.afterChunks) return res.destroy();
      await pause();
      send("content_block_delta", { index, delta: { type: "text_delta", text: piece } });
      chunksSent += 1;
    }
    send("content_block_stop", { index });
    index += 1;
  }
  if (step.kind === "cut") return res.destroy();
  if (step.kind === "stream_error") {
    send("error", { error: { type: "overloaded_error", message: "Overloaded" } });
    return res.end();
  }
  if (step.kind === "tool_use") {
    for (const [i, call] of step.calls.entries()) {
      const id = call.id ?? `toolu_fake_${n}_${i}`;
      send("content_block_start", {
        index,
        content_block: { type: "tool_use", id, name: call.name, input: {} },
      });
      const json = JSON.stringify(call.input);
      const third = Math.ceil(json.length / 3);
      for (let at = 0; at < json.length; at += third) {
        await pause();
        send("content_block_delta", {
          index,
          delta: { type: "input_json_delta", partial_json: json.slice(at, at + third) },
        });
      }
      send("content_block_stop", { index });
      index += 1;
    }
  }
  send("message_delta", {
    delta: { stop_reason: step.kind === "tool_use" ? "tool_use" : "end_turn", stop_sequence: null },
    usage: { output_tokens: Math.max(1, Math.ceil((text?.length ?? 0) / 4)) },
  });
  send("message_stop", {});
  res.end();
}

function wholeMessage(step: Exclude<Step, { kind: "error" }>, model: string, n: number) {
  const content: object[] = [];
  if (step.text) content.push({ type: "text", text: step.text });
  if (step.kind === "tool_use") {
    for (const [i, call] of step.calls.entries()) {
      content.push({
        type: "tool_use",
        id: call.id ?? `toolu_fake_${n}_${i}`,
        name: call.name,
        input: call.input,
      });
    }
  }
  return {
    id: `msg_fake_${n}`,
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: step.kind === "tool_use" ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 10 },
  };
}

function apiError(res: ServerResponse, status: number, type: string, message: string) {
  json(res, status, { type: "error", error: { type, message }, request_id: "req_fake_error" });
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sleep(ms: number | undefined): Promise<void> {
  return ms ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
