/**
 * A local fake of Anthropic's Messages API on a real socket: `POST /v1/messages`, streamed
 * (SSE) or not, with Anthropic's auth and request checks, its error responses (429
 * rate_limit_error, 529 overloaded_error, ...), a mid-stream `error` event and a dropped
 * connection. Tests script it over HTTP (client.ts), so tests inside workerd can drive it too:
 *
 * - `POST /_fake/scripts` `{match, steps}`: a request is served by the oldest script whose
 *   `match` occurs in its system prompt or messages and that has steps left; each request
 *   takes the next step.
 * - `GET /_fake/requests?match=X`: the requests that script served, `{body, aborted, usage}`.
 * - `DELETE /_fake/scripts?match=X`: drops the script.
 *
 * Prompt caching as Anthropic reports it: at most 4 `cache_control` breakpoints; a request
 * whose prefix up to a breakpoint was seen before reads those tokens from the cache
 * (`cache_read_input_tokens`), and the rest up to its last breakpoint is written
 * (`cache_creation_input_tokens`); a prefix under the model's minimum is neither
 * (minimumCachedTokens). Not modelled: the 5-minute lifetime, and the lookback that finds a
 * cached prefix at a block no breakpoint marks in this request (up to 20 blocks back).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { json, listenLocal, readBody } from "../http.ts";
import {
  type AnthropicObserver,
  cachePrefixes,
  lastUserText,
  MAX_CACHE_BREAKPOINTS,
  MessagesRequestSchema,
  matchableText,
  minimumCachedTokens,
  type RecordedRequest,
  ScriptSchema,
  type Step,
} from "./script.ts";
import {
  type AnswerContext,
  type AnswerStep,
  defaultMessage,
  encodeFrame,
  errorBody,
  type InputUsage,
  streamFrames,
  tokens,
  wholeMessage,
} from "./sse.ts";

export type { AnthropicEvent, AnthropicObserver } from "./script.ts";

export interface FakeAnthropic {
  /** Base URL for the SDK's `baseURL`, e.g. http://127.0.0.1:PORT */
  url: string;
  port: number;
  close(): Promise<void>;
}

interface Script {
  match: string;
  steps: Step[];
  requests: RecordedRequest[];
}

const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};
const STATUS_ERROR = {
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
} as const;

export async function startFakeAnthropic(
  options: {
    port?: number;
    apiKey?: string;
    /** Told when a request arrives and when its first text leaves (benchmarks). */
    onEvent?: AnthropicObserver;
  } = {},
): Promise<FakeAnthropic> {
  const onEvent = options.onEvent;
  const apiKey = options.apiKey ?? "test-anthropic-key";
  const scripts: Script[] = [];
  let requestCount = 0;
  let toolCount = 0;
  /** Prompt prefixes cached so far (cachePrefixes), as one organisation's cache. */
  const promptCache = new Set<string>();

  /** Reads what the cache holds of the request's prefixes and writes the rest. */
  function useCache(model: string, marked: string[], raw: string): InputUsage {
    const minimum = minimumCachedTokens(model);
    const prefixes = marked.filter((p) => tokens(p) >= minimum);
    const hit = prefixes.findLast((p) => promptCache.has(p));
    const read = hit ? tokens(hit) : 0;
    const longest = prefixes.at(-1);
    const created = longest && longest !== hit ? tokens(longest) - read : 0;
    for (const prefix of prefixes) promptCache.add(prefix);
    return {
      input_tokens: Math.max(1, tokens(raw) - read - created),
      cache_creation_input_tokens: created,
      cache_read_input_tokens: read,
    };
  }

  async function messages(req: IncomingMessage, res: ServerResponse, n: number) {
    // This SDK sends `Authorization: Bearer KEY`; Anthropic's docs and older SDKs `x-api-key`.
    const key = req.headers["x-api-key"] ?? req.headers.authorization?.replace(/^Bearer /, "");
    if (key !== apiKey) return apiError(res, 401, "authentication_error", "invalid x-api-key");
    if (!req.headers["anthropic-version"]) {
      return apiError(res, 400, "invalid_request_error", "anthropic-version: header is required");
    }
    const raw = await readBody(req);
    // The request has arrived once its whole body has: what the client spent sending it is not ours.
    const arrivedAt = performance.now();
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return apiError(res, 400, "invalid_request_error", "The request body is not valid JSON.");
    }
    const checked = MessagesRequestSchema.safeParse(parsed);
    if (!checked.success) {
      const [issue] = checked.error.issues;
      const where = issue?.path.join(".") || "body";
      return apiError(res, 400, "invalid_request_error", `${where}: ${issue?.message}`);
    }
    const body = checked.data;
    const prefixes = cachePrefixes(body);
    if (prefixes.length > MAX_CACHE_BREAKPOINTS) {
      return apiError(
        res,
        400,
        "invalid_request_error",
        `A maximum of ${MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found ${prefixes.length}.`,
      );
    }
    const text = matchableText(body);
    const script = scripts.find((s) => s.steps.length > 0 && text.includes(s.match));
    const step = script?.steps.shift();
    if (!script || !step) {
      const said = lastUserText(body).slice(0, 200);
      return apiError(res, 500, "api_error", `fake: no script matched this request: "${said}"`);
    }

    const record: RecordedRequest = { body: parsed, aborted: false, receivedAt: Date.now() };
    // For an observer: which script served the request, and what the caller said last.
    const seen = { tag: script.match, text: onEvent ? lastUserText(body) : "" };
    onEvent?.({ kind: "model_request", at: arrivedAt, ...seen });
    script.requests.push(record);
    let cut = false;
    res.on("close", () => {
      if (!res.writableFinished && !cut) record.aborted = true;
    });

    await pause(res, step.latency?.firstTokenMs);
    if (res.destroyed) return;
    if (step.kind === "error") {
      if (step.retryAfterSeconds !== undefined) {
        res.setHeader("retry-after", String(step.retryAfterSeconds));
      }
      const type = step.errorType ?? STATUS_ERROR[step.status];
      return apiError(res, step.status, type, step.message ?? defaultMessage(type));
    }
    record.usage = useCache(body.model, prefixes, raw);
    const ctx: AnswerContext = {
      messageId: `msg_fake_${n}`,
      model: body.model,
      input: record.usage,
      nextToolId: () => `toolu_fake_${++toolCount}`,
    };
    if (body.stream !== true) {
      cut = step.kind === "cut";
      answerWhole(res, step, ctx);
      if ("text" in step && step.text)
        onEvent?.({ kind: "model_first_token", at: performance.now(), ...seen });
      return;
    }

    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
    });
    let firstText = true;
    for (const frame of streamFrames(step, ctx)) {
      if (frame.delta) await pause(res, step.latency?.chunkMs);
      if (res.destroyed) return;
      res.write(encodeFrame(frame));
      if (firstText && frame.delta === "text") {
        firstText = false;
        onEvent?.({ kind: "model_first_token", at: performance.now(), ...seen });
      }
    }
    if (step.kind === "cut") {
      // A real drop comes some time after the last bytes; an immediate one would also lose
      // those bytes, as the client's body stream discards what it had not yet read.
      await pause(res, Math.max(step.latency?.chunkMs ?? 0, 50));
      cut = true;
      res.destroy();
    } else res.end();
  }

  const server = createServer(async (req, res) => {
    const n = ++requestCount;
    res.setHeader("request-id", `req_fake_${n}`);
    try {
      const url = new URL(req.url ?? "/", "http://fake");
      const match = url.searchParams.get("match");
      if (url.pathname === "/v1/messages" && req.method === "POST") {
        return await messages(req, res, n);
      }
      if (url.pathname === "/_fake/scripts" && req.method === "POST") {
        const parsed = ScriptSchema.safeParse(JSON.parse(await readBody(req)));
        if (!parsed.success) return json(res, 400, { error: parsed.error.issues });
        const existing = scripts.find((s) => s.match === parsed.data.match);
        if (existing) existing.steps.push(...parsed.data.steps);
        else scripts.push({ ...parsed.data, requests: [] });
        return json(res, 200, { ok: true });
      }
      if (url.pathname === "/_fake/scripts" && req.method === "DELETE") {
        const at = scripts.findIndex((s) => s.match === match);
        if (at >= 0) scripts.splice(at, 1);
        return json(res, 200, { dropped: at >= 0 });
      }
      if (url.pathname === "/_fake/requests" && req.method === "GET") {
        return json(res, 200, scripts.find((s) => s.match === match)?.requests ?? []);
      }
      apiError(res, 404, "not_found_error", `No route ${req.method} ${url.pathname}`);
    } catch (error) {
      if (res.headersSent) res.destroy();
      else apiError(res, 500, "api_error", `fake: ${String(error)}`);
    }
  });

  return listenLocal(server, options.port);
}

function answerWhole(res: ServerResponse, step: AnswerStep, ctx: AnswerContext) {
  if (step.kind === "cut") return res.destroy();
  if (step.kind === "stream_error") {
    const type = step.errorType ?? "overloaded_error";
    return apiError(res, ERROR_STATUS[type] ?? 500, type, defaultMessage(type));
  }
  json(res, 200, wholeMessage(step, ctx));
}

function apiError(res: ServerResponse, status: number, type: string, message: string) {
  const requestId = res.getHeader("request-id");
  json(res, status, errorBody(type, message, typeof requestId === "string" ? requestId : ""));
}

/** Waits `ms`, or less if the client goes away first. */
function pause(res: ServerResponse, ms: number | undefined): Promise<void> {
  if (!ms || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.on("close", done);
  });
}
