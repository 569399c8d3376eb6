/**
 * A local fake of Deepgram on a real socket: live transcription (`/v1/listen`, WebSocket:
 * binary audio in; `Results` interim/final with `is_final`/`speech_final`, `SpeechStarted`,
 * `UtteranceEnd`, `Metadata` out; `KeepAlive`/`Finalize`/`CloseStream` understood) and Aura
 * text-to-speech over streaming HTTP (`POST /v1/speak`). Auth is checked the way Deepgram
 * does it: `Authorization: Token KEY`, or the `token, KEY` subprotocol.
 *
 * It cannot hear, so tests script what it "recognises": a script, picked by the connection's
 * `extra=session:NAME` tag, says which words to report once how much audio has arrived.
 */
import { createServer, type IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo, Socket } from "node:net";
import type { WebSocket as WsSocket } from "ws";
import { z } from "zod";

// Loaded through require: vitest's module runner would otherwise pick ws's browser stub.
const { WebSocket, WebSocketServer } = createRequire(import.meta.url)("ws") as typeof import("ws");

export const SttScriptSchema = z.object({
  name: z.string().min(1),
  /** The first connection is dropped (1011) once it has heard this much audio. */
  dropAfterAudioMs: z.number().positive().optional(),
  utterances: z.array(
    z.object({ text: z.string().min(1), afterAudioMs: z.number().nonnegative() }),
  ),
});
export type SttScript = z.infer<typeof SttScriptSchema>;

export const TtsSettingsSchema = z.object({
  /** Applies to texts containing this; the default settings apply to the rest. */
  match: z.string().optional(),
  firstByteMs: z.number().nonnegative().default(0),
  chunkMs: z.number().nonnegative().default(0),
  /** Milliseconds of audio produced per character of text. */
  msPerChar: z.number().positive().default(10),
});

export interface FakeDeepgram {
  url: string;
  close(): Promise<void>;
}

interface ConnectionLog {
  script: string | undefined;
  audioMs: number;
  keepAlives: number;
  finalizes: number;
  closedByClient: boolean;
}

export async function startFakeDeepgram(options: { apiKey?: string } = {}): Promise<FakeDeepgram> {
  const apiKey = options.apiKey ?? "test-deepgram-key";
  const scripts = new Map<string, SttScript>();
  const connections: ConnectionLog[] = [];
  const spoken: string[] = [];
  const ttsDefault = TtsSettingsSchema.parse({});
  const ttsByMatch: z.infer<typeof TtsSettingsSchema>[] = [];
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
        scripts.set(script.name, script);
        return json(200, { ok: true });
      }
      if (url.pathname === "/_fake/tts" && req.method === "POST") {
        ttsByMatch.push(TtsSettingsSchema.parse(JSON.parse(await readBody(req))));
        return json(200, { ok: true });
      }
      if (url.pathname === "/_fake/log" && req.method === "GET") {
        const script = url.searchParams.get("script");
        return json(200, { connections: connections.filter((c) => c.script === script), spoken });
      }
      if (url.pathname !== "/v1/speak" || req.method !== "POST")
        return json(404, { err_msg: "Not found" });
      if (!authorized(req, apiKey))
        return json(401, { err_code: "INVALID_AUTH", err_msg: "Invalid credentials." });
      const body = JSON.parse(await readBody(req)) as { text?: unknown };
      if (typeof body.text !== "string" || !body.text)
        return json(400, { err_msg: "text is required" });
      spoken.push(body.text);
      const text = body.text;
      const tts = ttsByMatch.find((t) => t.match && text.includes(t.match)) ?? ttsDefault;
      const rate = Number(url.searchParams.get("sample_rate") ?? 24_000);
      const totalBytes = Math.round((body.text.length * tts.msPerChar * rate) / 1000) * 2;
      const chunkBytes = (rate / 50) * 2;
      await sleep(tts.firstByteMs);
      res.writeHead(200, { "content-type": "audio/l16", "dg-request-id": "fake" });
      for (let sent = 0; sent < totalBytes && !res.destroyed; sent += chunkBytes) {
        res.write(tone(Math.min(chunkBytes, totalBytes - sent)));
        await sleep(tts.chunkMs);
      }
      res.end();
    } catch (error) {
      if (!res.headersSent) json(400, { err_msg: (error as Error).message });
    }
  });

  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? "/", "http://fake");
    if (url.pathname !== "/v1/listen" || !authorized(req, apiKey)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // The CallSession tags its socket with `extra=session:ID`; tests script by that id.
      const name = url.searchParams
        .getAll("extra")
        .find((e) => e.startsWith("session:"))
        ?.slice("session:".length);
      const log: ConnectionLog = {
        script: name,
        audioMs: 0,
        keepAlives: 0,
        finalizes: 0,
        closedByClient: false,
      };
      connections.push(log);
      const script = scripts.get(name ?? "");
      const dropAfter = script?.dropAfterAudioMs;
      // Only the first connection drops: the client's reconnect must then hear it all again.
      if (script) script.dropAfterAudioMs = undefined;
      listen(ws, log, script, Number(url.searchParams.get("sample_rate") ?? 16_000), dropAfter);
    });
  });

  // Node closes an idle keep-alive connection after 5 s by default; a client reusing it at
  // that moment gets "Network connection lost". The clients here are ours: keep them open.
  server.keepAliveTimeout = 0;
  // A test run (or `npm start`) ends on its own terms; an idle server must not keep it alive.
  server.unref();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Plays a script against the audio as it arrives. */
function listen(
  ws: WsSocket,
  log: ConnectionLog,
  script: SttScript | undefined,
  sampleRate: number,
  dropAfterAudioMs: number | undefined,
) {
  const pending = [...(script?.utterances ?? [])];
  let cursor = 0;
  const send = (message: object) =>
    ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(message));
  const results = (
    text: string,
    start: number,
    isFinal: boolean,
    speechFinal: boolean,
    fromFinalize = false,
  ) =>
    send({
      type: "Results",
      channel_index: [0, 1],
      start,
      duration: 0.5,
      is_final: isFinal,
      speech_final: speechFinal,
      from_finalize: fromFinalize,
      channel: { alternatives: [{ transcript: text, confidence: 0.98, words: [] }] },
      metadata: { request_id: "fake", model_info: { name: "fake", version: "1", arch: "fake" } },
    });
  const recognise = (utterance: { text: string }, fromFinalize = false) => {
    const start = log.audioMs / 1000;
    send({ type: "SpeechStarted", channel: [0], timestamp: start });
    const words = utterance.text.split(/\s+/);
    for (let i = 1; i < words.length; i++)
      results(words.slice(0, i).join(" "), start, false, false);
    results(utterance.text, start, true, !fromFinalize, fromFinalize);
    send({ type: "UtteranceEnd", channel: [0, 1], last_word_end: start + 0.5 });
  };
  ws.on("message", (data, isBinary) => {
    if (isBinary) {
      const bytes = Array.isArray(data)
        ? data.reduce((n, b) => n + b.length, 0)
        : (data as Buffer).length;
      // A dropped connection hears nothing more, even frames already on their way.
      if (ws.readyState !== WebSocket.OPEN) return;
      log.audioMs += (bytes / 2 / sampleRate) * 1000;
      if (dropAfterAudioMs !== undefined && log.audioMs >= dropAfterAudioMs) {
        ws.close(1011, "scripted drop");
        return;
      }
      while (pending[cursor] && (pending[cursor]?.afterAudioMs ?? 0) <= log.audioMs) {
        const next = pending[cursor];
        cursor += 1;
        if (next) recognise(next);
      }
      return;
    }
    const message = JSON.parse(String(data)) as { type?: string };
    if (message.type === "KeepAlive") log.keepAlives += 1;
    if (message.type === "Finalize") {
      log.finalizes += 1;
      const next = pending[cursor];
      if (next) {
        cursor += 1;
        recognise(next, true);
      }
    }
    if (message.type === "CloseStream") {
      log.closedByClient = true;
      send({ type: "Metadata", request_id: "fake", duration: log.audioMs / 1000, channels: 1 });
      ws.close(1000);
    }
  });
}

function authorized(req: IncomingMessage, apiKey: string): boolean {
  if (req.headers.authorization === `Token ${apiKey}`) return true;
  const protocols = req.headers["sec-websocket-protocol"]?.split(",").map((p) => p.trim());
  return protocols?.[0] === "token" && protocols[1] === apiKey;
}

/** A quiet 440 Hz tone, so the audio is real PCM a player can play. */
function tone(bytes: number): Buffer {
  const out = Buffer.alloc(bytes - (bytes % 2));
  for (let i = 0; i < out.length / 2; i++)
    out.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * 440 * i) / 16_000)), i * 2);
  return out;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function sleep(ms: number): Promise<void> {
  return ms ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
