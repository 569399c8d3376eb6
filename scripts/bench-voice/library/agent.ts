/**
 * `npm run bench -- --compare library`: Cloudflare's own voice library, the yardstick issue 11
 * names — `@cloudflare/voice` (the Agents SDK's `withVoice`) with `@anthropic-ai/sdk`, a minimal
 * `withVoice(Agent)` agent: each utterance goes to Claude with the call's history, the reply is
 * spoken sentence by sentence. Served as the app is (wrangler dev, one SQLite-backed Durable
 * Object per call) and driven by the same simulated callers over the same provider fakes.
 *
 * The library's own speech providers are Workers AI's; Deepgram's are written here, as small as
 * the library's interfaces allow: Nova's live socket (opened with the call's first audio, as the
 * app opens it; an utterance is the finals up to `speech_final`) and Aura over HTTP, whose body
 * streams. The fakes know a call by its agent's name (`extra=` / `tag=` `session:NAME`).
 */
import Anthropic from "@anthropic-ai/sdk";
import {
  type StreamingTTSProvider,
  type Transcriber,
  type TranscriberSession,
  type TranscriberSessionOptions,
  type TTSProvider,
  type VoiceTurnContext,
  withVoice,
} from "@cloudflare/voice";
import { Agent, routeAgentRequest } from "agents";
import { auraUrl } from "../../../voice/deepgram/aura-tts.ts";
import { liveSttUrl } from "../../../voice/deepgram/live-stt.ts";

/** The project's Env and this Worker's binding (env.d.ts): the same provider settings. */
type Env = Cloudflare.Env;

/** The library's default model is not ours to choose; the fake answers any. */
const MODEL = "claude-haiku-4-5";

class DeepgramNova implements Transcriber {
  readonly #env: Env;
  readonly #session: string;

  constructor(env: Env, session: string) {
    this.#env = env;
    this.#session = session;
  }

  createSession(options: TranscriberSessionOptions = {}): TranscriberSession {
    let socket: WebSocket | undefined;
    let opening = false;
    let closed = false;
    const early: ArrayBuffer[] = [];
    let said = "";
    const onMessage = (data: unknown) => {
      if (typeof data !== "string") return;
      let message: {
        type?: string;
        is_final?: boolean;
        speech_final?: boolean;
        channel?: { alternatives?: { transcript?: string }[] };
      };
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      if (message.type === "SpeechStarted") return options.onSpeechStart?.();
      if (message.type !== "Results") return;
      const text = message.channel?.alternatives?.[0]?.transcript ?? "";
      if (!message.is_final) {
        if (text) options.onInterim?.(said ? `${said} ${text}` : text);
        return;
      }
      if (text) said = said ? `${said} ${text}` : text;
      if (message.speech_final && said) {
        const utterance = said;
        said = "";
        options.onUtterance?.(utterance);
      }
    };
    const open = async () => {
      opening = true;
      const url = liveSttUrl({
        baseUrl: this.#env.DEEPGRAM_BASE_URL,
        apiKey: this.#env.DEEPGRAM_API_KEY,
        extra: { session: this.#session },
      });
      const response = await fetch(url, {
        headers: { Upgrade: "websocket", Authorization: `Token ${this.#env.DEEPGRAM_API_KEY}` },
      });
      const ws = response.webSocket;
      if (!ws) {
        await response.body?.cancel();
        throw new Error(`Deepgram refused the socket (${response.status})`);
      }
      ws.accept();
      ws.addEventListener("message", (event) => onMessage(event.data));
      // As the library's own providers do: a socket lost mid-call ends the call with its error.
      const lost = () => {
        socket = undefined;
        if (!closed) options.onFatalError?.(new Error("Deepgram's socket closed"));
      };
      ws.addEventListener("close", lost);
      ws.addEventListener("error", lost);
      if (closed) return ws.close(1000, "done");
      for (const chunk of early.splice(0)) ws.send(chunk);
      socket = ws;
    };
    return {
      feed(chunk) {
        if (closed) return;
        if (socket) {
          if (socket.readyState === WebSocket.OPEN) socket.send(chunk);
          return;
        }
        early.push(chunk);
        if (!opening) open().catch((error: unknown) => options.onFatalError?.(error as Error));
      },
      close() {
        closed = true;
        early.length = 0;
        if (socket?.readyState !== WebSocket.OPEN) return;
        socket.send(JSON.stringify({ type: "CloseStream" }));
        socket.close(1000, "done");
      },
    };
  }
}

class DeepgramAura implements TTSProvider, StreamingTTSProvider {
  readonly #env: Env;
  readonly #session: string;

  constructor(env: Env, session: string) {
    this.#env = env;
    this.#session = session;
  }

  async synthesize(text: string, signal?: AbortSignal): Promise<ArrayBuffer | null> {
    const response = await this.#request(text, signal);
    return response.arrayBuffer();
  }

  async *synthesizeStream(text: string, signal?: AbortSignal): AsyncGenerator<ArrayBuffer> {
    const response = await this.#request(text, signal);
    if (!response.body) return;
    for await (const chunk of response.body) yield (chunk as Uint8Array).slice().buffer;
  }

  async #request(text: string, signal?: AbortSignal): Promise<Response> {
    const url = auraUrl({
      baseUrl: this.#env.DEEPGRAM_BASE_URL,
      apiKey: this.#env.DEEPGRAM_API_KEY,
      tag: `session:${this.#session}`,
    });
    // Raw PCM, as the page plays it: over HTTP Aura would otherwise start each sentence with a
    // WAV header.
    url.searchParams.set("container", "none");
    const response = await fetch(url, {
      method: "POST",
      headers: {
        Authorization: `Token ${this.#env.DEEPGRAM_API_KEY}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ text }),
      ...(signal ? { signal } : {}),
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`Aura answered ${response.status}`);
    }
    return response;
  }
}

export class LibraryAgent extends withVoice(Agent, { audioFormat: "pcm16", sampleRate: 16_000 }) {
  #claude: Anthropic | undefined;

  override createTranscriber(): Transcriber {
    return new DeepgramNova(this.env, this.name);
  }

  override tts = undefined as (TTSProvider & Partial<StreamingTTSProvider>) | undefined;

  override async onStart() {
    this.tts = new DeepgramAura(this.env, this.name);
  }

  override async onTurn(transcript: string, context: VoiceTurnContext) {
    this.#claude ??= new Anthropic({
      apiKey: this.env.ANTHROPIC_API_KEY,
      baseURL: this.env.ANTHROPIC_BASE_URL,
      maxRetries: 0,
    });
    const stream = await this.#claude.messages.create(
      {
        model: MODEL,
        max_tokens: 1024,
        stream: true,
        messages: [...context.messages, { role: "user", content: transcript }],
      },
      { signal: context.signal },
    );
    return (async function* () {
      for await (const event of stream) {
        if (event.type === "content_block_delta" && event.delta.type === "text_delta")
          yield event.delta.text;
      }
    })();
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const routed = await routeAgentRequest(request, env);
    if (routed) return routed;
    // The bench waits for a page here before it starts (and `--direct` looks for one).
    if (new URL(request.url).pathname === "/")
      return new Response("<!doctype html><title>The library yardstick</title>", {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    return new Response("Not found", { status: 404 });
  },
};
