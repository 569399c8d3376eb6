/**
 * A local fake of Deepgram on a real socket:
 * - Nova live transcription (`/v1/listen`, WebSocket): binary audio in; `Results` interim/final
 *   with `is_final`/`speech_final` and word timings, `SpeechStarted`, `UtteranceEnd`, `Metadata`
 *   out; `KeepAlive`/`Finalize`/`CloseStream` understood;
 * - Flux (`/v2/listen`): `Connected`, then `TurnInfo` events StartOfTurn / Update /
 *   EagerEndOfTurn / TurnResumed / EndOfTurn;
 * - Aura text-to-speech over streaming HTTP (`POST /v1/speak`) and over its WebSocket
 *   (`/v1/speak`: `Speak`/`Flush`/`Clear`/`Close` in; audio, `Metadata`, `Flushed`, `Cleared` out).
 * Auth is checked the way Deepgram does it: `Authorization: Token KEY`, or the `token, KEY`
 * subprotocol.
 *
 * It cannot hear, so tests script what it "recognises": a script, picked by the connection's
 * `extra=session:NAME` tag, says which words to report once how much audio has arrived, and how
 * long (wall clock) its end-of-turn decisions take.
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
  /** Wall-clock ms from hearing an utterance's last word to its final / EndOfTurn. */
  endOfTurnDelayMs: z.number().nonnegative().default(0),
  /** Flux: wall-clock ms from the last word to EagerEndOfTurn (for utterances marked eager). */
  eagerDelayMs: z.number().nonnegative().default(0),
  utterances: z.array(
    z.object({
      text: z.string().min(1),
      /** The utterance's last word ends here in the audio stream; it is reported from then. */
      afterAudioMs: z.number().nonnegative(),
      /** Flux: an EagerEndOfTurn comes first. */
      eager: z.boolean().default(false),
      /** Flux: after the EagerEndOfTurn the caller goes on: no EndOfTurn, and TurnResumed
       * comes with the next utterance's words. */
      resumed: z.boolean().default(false),
    }),
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
  flux: boolean;
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
    const known = ["/v1/listen", "/v2/listen", "/v1/speak"].includes(url.pathname);
    if (!known || !authorized(req, apiKey)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const rate = Number(url.searchParams.get("sample_rate") ?? 16_000);
      if (url.pathname === "/v1/speak") {
        return speakSocket(ws, rate, (text) => {
          spoken.push(text);
          return ttsByMatch.find((t) => t.match && text.includes(t.match)) ?? ttsDefault;
        });
      }
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
        flux: url.pathname === "/v2/listen",
      };
      connections.push(log);
      const script = scripts.get(name ?? "");
      const dropAfter = script?.dropAfterAudioMs;
      // Only the first connection drops: the client's reconnect must then hear it all again.
      if (script) script.dropAfterAudioMs = undefined;
      listen(ws, log, script, rate, dropAfter);
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

type Utterance = SttScript["utterances"][number];

/** Plays a script against the audio as it arrives, in Nova's or Flux's messages. */
function listen(
  ws: WsSocket,
  log: ConnectionLog,
  script: SttScript | undefined,
  sampleRate: number,
  dropAfterAudioMs: number | undefined,
) {
  const pending = [...(script?.utterances ?? [])];
  let cursor = 0;
  let sequence = 0;
  let turnIndex = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (ms: number, action: () => void) => {
    if (ms === 0) return action();
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  };
  ws.on("close", () => {
    for (const timer of timers) clearTimeout(timer);
  });
  const send = (message: object) =>
    ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(message));
  /** Words spread over the stretch of audio before the utterance's end. */
  const timedWords = (text: string, endSec: number) => {
    const words = text.split(/\s+/);
    const step = 0.25;
    return words.map((word, i) => {
      const end = Math.max(0.05, endSec - (words.length - 1 - i) * step);
      return { word, start: Math.max(0, end - step), end, confidence: 0.98, punctuated_word: word };
    });
  };
  const results = (
    text: string,
    endSec: number,
    isFinal: boolean,
    speechFinal: boolean,
    fromFinalize = false,
  ) => {
    const words = timedWords(text, endSec);
    const start = words[0]?.start ?? 0;
    send({
      type: "Results",
      channel_index: [0, 1],
      start,
      duration: endSec - start,
      is_final: isFinal,
      speech_final: speechFinal,
      from_finalize: fromFinalize,
      channel: { alternatives: [{ transcript: text, confidence: 0.98, words }] },
      metadata: { request_id: "fake", model_info: { name: "fake", version: "1", arch: "fake" } },
    });
  };
  const recogniseNova = (utterance: Utterance, fromFinalize = false) => {
    const endSec = utterance.afterAudioMs / 1000;
    const words = utterance.text.split(/\s+/);
    send({
      type: "SpeechStarted",
      channel: [0],
      timestamp: Math.max(0, endSec - words.length * 0.25),
    });
    for (let i = 1; i < words.length; i++)
      results(words.slice(0, i).join(" "), endSec - (words.length - i) * 0.25, false, false);
    const delay = fromFinalize ? 0 : (script?.endOfTurnDelayMs ?? 0);
    later(delay, () => {
      results(utterance.text, endSec, true, !fromFinalize, fromFinalize);
      send({ type: "UtteranceEnd", channel: [0, 1], last_word_end: endSec });
    });
  };
  const turnInfo = (event: string, text: string, endSec: number, confidence: number) =>
    send({
      type: "TurnInfo",
      request_id: "fake",
      sequence_id: ++sequence,
      event,
      turn_index: turnIndex,
      audio_window_start: 0,
      audio_window_end: endSec,
      transcript: text,
      words: text
        ? timedWords(text, endSec).map(({ word, end }) => ({ word, confidence: 0.98, end }))
        : [],
      end_of_turn_confidence: confidence,
    });
  let turnOpen = false;
  /** An EagerEndOfTurn the caller spoke on after: TurnResumed comes with their next words. */
  let resumePending = false;
  const recogniseFlux = (utterance: Utterance) => {
    const endSec = utterance.afterAudioMs / 1000;
    const words = utterance.text.split(/\s+/);
    if (resumePending) {
      resumePending = false;
      turnInfo("TurnResumed", words[0] ?? "", endSec, 0.2);
    }
    if (!turnOpen) {
      turnOpen = true;
      turnInfo("StartOfTurn", words[0] ?? "", endSec, 0.01);
    }
    for (let i = 1; i < words.length; i++)
      turnInfo("Update", words.slice(0, i).join(" "), endSec, 0.1);
    const eagerDelay = script?.eagerDelayMs ?? 0;
    const eotDelay = Math.max(eagerDelay, script?.endOfTurnDelayMs ?? 0);
    if (utterance.eager)
      later(eagerDelay, () => turnInfo("EagerEndOfTurn", utterance.text, endSec, 0.55));
    if (utterance.resumed) {
      resumePending = true;
      return;
    }
    later(eotDelay, () => {
      turnInfo("EndOfTurn", utterance.text, endSec, 0.9);
      turnOpen = false;
      turnIndex += 1;
    });
  };
  if (log.flux) send({ type: "Connected", request_id: "fake", sequence_id: 0 });
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
        if (next) (log.flux ? recogniseFlux : recogniseNova)(next);
      }
      return;
    }
    const message = JSON.parse(String(data)) as { type?: string };
    if (message.type === "KeepAlive") log.keepAlives += 1;
    if (message.type === "Finalize" && !log.flux) {
      log.finalizes += 1;
      const next = pending[cursor];
      if (next) {
        cursor += 1;
        recogniseNova(next, true);
      }
    }
    if (message.type === "CloseStream") {
      log.closedByClient = true;
      send({ type: "Metadata", request_id: "fake", duration: log.audioMs / 1000, channels: 1 });
      ws.close(1000);
    }
  });
}

/** Aura's WebSocket: text arrives in `Speak`, is spoken on `Flush`, and `Clear` drops it all. */
function speakSocket(
  ws: WsSocket,
  sampleRate: number,
  settingsFor: (text: string) => z.infer<typeof TtsSettingsSchema>,
) {
  let buffer = "";
  let sequence = 0;
  /** Bumped by Clear: audio of an older generation stops at once. */
  let generation = 0;
  let queue: Promise<void> = Promise.resolve();
  const send = (message: object) =>
    ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(message));
  send({
    type: "Metadata",
    request_id: "fake",
    model_name: "aura-2-thalia-en",
    model_version: "fake",
    model_uuid: "fake",
  });
  ws.on("message", (data, isBinary) => {
    if (isBinary) return send({ type: "Warning", description: "Binary input is not supported." });
    let message: { type?: string; text?: unknown };
    try {
      message = JSON.parse(String(data));
    } catch {
      return send({ type: "Error", err_msg: "Invalid JSON." });
    }
    switch (message.type) {
      case "Speak":
        if (typeof message.text !== "string")
          return send({ type: "Error", err_msg: "text is required" });
        buffer += message.text;
        return;
      case "Flush": {
        const text = buffer;
        const mine = generation;
        const id = sequence++;
        buffer = "";
        queue = queue.then(async () => {
          if (text) {
            const tts = settingsFor(text);
            const totalBytes = Math.round((text.length * tts.msPerChar * sampleRate) / 1000) * 2;
            const chunkBytes = (sampleRate / 50) * 2;
            await sleep(tts.firstByteMs);
            for (let sent = 0; sent < totalBytes; sent += chunkBytes) {
              if (mine !== generation || ws.readyState !== WebSocket.OPEN) return;
              ws.send(tone(Math.min(chunkBytes, totalBytes - sent)));
              await sleep(tts.chunkMs);
            }
          }
          if (mine === generation) send({ type: "Flushed", sequence_id: id });
        });
        return;
      }
      case "Clear":
        buffer = "";
        generation += 1;
        send({ type: "Cleared", sequence_id: sequence++ });
        return;
      case "Close":
        ws.close(1000);
        return;
      default:
        send({ type: "Error", err_msg: `Unknown message type ${String(message.type)}.` });
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
