/**
 * A local fake of Deepgram on a real socket:
 * - Nova live transcription (`/v1/listen`, WebSocket) and Flux (`/v2/listen`): listen.ts;
 * - Aura text-to-speech over streaming HTTP (`POST /v1/speak`) and its WebSocket: speak.ts.
 * Auth is checked the way Deepgram does it: `Authorization: Token KEY`, or the `token, KEY`
 * subprotocol.
 *
 * It cannot hear, so tests script what it "recognises" (script.ts): a script, picked by the
 * connection's `extra=session:NAME` tag, says which words to report once how much audio has
 * arrived, how long its end-of-turn decisions take, and what goes wrong — a dropped socket, an
 * outage that refuses connections, sockets that never answer. Aura is scripted per text and per
 * session (`tag=session:NAME`): pace, refusal, silence, a drop mid-sentence, a `Warning`.
 *
 * - `POST /_fake/stt-scripts` a script; `POST /_fake/stt-scripts/append` more utterances for
 *   one; `POST /_fake/tts` Aura settings;
 * - `GET /_fake/log?script=NAME`: that session's connections and attempts, what Aura spoke, and
 *   its Aura sockets (when each opened and closed, and how).
 */
import { createServer, type IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import type { Socket } from "node:net";
import { listenLocal, readBody } from "../http.ts";
import { type ConnectionLog, listen } from "./listen.ts";
import {
  type DeepgramLog,
  type DeepgramObserver,
  SttAppendSchema,
  type SttScript,
  SttScriptSchema,
  type TtsSettings,
  TtsSettingsSchema,
} from "./script.ts";
import { type SpeakObserver, speakHttp, speakSocket } from "./speak.ts";

export type { DeepgramEvent, DeepgramObserver, SttScript } from "./script.ts";
export { SttScriptSchema, TtsSettingsSchema } from "./script.ts";

// Loaded through require: vitest's module runner would otherwise pick ws's browser stub.
const { WebSocketServer } = createRequire(import.meta.url)("ws") as typeof import("ws");

export interface FakeDeepgram {
  url: string;
  close(): Promise<void>;
}

interface ScriptState {
  script: SttScript;
  /** The first connection drops: only once. */
  dropPending: boolean;
  /** Connections are refused until then. */
  refuseUntil: number;
  silentLeft: number;
}

export async function startFakeDeepgram(
  options: {
    apiKey?: string;
    /** Told of each final, end of turn, TTS request and first audio as it happens (benchmarks). */
    onEvent?: DeepgramObserver;
  } = {},
): Promise<FakeDeepgram> {
  const apiKey = options.apiKey ?? "test-deepgram-key";
  const onEvent = options.onEvent;
  const speakObserver = (session: string | undefined): SpeakObserver | undefined =>
    onEvent && ((kind, text) => onEvent({ kind, at: performance.now(), tag: session, text }));
  const scripts = new Map<string, ScriptState>();
  const connections: ConnectionLog[] = [];
  const attempts: { script: string | undefined; at: number; status: number }[] = [];
  const spoken: { text: string; session: string | undefined }[] = [];
  const auraSockets: ({ session: string | undefined } & DeepgramLog["auraSockets"][number])[] = [];
  const ttsDefault = TtsSettingsSchema.parse({});
  const ttsScripted: TtsSettings[] = [];
  /** The settings for `text` (none: a connection) on `session`'s requests; each use counts. */
  const ttsFor = (text: string | undefined, session: string | undefined) => {
    const found = ttsScripted.find(
      (t) =>
        (t.match !== undefined || t.session !== undefined) &&
        (t.times === undefined || t.times > 0) &&
        (t.match === undefined || text?.includes(t.match) === true) &&
        (t.session === undefined || t.session === session) &&
        (text !== undefined || t.refuse !== undefined),
    );
    if (found?.times !== undefined) found.times -= 1;
    return found ?? ttsDefault;
  };
  const wss = new WebSocketServer({ noServer: true });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === "/_fake/stt-scripts" && req.method === "POST") {
        const script = SttScriptSchema.parse(JSON.parse(await readBody(req)));
        scripts.set(script.name, {
          script,
          dropPending: script.dropAfterAudioMs !== undefined,
          refuseUntil:
            script.outageMs !== undefined && script.dropAfterAudioMs === undefined
              ? Date.now() + script.outageMs
              : 0,
          silentLeft: script.silentConnections,
        });
        return json(200, { ok: true });
      }
      if (url.pathname === "/_fake/stt-scripts/append" && req.method === "POST") {
        const more = SttAppendSchema.parse(JSON.parse(await readBody(req)));
        const state = scripts.get(more.name);
        if (!state) return json(404, { err_msg: `no script named ${more.name}` });
        // The array the open sockets play: they pick the new utterances up with their next frame.
        state.script.utterances.push(...more.utterances);
        return json(200, { ok: true });
      }
      if (url.pathname === "/_fake/tts" && req.method === "POST") {
        ttsScripted.push(TtsSettingsSchema.parse(JSON.parse(await readBody(req))));
        return json(200, { ok: true });
      }
      if (url.pathname === "/_fake/log" && req.method === "GET") {
        const script = url.searchParams.get("script") ?? undefined;
        const log: DeepgramLog = {
          connections: connections.flatMap((c) =>
            c.script !== undefined && c.script === script ? [{ ...c, script: c.script }] : [],
          ),
          attempts: attempts.flatMap((a) =>
            a.script === script ? [{ at: a.at, status: a.status }] : [],
          ),
          spoken: spoken.flatMap((s) => (s.session === script ? [s.text] : [])),
          auraSockets: auraSockets.flatMap(({ session, ...s }) => (session === script ? [s] : [])),
        };
        return json(200, log);
      }
      if (url.pathname !== "/v1/speak" || req.method !== "POST")
        return json(404, { err_msg: "Not found" });
      if (!authorized(req, apiKey))
        return json(401, { err_code: "INVALID_AUTH", err_msg: "Invalid credentials." });
      const body = JSON.parse(await readBody(req)) as { text?: unknown };
      if (typeof body.text !== "string" || !body.text)
        return json(400, { err_msg: "text is required" });
      const session = sessionOf(url, "tag");
      spoken.push({ text: body.text, session });
      // The request is complete once its body has arrived.
      onEvent?.({ kind: "tts_request", at: performance.now(), tag: session, text: body.text });
      await speakHttp(req, res, body.text, ttsFor(body.text, session), speakObserver(session));
    } catch (error) {
      if (!res.headersSent) json(400, { err_msg: (error as Error).message });
    }
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://fake");
    const known = ["/v1/listen", "/v2/listen", "/v1/speak"].includes(url.pathname);
    if (!known || !authorized(req, apiKey)) return refuse(socket, 401, "Unauthorized");
    const rate = Number(url.searchParams.get("sample_rate") ?? 16_000);
    if (url.pathname === "/v1/speak") {
      const session = sessionOf(url, "tag");
      const status = ttsFor(undefined, session).refuse;
      if (status) return refuse(socket, status, "Service Unavailable");
      return wss.handleUpgrade(req, socket, head, (ws) => {
        const record: (typeof auraSockets)[number] = {
          session,
          openedAt: Date.now(),
          closedAt: null,
          code: null,
        };
        auraSockets.push(record);
        onEvent?.({ kind: "tts_socket_open", at: performance.now(), tag: session });
        ws.on("close", (code: number) => {
          record.closedAt = Date.now();
          record.code = code;
          onEvent?.({ kind: "tts_socket_close", at: performance.now(), tag: session, code });
        });
        speakSocket(
          ws,
          rate,
          (text) => {
            spoken.push({ text, session });
            return ttsFor(text, session);
          },
          speakObserver(session),
        );
      });
    }
    // The CallSession tags its socket with `extra=session:ID`; tests script by that id.
    const name = sessionOf(url, "extra");
    const state = scripts.get(name ?? "");
    if (state && Date.now() < state.refuseUntil) {
      attempts.push({ script: name, at: Date.now(), status: 503 });
      return refuse(socket, 503, "Service Unavailable");
    }
    attempts.push({ script: name, at: Date.now(), status: 101 });
    wss.handleUpgrade(req, socket, head, (ws) => {
      const log: ConnectionLog = {
        script: name,
        audioMs: 0,
        keepAlives: 0,
        finalizes: 0,
        closedByClient: false,
        flux: url.pathname === "/v2/listen",
      };
      connections.push(log);
      // Only the first connection drops: the client's reconnect must then hear it all again.
      const dropAfterAudioMs = state?.dropPending ? state.script.dropAfterAudioMs : undefined;
      if (state) state.dropPending = false;
      const silent = (state?.silentLeft ?? 0) > 0;
      if (state && silent) state.silentLeft -= 1;
      listen(ws, log, state?.script, rate, {
        dropAfterAudioMs,
        silent,
        onEvent,
        onDrop: () => {
          if (state?.script.outageMs !== undefined)
            state.refuseUntil = Date.now() + state.script.outageMs;
        },
      });
    });
  });

  const listening = await listenLocal(server);
  return {
    url: listening.url,
    close: () => {
      for (const client of wss.clients) client.terminate();
      return listening.close();
    },
  };
}

/** The `session:NAME` a request is tagged with in query parameter `param`. */
function sessionOf(url: URL, param: string): string | undefined {
  return url.searchParams
    .getAll(param)
    .find((e) => e.startsWith("session:"))
    ?.slice("session:".length);
}

function refuse(socket: Socket, status: number, text: string) {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

function authorized(req: IncomingMessage, apiKey: string): boolean {
  if (req.headers.authorization === `Token ${apiKey}`) return true;
  const protocols = req.headers["sec-websocket-protocol"]?.split(",").map((p) => p.trim());
  return protocols?.[0] === "token" && protocols[1] === apiKey;
}
