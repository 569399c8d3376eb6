/**
 * Bridged calls for the bridge benchmark: each signs in on the app as the page does, asks for a
 * person (the fake Claude calls `transfer_to_agent`; the fake Twilio rings, answers and opens
 * the media stream), and then talks both ways in real time — the page's speech-like 16 kHz PCM
 * and the human's μ-law tone — while every frame's send and arrival is timed on this process's
 * clock: the page's side here, the Twilio side through the fake's `onMediaFrame`.
 */
import { AudioFrameKind } from "../protocol/audio-frame.ts";
import { scriptClaude } from "../test/fakes/anthropic/client.ts";
import { humanTone, scriptTwilio, twilioCalls } from "../test/fakes/twilio/client.ts";
import type { MediaFrameEvent } from "../test/fakes/twilio/media-peer.ts";
import { NodeCaller } from "../test/support/node-caller.ts";

export const FRAME_MS = 20;
export const FRAMES_PER_SECOND = 1000 / FRAME_MS;
const CALLER_FRAME_SAMPLES = 320; // 20 ms at 16 kHz
const PINS = ["1234", "5678", "2468"]; // the seeded demo callers

/** Per call, when each frame was sent and when it arrived (performance.now, this process). */
export interface Timeline {
  callerSent: number[];
  /** The app's `media` messages, as the fake Twilio received them. */
  twilioGot: number[];
  /** The human's `media` messages, as the fake Twilio sent them. */
  humanSent: number[];
  /** `HumanPcm16k` frames, as the page received them. */
  pageGot: number[];
  /** Page frames whose sequence number did not follow the previous one's. */
  seqGaps: number;
}

export interface BridgedCall {
  index: number;
  caller: NodeCaller;
  callSid: string;
  timeline: Timeline;
}

export interface Fakes {
  anthropic: string;
  twilio: string;
}

/** The timelines of every call, by Twilio call SID; the fake Twilio reports into it. */
export class FrameLog {
  readonly #timelines = new Map<string, Timeline>();

  readonly onMediaFrame = (frame: MediaFrameEvent) => {
    const timeline = this.timeline(frame.callSid);
    const list = frame.direction === "to_app" ? timeline.humanSent : timeline.twilioGot;
    list[frame.index] = frame.at;
  };

  timeline(callSid: string): Timeline {
    let timeline = this.#timelines.get(callSid);
    if (!timeline) {
      timeline = { callerSent: [], twilioGot: [], humanSent: [], pageGot: [], seqGaps: 0 };
      this.#timelines.set(callSid, timeline);
    }
    return timeline;
  }

  clear() {
    this.#timelines.clear();
  }
}

/** `n` calls bridged to the fake human, ten at a time. */
export async function bridgeCalls(
  appUrl: string,
  fakes: Fakes,
  log: FrameLog,
  n: number,
  runId: string,
): Promise<BridgedCall[]> {
  const calls: BridgedCall[] = [];
  // Ten at a time: sign-ins from one address share its PIN throttle's attempts in flight.
  for (let first = 0; first < n; first += 10) {
    const batch = Array.from({ length: Math.min(10, n - first) }, (_, j) => first + j);
    calls.push(...(await Promise.all(batch.map((i) => bridgeOne(appUrl, fakes, log, i, runId)))));
  }
  return calls;
}

async function bridgeOne(
  appUrl: string,
  fakes: Fakes,
  log: FrameLog,
  index: number,
  runId: string,
): Promise<BridgedCall> {
  const { caller, signedIn } = await NodeCaller.signIn(appUrl, PINS[index % PINS.length] ?? "");
  // Bracketed: "call 1" must not match inside "call 10" (the fake matches substrings).
  const ref = `[bridge ${runId} call ${index}]`;
  // The tool call; then, in whichever order they come, the reply after it and the summary.
  await scriptClaude(fakes.anthropic, ref, [
    {
      kind: "tool_use",
      calls: [
        { name: "transfer_to_agent", input: { department: "support", reason: `Bench ${ref}` } },
      ],
    },
    { kind: "text", text: "Connecting you to support now." },
    { kind: "text", text: `The caller asked for a person ${ref}.` },
    { kind: "text", text: "Okay." },
  ]);
  await scriptTwilio(fakes.twilio, signedIn.sessionId, [
    { status: "initiated" },
    { status: "ringing", afterMs: 50 },
    { status: "in-progress", afterMs: 200 },
  ]);
  caller.say(`I'd like to talk to a person, please ${ref}`);
  const status = await caller.until(
    "transfer_status",
    (m) => m.state === "connected" || m.state === "failed" || m.state === "ended",
    60_000,
  );
  if (status.state !== "connected") {
    throw new Error(`call ${index}: the transfer ${status.state} (${status.outcome})`);
  }
  const [call] = await twilioCalls(fakes.twilio, signedIn.sessionId);
  if (!call) throw new Error(`call ${index}: the fake Twilio has no call`);
  const timeline = log.timeline(call.sid);
  let lastSeq: number | undefined;
  caller.ws.addEventListener("message", (event) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    const at = performance.now();
    const bytes = new Uint8Array(event.data);
    if (bytes[0] !== AudioFrameKind.HumanPcm16k) return;
    const seq = (bytes[2] ?? 0) | ((bytes[3] ?? 0) << 8);
    if (lastSeq !== undefined && seq !== ((lastSeq + 1) & 0xffff)) timeline.seqGaps += 1;
    lastSeq = seq;
    timeline.pageGot.push(at);
  });
  return { index, caller, callSid: call.sid, timeline };
}

/**
 * Caller speech, roughly: a voice gliding around 150 Hz with two harmonics and two formant
 * tones, at a 4 Hz syllable rate. One 10 s loop shared by every call, each starting elsewhere.
 */
const SPEECH_FRAMES = 500;
const SPEECH = (() => {
  const rate = 16_000;
  const pcm = new Int16Array(SPEECH_FRAMES * CALLER_FRAME_SAMPLES);
  let phase = 0;
  for (let n = 0; n < pcm.length; n++) {
    const t = n / rate;
    phase += (2 * Math.PI * (150 + 40 * Math.sin(2 * Math.PI * 0.5 * t))) / rate;
    const voice = Math.sin(phase) + 0.5 * Math.sin(2 * phase) + 0.25 * Math.sin(3 * phase);
    const formants =
      0.3 * Math.sin(2 * Math.PI * 700 * t) + 0.15 * Math.sin(2 * Math.PI * 1_800 * t);
    const envelope = 0.2 + 0.8 * Math.sin(2 * Math.PI * 4 * t) ** 2;
    pcm[n] = Math.round(5_000 * envelope * (voice + formants));
  }
  return new Uint8Array(pcm.buffer);
})();

function speechFrame(call: number, k: number): Uint8Array {
  const at = ((k + call * 37) % SPEECH_FRAMES) * CALLER_FRAME_SAMPLES * 2;
  return SPEECH.subarray(at, at + CALLER_FRAME_SAMPLES * 2);
}

/**
 * `count` caller frames in real time from `startAt`, drift-corrected. Calls are not in lockstep:
 * call i of n starts i/n of a frame later.
 */
function speak(call: BridgedCall, n: number, count: number, startAt: number): Promise<void> {
  const phased = startAt + (call.index * FRAME_MS) / n;
  const first = call.timeline.callerSent.length;
  return new Promise((resolve) => {
    let k = 0;
    const tick = () => {
      if (call.caller.closed) return resolve();
      call.caller.sendPcm(speechFrame(call.index, first + k));
      call.timeline.callerSent.push(performance.now());
      k += 1;
      if (k === count) return resolve();
      setTimeout(tick, Math.max(0, phased + k * FRAME_MS - performance.now()));
    };
    setTimeout(tick, Math.max(0, phased - performance.now()));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A call's page socket closed: under `wrangler dev`, usually a reload after an edit. */
export class CallDropped extends Error {}

function checkOpen(calls: BridgedCall[]) {
  const dropped = calls.find((c) => c.caller.closed);
  if (dropped) {
    throw new CallDropped(
      `call ${dropped.index}: the page's socket closed (${dropped.caller.closed?.code}); did wrangler dev reload?`,
    );
  }
}

/**
 * Both ways for `seconds`: the page's speech, and the human's tone (each call its own pitch) on
 * the stream's own 20 ms clock. Resolves once both sides have sent their last frame.
 */
export async function talk(calls: BridgedCall[], twilio: string, seconds: number) {
  const frames = seconds * FRAMES_PER_SECOND;
  const humanTarget = calls.map((c) => c.timeline.humanSent.length + frames);
  await Promise.all(
    calls.map((c) =>
      humanTone(twilio, c.callSid, { hz: 300 + 23 * c.index, ms: seconds * 1000, amplitude: 0.3 }),
    ),
  );
  // After the tones are asked for, so a slow request cannot make the page send in a burst.
  const startAt = performance.now() + 5;
  await Promise.all(calls.map((c) => speak(c, calls.length, frames, startAt)));
  checkOpen(calls);
  const deadline = performance.now() + 10_000;
  while (calls.some((c, i) => c.timeline.humanSent.length < (humanTarget[i] ?? 0))) {
    checkOpen(calls);
    if (performance.now() > deadline) throw new CallDropped("the human's frames stopped");
    await sleep(FRAME_MS);
  }
}

function complete(t: Timeline): boolean {
  return t.twilioGot.length >= t.callerSent.length && t.pageGot.length >= t.humanSent.length;
}

/** Waits until every frame sent has arrived; false if some have not within `timeoutMs`. */
export async function drain(calls: BridgedCall[], timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!calls.every((c) => complete(c.timeline))) {
    checkOpen(calls);
    if (performance.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

export function lastArrival(calls: BridgedCall[]): number {
  return Math.max(
    ...calls.flatMap((c) => [c.timeline.twilioGot.at(-1) ?? 0, c.timeline.pageGot.at(-1) ?? 0]),
  );
}

/** One-way times of the frames from index `from` on, sent and received paired by order. */
export function oneWay(sent: number[], received: number[], from: number): number[] {
  const out: number[] = [];
  for (let k = from; k < sent.length && k < received.length; k++) {
    const s = sent[k];
    const r = received[k];
    if (s !== undefined && r !== undefined) out.push(r - s);
  }
  return out;
}

/** Frames sent and received each way, over all calls. */
export function frameCounts(calls: BridgedCall[]) {
  const sum = (f: (t: Timeline) => number) => calls.reduce((a, c) => a + f(c.timeline), 0);
  const counts = {
    caller_sent: sum((t) => t.callerSent.length),
    twilio_received: sum((t) => t.twilioGot.length),
    human_sent: sum((t) => t.humanSent.length),
    page_received: sum((t) => t.pageGot.length),
    page_seq_gaps: sum((t) => t.seqGaps),
  };
  return {
    ...counts,
    counts_match:
      counts.caller_sent === counts.twilio_received &&
      counts.human_sent === counts.page_received &&
      counts.page_seq_gaps === 0,
  };
}
