/**
 * Against the real Deepgram API: runs only with DEEPGRAM_API_KEY set (it costs a few seconds of
 * audio), so `npm test` needs no credentials. It speaks a sentence made by espeak-ng to Nova and
 * to Flux with exactly the URLs our adapters use, asks Aura's socket for speech, and checks that
 * every message Deepgram sends back fits the schemas our adapters parse — the same messages the
 * fake Deepgram (test/fakes/deepgram) imitates. From Node over `ws`: the adapters themselves
 * open their sockets with workerd's fetch Upgrade.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { auraSocketUrl } from "../../voice/deepgram/aura-socket.ts";
import { liveSttUrl } from "../../voice/deepgram/live-stt.ts";
import {
  readAuraMessage,
  readFluxMessage,
  readNovaMessage,
} from "../../voice/deepgram/messages.ts";

// Loaded through require: vitest's module runner would otherwise pick ws's browser stub.
const { WebSocket } = createRequire(import.meta.url)("ws") as typeof import("ws");

const key = process.env.DEEPGRAM_API_KEY;
const baseUrl = process.env.DEEPGRAM_BASE_URL || "https://api.deepgram.com";
const hasEspeak = (() => {
  try {
    execFileSync("espeak-ng", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
if (!key) console.warn("Skipping the live Deepgram test: DEEPGRAM_API_KEY is not set.");
else if (!hasEspeak) console.warn("Skipping the live Deepgram test: espeak-ng is not installed.");

const dir = mkdtempSync(join(tmpdir(), "convonet-live-dg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** "what is on my list today" as 16 kHz PCM16 mono, then a second of silence. */
function spokenPcm(): Buffer {
  const file = join(dir, "said.wav");
  execFileSync("espeak-ng", ["-w", file, "what is on my list today"]);
  const wav = readFileSync(file);
  const rate = wav.readUInt32LE(24);
  const samples = new Int16Array(wav.buffer, wav.byteOffset + 44, (wav.length - 44) >> 1);
  // espeak-ng speaks at 22 050 Hz: resample linearly to the 16 kHz the page sends.
  const out = new Int16Array(Math.floor((samples.length * 16_000) / rate) + 16_000);
  for (let i = 0; i < out.length - 16_000; i++) {
    const at = (i * rate) / 16_000;
    const j = Math.floor(at);
    const a = samples[j] ?? 0;
    const b = samples[j + 1] ?? a;
    out[i] = Math.round(a + (b - a) * (at - j));
  }
  return Buffer.from(out.buffer);
}

/** Streams `pcm` in real time (20 ms frames) and collects JSON messages until `done` says so. */
async function listen(
  url: URL,
  pcm: Buffer,
  done: (message: { type?: string; event?: string }) => boolean,
) {
  const ws = new WebSocket(url.toString().replace(/^http/, "ws"), {
    headers: { Authorization: `Token ${key}` },
  });
  const messages: unknown[] = [];
  await new Promise<void>((resolve, reject) => {
    ws.once("error", reject);
    ws.once("open", () => resolve());
  });
  const finished = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no end of turn within 20 s")), 20_000);
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const message = JSON.parse(String(data));
      messages.push(message);
      if (done(message)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  for (let at = 0; at < pcm.length; at += 640) {
    ws.send(pcm.subarray(at, at + 640));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // Silence keeps flowing until the turn ends, as from an open microphone.
  const silence = setInterval(() => ws.send(Buffer.alloc(640)), 20);
  try {
    await finished;
  } finally {
    clearInterval(silence);
    ws.send(JSON.stringify({ type: "CloseStream" }));
    ws.close();
  }
  return messages as { type?: string; event?: string; transcript?: string }[];
}

describe.skipIf(!key || !hasEspeak)("live Deepgram API", () => {
  it("Nova: interim and final results, end of speech, all in the shapes we parse", async () => {
    const messages = await listen(
      liveSttUrl({ apiKey: key ?? "", baseUrl, model: "nova-3" }),
      spokenPcm(),
      (m) => m.type === "UtteranceEnd",
    );
    for (const message of messages.filter((m) => m.type !== "Metadata"))
      expect(readNovaMessage(message), JSON.stringify(message)).toBeDefined();
    const finals = messages
      .map((m) => readNovaMessage(m))
      .filter((m) => m?.type === "Results" && m.isFinal);
    expect(JSON.stringify(finals)).toMatch(/list/i);
  }, 60_000);

  it("Flux: turn events up to EndOfTurn, in the shapes we parse", async () => {
    const messages = await listen(
      liveSttUrl({ apiKey: key ?? "", baseUrl, model: "flux-general-en" }),
      spokenPcm(),
      (m) => m.type === "TurnInfo" && m.event === "EndOfTurn",
    );
    for (const message of messages)
      expect(readFluxMessage(message), JSON.stringify(message)).toBeDefined();
    const end = messages.find((m) => m.event === "EndOfTurn");
    expect(end?.transcript).toMatch(/list/i);
  }, 60_000);

  it("Aura's socket: Speak and Flush bring audio, then Flushed", async () => {
    const url = auraSocketUrl({ apiKey: key ?? "", baseUrl });
    const ws = new WebSocket(url.toString().replace(/^http/, "ws"), {
      headers: { Authorization: `Token ${key}` },
    });
    let audioBytes = 0;
    const messages: unknown[] = [];
    const flushed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no Flushed within 15 s")), 15_000);
      ws.on("message", (data, isBinary) => {
        if (isBinary) {
          audioBytes += (data as Buffer).length;
          return;
        }
        const message = JSON.parse(String(data));
        messages.push(message);
        if (message.type === "Flushed") {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await new Promise((resolve) => ws.once("open", resolve));
    ws.send(JSON.stringify({ type: "Speak", text: "Done, it is on your list." }));
    ws.send(JSON.stringify({ type: "Flush" }));
    await flushed;
    ws.send(JSON.stringify({ type: "Close" }));
    ws.close();
    // About a second and a half of 16 kHz PCM16.
    expect(audioBytes).toBeGreaterThan(16_000);
    for (const message of messages)
      expect(readAuraMessage(message), JSON.stringify(message)).toBeDefined();
  }, 60_000);
});
