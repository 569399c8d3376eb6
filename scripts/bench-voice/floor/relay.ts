/**
 * `npm run bench -- --compare floor`: the floor of a spoken turn on this runtime — a relay that
 * does only what every turn must: caller audio to Deepgram, the final transcript to Claude, the
 * reply's sentences to Aura, Aura's audio to the page. No sign-in check, no storage, no agent or
 * history, no transcript rows, no logs, no validation beyond what the relay reads: nothing a
 * product may ship. It speaks the caller page's protocol as far as the bench reads it, over the
 * same path as the app (static assets in front, a Worker, one Durable Object per call with the
 * hibernation WebSocket API, wrangler dev and its proxy), so the difference between the two is
 * what the app does on top of the relay. Written by hand: it is the yardstick, not a product.
 */
import { DurableObject } from "cloudflare:workers";
import { createParser } from "eventsource-parser";
import {
  AudioFrameFlag,
  AudioFrameKind,
  encodeAudioFrame,
  MAX_AUDIO_PAYLOAD_BYTES,
} from "../../../protocol/audio-frame.ts";
import { PROTOCOL_VERSION } from "../../../protocol/messages.ts";
import { auraUrl } from "../../../voice/deepgram/aura-tts.ts";
import { liveSttUrl } from "../../../voice/deepgram/live-stt.ts";

interface Env {
  RELAY: DurableObjectNamespace<Relay>;
  ANTHROPIC_API_KEY: string;
  ANTHROPIC_BASE_URL: string;
  DEEPGRAM_API_KEY: string;
  DEEPGRAM_BASE_URL: string;
}

/** A sentence ends at . ! or ? followed by a space: its audio is asked for then. */
const SENTENCE_END = /[.!?]\s/;

export default {
  fetch(request: Request, env: Env): Promise<Response> | Response {
    if (new URL(request.url).pathname !== "/ws") return new Response("Not found", { status: 404 });
    return env.RELAY.get(env.RELAY.newUniqueId()).fetch(request);
  },
};

interface Reply {
  turnId: string;
  text: string;
  /** Text not yet sent to Aura. */
  unspoken: string;
  /** Sentences sent to Aura whose `Flushed` has not come. */
  flushes: number;
  streamed: boolean;
  sentAny: boolean;
  /** Audio after the first 100 ms, joined into 100 ms frames as the app does. */
  unsent: Uint8Array[];
  unsentBytes: number;
  sentBytes: number;
}

export class Relay extends DurableObject<Env> {
  #page: WebSocket | undefined;
  #stt: WebSocket | undefined;
  #aura: WebSocket | undefined;
  #seq = 0;
  #turns = 0;
  #reply: Reply | undefined;
  /** Caller audio that came while Deepgram's socket opened. */
  #early: Uint8Array[] = [];

  get #sessionId(): string {
    return this.ctx.id.toString();
  }

  override async fetch(): Promise<Response> {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server);
    this.#page = server;
    server.send(JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, expect: "sign_in" }));
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer) {
    if (typeof data !== "string") {
      const bytes = new Uint8Array(data);
      if (bytes[0] !== AudioFrameKind.CallerPcm16k) return;
      if (this.#stt) return this.#stt.send(bytes.subarray(4));
      // As the app does: Deepgram is opened with the call's first audio, which waits meanwhile.
      this.#early.push(bytes.slice(4));
      if (this.#early.length === 1) await this.#openStt();
      return;
    }
    const message = JSON.parse(data) as { type?: string };
    if (message.type !== "sign_in") return;
    const aura = await this.#socket(
      auraUrl({
        baseUrl: this.env.DEEPGRAM_BASE_URL,
        apiKey: this.env.DEEPGRAM_API_KEY,
        tag: `session:${this.#sessionId}`,
      }),
    );
    this.#aura = aura;
    aura.addEventListener("message", (event) => this.#onAura(event.data));
    ws.send(
      JSON.stringify({
        type: "signed_in",
        sessionId: this.#sessionId,
        resumeToken: "floor",
        resumeWindowSeconds: 0,
        resumed: false,
        user: { name: "Floor", timezone: "UTC", teams: [] },
        transcript: [],
      }),
    );
  }

  async #openStt() {
    const stt = await this.#socket(
      liveSttUrl({
        baseUrl: this.env.DEEPGRAM_BASE_URL,
        apiKey: this.env.DEEPGRAM_API_KEY,
        extra: { session: this.#sessionId },
      }),
    );
    stt.addEventListener("message", (event) => this.#onStt(event.data));
    for (const pcm of this.#early.splice(0)) stt.send(pcm);
    this.#stt = stt;
  }

  async #socket(url: URL): Promise<WebSocket> {
    const response = await fetch(url, {
      headers: { Upgrade: "websocket", Authorization: `Token ${this.env.DEEPGRAM_API_KEY}` },
    });
    const ws = response.webSocket;
    if (!ws) throw new Error(`${url.pathname}: ${response.status}`);
    ws.accept();
    ws.binaryType = "arraybuffer";
    return ws;
  }

  #onStt(data: unknown) {
    if (typeof data !== "string") return;
    const event = JSON.parse(data) as {
      type?: string;
      is_final?: boolean;
      speech_final?: boolean;
      channel?: { alternatives?: { transcript?: string }[] };
    };
    const text = event.channel?.alternatives?.[0]?.transcript;
    if (event.type === "Results" && event.is_final && event.speech_final && text)
      void this.#answer(text);
  }

  async #answer(said: string) {
    const reply: Reply = {
      turnId: `t${++this.#turns}`,
      text: "",
      unspoken: "",
      flushes: 0,
      streamed: false,
      sentAny: false,
      unsent: [],
      unsentBytes: 0,
      sentBytes: 0,
    };
    this.#reply = reply;
    const response = await fetch(new URL("/v1/messages", this.env.ANTHROPIC_BASE_URL), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-api-key": this.env.ANTHROPIC_API_KEY,
        "anthropic-version": "2023-06-01",
      },
      body: JSON.stringify({
        model: "claude-sonnet-4-5",
        max_tokens: 1024,
        stream: true,
        messages: [{ role: "user", content: said }],
      }),
    });
    if (!response.body) return;
    const parser = createParser({
      onEvent: ({ data }) => {
        const event = JSON.parse(data) as {
          type?: string;
          delta?: { type?: string; text?: string };
        };
        if (event.type === "content_block_delta" && event.delta?.type === "text_delta")
          reply.unspoken += event.delta.text ?? "";
      },
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      for (
        let end = SENTENCE_END.exec(reply.unspoken);
        end;
        end = SENTENCE_END.exec(reply.unspoken)
      ) {
        this.#speak(reply, reply.unspoken.slice(0, end.index + 1));
        reply.unspoken = reply.unspoken.slice(end.index + 2);
      }
    }
    reply.streamed = true;
    if (reply.unspoken.trim()) this.#speak(reply, reply.unspoken);
    reply.unspoken = "";
    this.#finishIfDone(reply);
  }

  #speak(reply: Reply, sentence: string) {
    reply.text += reply.text ? ` ${sentence}` : sentence;
    reply.flushes += 1;
    this.#aura?.send(JSON.stringify({ type: "Speak", text: sentence }));
    this.#aura?.send(JSON.stringify({ type: "Flush" }));
  }

  #onAura(data: unknown) {
    const reply = this.#reply;
    if (!reply) return;
    if (typeof data === "string") {
      if ((JSON.parse(data) as { type?: string }).type !== "Flushed") return;
      reply.flushes -= 1;
      this.#sendUnsent(reply);
      this.#finishIfDone(reply);
      return;
    }
    const pcm = new Uint8Array(data as ArrayBuffer);
    if (reply.sentBytes < MAX_AUDIO_PAYLOAD_BYTES) return this.#sendAudio(reply, pcm);
    reply.unsent.push(pcm);
    reply.unsentBytes += pcm.byteLength;
    if (reply.unsentBytes >= MAX_AUDIO_PAYLOAD_BYTES) this.#sendUnsent(reply);
  }

  #sendUnsent(reply: Reply) {
    if (reply.unsentBytes === 0) return;
    const joined = new Uint8Array(reply.unsentBytes);
    let at = 0;
    for (const piece of reply.unsent) {
      joined.set(piece, at);
      at += piece.byteLength;
    }
    reply.unsent = [];
    reply.unsentBytes = 0;
    for (let from = 0; from < joined.byteLength; from += MAX_AUDIO_PAYLOAD_BYTES)
      this.#sendAudio(reply, joined.subarray(from, from + MAX_AUDIO_PAYLOAD_BYTES));
  }

  #sendAudio(reply: Reply, pcm: Uint8Array) {
    const first = !reply.sentAny;
    reply.sentAny = true;
    reply.sentBytes += pcm.byteLength;
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#page?.send(
      encodeAudioFrame(
        AudioFrameKind.AssistantPcm,
        this.#seq,
        pcm,
        first ? AudioFrameFlag.ReplyStart : 0,
      ),
    );
    // The bench takes a turn's figures once voice_metrics comes; the relay measures nothing.
    if (first)
      this.#page?.send(
        JSON.stringify({
          type: "voice_metrics",
          turnId: reply.turnId,
          endOfTurnDelayMs: null,
          sttFinalDelayMs: null,
          llmTtftMs: null,
          ttsTtfbMs: null,
          serverAddedMs: null,
          endToEndMs: null,
          endToEndPlayedMs: null,
          speculative: false,
        }),
      );
  }

  #finishIfDone(reply: Reply) {
    if (!reply.streamed || reply.flushes > 0) return;
    this.#page?.send(
      JSON.stringify({
        type: "assistant_done",
        turnId: reply.turnId,
        entry: { id: reply.turnId, role: "assistant", text: reply.text, at: Date.now() },
        interrupted: false,
        metrics: { firstTextMs: null, totalMs: 0 },
      }),
    );
  }
}
