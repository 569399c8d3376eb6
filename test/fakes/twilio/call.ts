/**
 * One outbound call's life inside the fake: queued → (initiated, ringing) → in-progress → a
 * terminal status, with Twilio's ring timeout (`no-answer`), the subscribed status callbacks
 * (delivered one at a time, in order), the call's TwiML run on answer (its Media Stream opened)
 * and the REST updates Twilio allows.
 */
import { type MediaFrameEvent, MediaPeer } from "./media-peer.ts";
import type { Tone } from "./mulaw.ts";
import { type CreateCallRequest, callResource, newSid, type TwilioError } from "./rest.ts";
import {
  type CallRecord,
  type CallStatus,
  isTerminal,
  type ParsedStep,
  type StepStatus,
  type TerminalStatus,
  type UpdateRecord,
} from "./scenario.ts";
import { readInstructions, type StreamInstruction } from "./twiml.ts";
import { type CallIdentity, fetchTwiml, StatusCallbacks } from "./webhooks.ts";

export interface CallContext {
  accountSid: string;
  authToken: string;
  /** μ-law silence between the human's tones. */
  silence: boolean;
  /** Hang up when the app's side drops the media stream (server.ts). */
  hangUpWhenStreamDrops: boolean;
  /** Aborted when the fake closes. */
  signal: AbortSignal;
  /** Every `media` message of the call's streams, timed (benchmarks). */
  onMediaFrame?: (frame: MediaFrameEvent) => void;
}

/** The SIP final response a SIP call's completed callback reports, unless scripted. */
const SIP_RESPONSE: Record<TerminalStatus, number> = {
  completed: 200,
  busy: 486,
  "no-answer": 487,
  canceled: 487,
  failed: 503,
};

const NOT_IN_PROGRESS: TwilioError = {
  status: 400,
  code: 21220,
  message: "Call is not in-progress. Cannot redirect.",
};

export class Call {
  readonly sid = newSid("CA");
  readonly created = new Date();
  #updated = this.created;
  #status: CallStatus = "queued";
  readonly #statuses: CallStatus[] = ["queued"];
  readonly #updates: UpdateRecord[] = [];
  readonly #errors: string[] = [];
  #stream: MediaPeer | null = null;
  /** Streams a redirect replaced: their end does not end the call. */
  readonly #retired = new WeakSet<MediaPeer>();
  #answeredAt: Date | null = null;
  #endedAt: Date | null = null;
  #ringTimer: ReturnType<typeof setTimeout> | undefined;

  readonly request: CreateCallRequest;
  readonly #context: CallContext;
  readonly #callbacks: StatusCallbacks;

  constructor(request: CreateCallRequest, context: CallContext) {
    this.request = request;
    this.#context = context;
    const { statusCallback: url, statusCallbackMethod: method } = request;
    const { authToken, signal } = context;
    this.#callbacks = new StatusCallbacks(
      url ? { url, method, authToken, signal } : null,
      request.events,
    );
  }

  get status(): CallStatus {
    return this.#status;
  }

  /** Starts the ring timeout and plays the scenario. */
  start(steps: ParsedStep[]): void {
    this.#ringTimer = setTimeout(() => this.#end("no-answer"), this.request.timeout * 1000);
    this.#background("scenario", () => this.#run(steps));
  }

  tone(tone: Tone): Promise<void> {
    if (!this.#stream?.isOpen) {
      this.#error("tone: the call has no open Media Stream");
      return Promise.resolve();
    }
    return this.#stream.tone(tone);
  }

  /**
   * The stream's connection is lost (no `stop`, no close): the call stays up until someone ends
   * it, as while Twilio has not noticed a silent drop. False if there is no open stream.
   */
  async dropStream(): Promise<boolean> {
    const stream = this.#stream;
    if (!stream?.isOpen) return false;
    await stream.drop();
    return true;
  }

  dtmf(digits: string): void {
    if (this.#stream?.isOpen) this.#stream.dtmf(digits);
    else this.#error("dtmf: the call has no open Media Stream");
  }

  /** The human picks up now, as a scripted `in-progress` step would; false if past that. */
  answer(openStream = true): boolean {
    return this.#apply("in-progress", undefined, openStream);
  }

  /** The human hangs up; before answering, that is a rejected call (busy). */
  hangUp(): void {
    if (isTerminal(this.#status)) this.#error(`hangup: the call is already ${this.#status}`);
    else this.#end(this.#answeredAt ? "completed" : "busy");
  }

  /** `POST …/Calls/{Sid}.json`: Status=canceled|completed, or a redirect (Twiml or Url). */
  update(form: URLSearchParams): TwilioError | null {
    const Status = form.get("Status") ?? undefined;
    const Twiml = form.get("Twiml") ?? undefined;
    const Url = form.get("Url") ?? undefined;
    const error = this.#applyUpdate(Status, Twiml, Url);
    this.#updates.push({ Status, Twiml, Url, at: Date.now(), httpStatus: error?.status ?? 200 });
    return error;
  }

  resource() {
    const ended = this.#endedAt;
    return callResource({
      sid: this.sid,
      accountSid: this.#context.accountSid,
      to: this.request.to,
      from: this.request.from,
      status: this.#status,
      created: this.created,
      updated: this.#updated,
      startTime: this.#answeredAt,
      endTime: ended,
      duration: ended ? this.#duration() : null,
    });
  }

  record(): CallRecord {
    return {
      sid: this.sid,
      params: structuredClone(this.request.params),
      status: this.#status,
      statuses: [...this.#statuses],
      callbacks: structuredClone(this.#callbacks.records),
      updates: structuredClone(this.#updates),
      stream: this.#stream?.record() ?? null,
      errors: [...this.#errors],
    };
  }

  dispose(): void {
    clearTimeout(this.#ringTimer);
    void this.#stream?.close(1001);
  }

  async #run(steps: ParsedStep[]): Promise<void> {
    for (const step of steps) {
      await this.#sleep(step.afterMs ?? 0);
      if (this.#context.signal.aborted) return;
      if ("status" in step) this.#apply(step.status, step.sipResponseCode, step.openStream);
      else if ("callback" in step)
        this.#callbacks.raw(this.#identity(), this.#status, step.callback);
      else if ("tone" in step) await this.tone(step.tone);
      else if ("dtmf" in step) this.dtmf(step.dtmf);
      else if ("hangup" in step) this.hangUp();
      else await this.#sleep(step.wait);
    }
  }

  /** Applies a scripted status; false (and an error recorded) when the call is past it. */
  #apply(status: StepStatus, sipCode?: number, openStream = true): boolean {
    if (isTerminal(this.#status)) {
      this.#error(`step "${status}" ignored: the call is already ${this.#status}`);
      return false;
    }
    if (isTerminal(status)) {
      this.#end(status, sipCode);
      return true;
    }
    if (status === "in-progress") {
      if (this.#answeredAt) {
        this.#error("step in-progress ignored: already answered");
        return false;
      }
      clearTimeout(this.#ringTimer);
      this.#answeredAt = new Date();
    }
    this.#setStatus(status);
    const sip: Record<string, string> =
      sipCode === undefined ? {} : { SipResponseCode: String(sipCode) };
    const event = status === "in-progress" ? "answered" : status;
    this.#callbacks.event(this.#identity(), event, status, sip);
    if (status === "in-progress" && openStream) {
      const twiml = this.request.twiml;
      this.#background("answer", () => this.#runInstructions(twiml ?? null));
    }
    return true;
  }

  #applyUpdate(status?: string, twiml?: string, url?: string): TwilioError | null {
    if (isTerminal(this.#status)) return NOT_IN_PROGRESS;
    if (status !== undefined) {
      if (status !== "canceled" && status !== "completed") {
        return { status: 400, code: 20001, message: `Invalid parameter: Status ${status}` };
      }
      // Twilio: `canceled` hangs up queued or ringing calls "but will not affect calls already
      // in progress"; `completed` hangs up either (a call that never answered is canceled).
      if (!this.#answeredAt) this.#end("canceled");
      else if (status === "completed") this.#end("completed");
      return null;
    }
    if (twiml === undefined && url === undefined) return null;
    if (!this.#answeredAt) return NOT_IN_PROGRESS;
    const old = this.#stream;
    this.#background("redirect", async () => {
      if (old) {
        this.#retired.add(old);
        await old.stop();
      }
      await this.#runInstructions(twiml ?? null, url);
    });
    return null;
  }

  /** Runs the call's TwiML as Twilio would on answer (or on a redirect). */
  async #runInstructions(twiml: string | null, url = this.request.url): Promise<void> {
    let document = twiml;
    if (document === null && url) {
      const { authToken, signal } = this.#context;
      const target = { url, method: this.request.method, authToken, signal };
      const fetched = await fetchTwiml(target, this.#identity());
      if ("error" in fetched) this.#error(fetched.error);
      else document = fetched.twiml;
    }
    if (isTerminal(this.#status)) return;
    const instructions = document === null ? null : readInstructions(document);
    if (instructions?.kind === "stream") return this.#openStream(instructions.stream);
    if (instructions?.kind === "invalid") this.#error(instructions.error);
    // With nothing (left) to run, Twilio hangs up.
    this.#end("completed");
  }

  async #openStream(instruction: StreamInstruction): Promise<void> {
    if (instruction.url.includes("?")) {
      this.#error(
        "<Stream url> has a query string, which Twilio does not support: use <Parameter>",
      );
    }
    const peer = new MediaPeer({
      url: instruction.url,
      accountSid: this.#context.accountSid,
      callSid: this.sid,
      customParameters: instruction.parameters,
      authToken: this.#context.authToken,
      silence: this.#context.silence,
      onMediaFrame: this.#context.onMediaFrame,
      // <Connect><Stream> ends when the socket does (or cannot open); with no TwiML after it,
      // Twilio then hangs up.
      onEnd: (closedBy) => {
        if (closedBy === "fake" || this.#retired.has(peer)) return;
        if (closedBy === "app" && !this.#context.hangUpWhenStreamDrops) return;
        this.#end("completed");
      },
    });
    this.#stream = peer;
    await peer.connect();
    // The call may have ended while the socket was opening.
    if (isTerminal(this.#status) && peer.isOpen) await peer.stop();
  }

  /** Ends the call: `stop` on an open stream, then the `completed` callback. */
  #end(terminal: TerminalStatus, sipCode?: number): void {
    if (isTerminal(this.#status)) return;
    clearTimeout(this.#ringTimer);
    this.#setStatus(terminal);
    this.#endedAt = new Date();
    const duration = this.#duration();
    const extra: Record<string, string> = {
      CallDuration: String(duration),
      Duration: String(Math.ceil(duration / 60)),
    };
    const sip = sipCode ?? (/^sip:/i.test(this.request.to) ? SIP_RESPONSE[terminal] : undefined);
    if (sip !== undefined) extra.SipResponseCode = String(sip);
    const stream = this.#stream;
    this.#background("end", async () => {
      if (stream?.isOpen) await stream.stop();
      this.#callbacks.event(this.#identity(), "completed", terminal, extra);
    });
  }

  #identity(): CallIdentity {
    const { accountSid } = this.#context;
    return { accountSid, callSid: this.sid, from: this.request.from, to: this.request.to };
  }

  #setStatus(status: CallStatus): void {
    this.#status = status;
    this.#statuses.push(status);
    this.#updated = new Date();
  }

  #duration(): number {
    if (!this.#answeredAt || !this.#endedAt) return 0;
    return Math.ceil((this.#endedAt.getTime() - this.#answeredAt.getTime()) / 1000);
  }

  #sleep(ms: number): Promise<void> {
    const { signal } = this.#context;
    if (ms <= 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  #background(label: string, task: () => Promise<void>): void {
    task().catch((error: unknown) => this.#error(`${label}: ${String(error)}`));
  }

  #error(message: string): void {
    this.#errors.push(message);
  }
}
