/** `npm run bench`: one simulated caller page — signs in, streams audio, speaks, takes the reply. */
import {
  AUDIO_HEADER_BYTES,
  AudioFrameFlag,
  AudioFrameKind,
  encodeAudioFrame,
} from "../../protocol/audio-frame.ts";
import { parseServerMessage, type ServerMessageOf } from "../../protocol/messages.ts";
import { QuietFrames } from "../../web/caller/audio/quiet-frames.ts";
import { FRAME_BYTES, PAGE_FRAMES, PLAYOUT_DELAY_MS, QUIET_MS, UTTERANCE_MS } from "./settings.ts";

export interface PageTurn {
  /** Where the utterance's last word ends in the caller's audio (ms). */
  endAudioMs: number;
  /** Scripted later than the gap asked for (its first words would have been in the past). */
  late: boolean;
  replyAt?: number;
  lastFrameAt?: number;
  /** Milliseconds of reply audio received. */
  replyAudioMs?: number;
  doneAt?: number;
  frames: number;
  server?: ServerMessageOf<"voice_metrics">;
}

/** A simulated caller page, whatever protocol it speaks (the app's, or library-call.ts's). */
export interface CallerPage {
  readonly index: number;
  readonly tag: string;
  /** The call's name at the fakes (`session:NAME`): the app's session id, or the agent's name. */
  sessionId: string;
  readonly turns: PageTurn[];
  current: number;
  interruptions: number;
  onReplyDone: ((call: CallerPage, turn: number) => void) | undefined;
  /** Connected and ready to stream (the app: signed in with `pin`). */
  signIn(pin: string): Promise<string>;
  finished(turns: number): Promise<void>;
  /** The caller's audio up to `audioMs`: one more frame. */
  tick(audioMs: number): void;
  close(): void;
  describe(turns: number): string;
}

/**
 * The page's current reply, `turn`, is all received once none of its frames has come for
 * QUIET_MS (its last frame is the one before): the page moves on to the next, tells the bench
 * (`onReplyDone`), then runs `then`.
 */
export function replyDoneWhenQuiet(page: CallerPage, turn: PageTurn, then: () => void) {
  const since = performance.now() - (turn.lastFrameAt ?? 0);
  if (turn.lastFrameAt !== undefined && since < QUIET_MS) {
    setTimeout(() => replyDoneWhenQuiet(page, turn, then), QUIET_MS - since);
    return;
  }
  const index = page.current;
  page.current += 1;
  page.onReplyDone?.(page, index);
  then();
}

/** Resolves once the page's socket is open (at once if it is); rejects if it fails to open. */
export async function whenOpen(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.OPEN) return;
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", reject, { once: true });
  });
}

/** Opens a caller page of the kind the app under test speaks. */
export type OpenPage = (pageUrl: string, index: number, tag: string) => CallerPage;

export const openAppPage: OpenPage = (pageUrl, index, tag) =>
  new SimulatedCall(`${pageUrl.replace("http", "ws")}ws`, index, tag);

export class SimulatedCall implements CallerPage {
  readonly index: number;
  readonly tag: string;
  sessionId = "";
  readonly turns: PageTurn[] = [];
  /** The turn being answered (its reply's frames count there); then, all received. */
  current = 0;
  interruptions = 0;
  readonly #ws: WebSocket;
  #seq = 0;
  readonly #quiet = new QuietFrames();
  #metrics = 0;
  #onSignedIn: ((sessionId: string) => void) | undefined;
  #failed: ((error: Error) => void) | undefined;
  #onDone: (() => void) | undefined;
  /** A reply was all received (assistant_done after its audio): the bench places the next turn. */
  onReplyDone: ((call: CallerPage, turn: number) => void) | undefined;
  readonly #recent: string[] = [];

  constructor(url: string, index: number, tag: string) {
    this.index = index;
    this.tag = tag;
    this.#ws = new WebSocket(url);
    this.#ws.binaryType = "arraybuffer";
    this.#ws.addEventListener("message", (event) => this.#onMessage(event.data));
    this.#ws.addEventListener("close", () => this.#failed?.(new Error("socket closed")));
  }

  async signIn(pin: string): Promise<string> {
    await whenOpen(this.#ws);
    const signedIn = new Promise<string>((resolve, reject) => {
      this.#onSignedIn = resolve;
      this.#failed = reject;
    });
    this.#ws.send(JSON.stringify({ type: "sign_in", pin }));
    this.sessionId = await signedIn;
    return this.sessionId;
  }

  /** Resolves when every turn's reply was received, with the server's figures for it. */
  finished(turns: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#failed = reject;
      this.#onDone = () => {
        if (this.current >= turns && this.#metrics >= turns) resolve();
      };
      this.#onDone();
    });
  }

  /**
   * One more frame of caller audio (silent: the fake Deepgram hears words by their place in the
   * stream). With --frame-ms page it goes out as the page sends it, the utterances counting as
   * the caller's voice.
   */
  tick(audioMs: number) {
    if (this.#ws.readyState !== WebSocket.OPEN) return;
    if (!PAGE_FRAMES) return this.#send(SILENCE);
    const speaking = this.turns.some(
      (turn) => audioMs > turn.endAudioMs - UTTERANCE_MS && audioMs <= turn.endAudioMs,
    );
    this.#quiet.push(SILENT_SAMPLES, speaking ? 1 : 0, true, (pcm) =>
      this.#send(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength)),
    );
  }

  #send(pcm: Uint8Array) {
    this.#seq = (this.#seq + 1) & 0xffff;
    this.#ws.send(encodeAudioFrame(AudioFrameKind.CallerPcm16k, this.#seq, pcm));
  }

  close() {
    this.#failed = undefined;
    this.#ws.close();
  }

  describe(turns: number): string {
    return `${this.current}/${turns} replies, ${this.#metrics} voice_metrics; last: ${this.#recent.join(", ")}`;
  }

  #onMessage(data: unknown) {
    const now = performance.now();
    if (data instanceof ArrayBuffer) {
      const bytes = new Uint8Array(data);
      if (bytes[0] !== AudioFrameKind.AssistantPcm) return;
      const turn = this.turns[this.current];
      if (!turn) return;
      if ((bytes[1] ?? 0) & AudioFrameFlag.ReplyStart) turn.replyAt ??= now;
      turn.lastFrameAt = now;
      turn.frames += 1;
      turn.replyAudioMs = (turn.replyAudioMs ?? 0) + (bytes.byteLength - AUDIO_HEADER_BYTES) / 32;
      return;
    }
    const parsed = parseServerMessage(String(data));
    if (!parsed.ok) return;
    const message = parsed.message;
    this.#recent.push(
      message.type === "transcript" ? `transcript(${message.entry.text.slice(-30)})` : message.type,
    );
    if (this.#recent.length > 12) this.#recent.shift();
    switch (message.type) {
      case "signed_in":
        return this.#onSignedIn?.(message.sessionId);
      case "playback_clear": {
        // Spoken over: answered as the page does, with what it played.
        this.interruptions += 1;
        const replyAt = this.turns[this.current]?.replyAt ?? now;
        const playedMs = Math.max(0, Math.round(now - replyAt));
        this.#ws.send(
          JSON.stringify({ type: "playback_stopped", turnId: message.turnId, playedMs }),
        );
        return;
      }
      case "voice_metrics": {
        if (message.endToEndPlayedMs !== null) return;
        const turn = this.turns[this.#metrics];
        if (turn) turn.server = message;
        this.#metrics += 1;
        // As the page does once its player started the reply.
        this.#ws.send(
          JSON.stringify({
            type: "playback_started",
            turnId: message.turnId,
            playoutDelayMs: PLAYOUT_DELAY_MS,
          }),
        );
        return this.#onDone?.();
      }
      case "assistant_done": {
        const turn = this.turns[this.current];
        if (!turn || turn.doneAt !== undefined) return;
        turn.doneAt = now;
        return replyDoneWhenQuiet(this, turn, () => this.#onDone?.());
      }
      case "error":
      case "session_ended":
        return this.#failed?.(new Error(JSON.stringify(message)));
    }
  }
}

const SILENCE = new Uint8Array(FRAME_BYTES);
const SILENT_SAMPLES = new Int16Array(FRAME_BYTES / 2);
