/**
 * The fake's Aura: speech over streaming HTTP (`POST /v1/speak`) and over its WebSocket
 * (`Speak`/`Flush`/`Clear`/`Close` in; audio, `Metadata`, `Flushed`, `Cleared` out). The audio is
 * a quiet tone, `msPerChar` per character. Scripted faults (script.ts): a refused connection, a
 * silent first byte, a socket dropped mid-sentence, a `Warning` instead of audio; and, like Aura,
 * a text over 2 000 characters is not spoken (a `Warning` on the socket, a 400 over HTTP).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { WebSocket as WsSocket } from "ws";
import { json } from "../http.ts";
import { AURA_TEXT_LIMIT, type TtsSettings } from "./script.ts";

const OPEN = 1;

export type SettingsFor = (text: string) => TtsSettings;

/** Told what Aura does as it does it (the server adds the time and the session: DeepgramEvent). */
export type SpeakObserver = (
  kind: "tts_request" | "tts_flush" | "tts_first_audio",
  text: string,
) => void;

/** Answers one HTTP speak request for `text` (already checked and recorded). */
export async function speakHttp(
  req: IncomingMessage,
  res: ServerResponse,
  text: string,
  tts: TtsSettings,
  observe?: SpeakObserver,
) {
  const url = new URL(req.url ?? "/", "http://fake");
  if (tts.refuse) return json(res, tts.refuse, { err_msg: "Scripted refusal." });
  if (text.length > AURA_TEXT_LIMIT)
    return json(res, 400, { err_msg: `Text exceeds ${AURA_TEXT_LIMIT} characters.` });
  const rate = Number(url.searchParams.get("sample_rate") ?? 24_000);
  const totalBytes = bytesFor(text, tts, rate);
  const chunkBytes = (rate / 50) * 2;
  await sleep(tts.firstByteMs);
  if (res.destroyed) return;
  res.writeHead(200, { "content-type": "audio/l16", "dg-request-id": "fake" });
  for (let sent = 0; sent < totalBytes && !res.destroyed; sent += chunkBytes) {
    if (tts.dropAfterMs !== undefined && sent >= bytesAt(tts.dropAfterMs, rate)) {
      res.destroy();
      return;
    }
    res.write(tone(Math.min(chunkBytes, totalBytes - sent)));
    if (sent === 0) observe?.("tts_first_audio", text);
    await sleep(tts.chunkMs);
  }
  res.end();
}

/** Aura's WebSocket: text arrives in `Speak`, is spoken on `Flush`, and `Clear` drops it all. */
export function speakSocket(
  ws: WsSocket,
  sampleRate: number,
  settingsFor: SettingsFor,
  observe?: SpeakObserver,
) {
  let buffer = "";
  let sequence = 0;
  /** Bumped by Clear: audio of an older generation stops at once. */
  let generation = 0;
  let queue: Promise<void> = Promise.resolve();
  const send = (message: object) => ws.readyState === OPEN && ws.send(JSON.stringify(message));
  send({
    type: "Metadata",
    request_id: "fake",
    model_name: "aura-2-thalia-en",
    model_version: "fake",
    model_uuid: "fake",
  });
  const flush = async (text: string, mine: number, id: number) => {
    if (text) {
      const tts = settingsFor(text);
      const warning =
        tts.warning ??
        (text.length > AURA_TEXT_LIMIT
          ? `Text exceeds the limit of ${AURA_TEXT_LIMIT} characters and was not spoken.`
          : undefined);
      if (warning) {
        // As the provider the issue was found against does: a warning, then Flushed, no audio.
        send({ type: "Warning", description: warning, code: "TEXT_LIMIT" });
        if (mine === generation) send({ type: "Flushed", sequence_id: id });
        return;
      }
      const totalBytes = bytesFor(text, tts, sampleRate);
      const chunkBytes = (sampleRate / 50) * 2;
      await sleep(tts.firstByteMs);
      for (let sent = 0; sent < totalBytes; sent += chunkBytes) {
        if (mine !== generation || ws.readyState !== OPEN) return;
        if (tts.dropAfterMs !== undefined && sent >= bytesAt(tts.dropAfterMs, sampleRate)) {
          ws.close(1011, "scripted drop");
          return;
        }
        ws.send(tone(Math.min(chunkBytes, totalBytes - sent)));
        if (sent === 0) observe?.("tts_first_audio", text);
        await sleep(tts.chunkMs);
      }
    }
    if (mine === generation) send({ type: "Flushed", sequence_id: id });
  };
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
        observe?.("tts_request", message.text);
        return;
      case "Flush": {
        const text = buffer;
        const mine = generation;
        const id = sequence++;
        buffer = "";
        observe?.("tts_flush", text);
        queue = queue.then(() => flush(text, mine, id));
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

function bytesFor(text: string, tts: TtsSettings, rate: number): number {
  return Math.round((text.length * tts.msPerChar * rate) / 1000) * 2;
}

function bytesAt(ms: number, rate: number): number {
  return Math.round((ms * rate) / 1000) * 2;
}

/** A quiet 440 Hz tone, so the audio is real PCM a player can play. */
function tone(bytes: number): Buffer {
  const out = Buffer.alloc(bytes - (bytes % 2));
  for (let i = 0; i < out.length / 2; i++)
    out.writeInt16LE(Math.round(3000 * Math.sin((2 * Math.PI * 440 * i) / 16_000)), i * 2);
  return out;
}

/** Unref'd: a scripted silence of a minute must not keep a finished test run alive. */
export function sleep(ms: number): Promise<void> {
  return ms ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve();
}
