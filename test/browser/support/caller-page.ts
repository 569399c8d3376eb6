/**
 * Steps on the caller page shared by the browser tests, whichever driver runs the browser
 * (Playwright for Chromium, puppeteer for Firefox): both offer these two calls. Page code is
 * kept in strings (init scripts, expressions): the tests have no DOM types.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AUDIO_HEADER_BYTES } from "../../../protocol/audio-frame.ts";
import { QUIET_LEVEL } from "../../../web/caller/audio/quiet-frames.ts";
export interface DrivenPage {
  click(selector: string): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
}

/** Where the page keeps the call it can resume (localStorage, for the page's origin). */
export const STORAGE_KEY = "convonet.session";

/** Types the PIN on the page's keypad and submits it. */
export async function enterPin(page: DrivenPage, pin: string) {
  for (const digit of pin) await page.click(`[data-key="${digit}"]`);
  await page.click("[data-testid=pin-submit]");
}

/** The session the page stored for resuming, `{}` when there is none. */
export async function storedSession(
  page: DrivenPage,
): Promise<{ sessionId?: string; token?: string; savedAt?: number; muted?: boolean }> {
  const raw = await page.evaluate(`localStorage.getItem(${JSON.stringify(STORAGE_KEY)})`);
  return typeof raw === "string" ? (JSON.parse(raw) as { sessionId?: string; token?: string }) : {};
}

/**
 * For an init script: holds back the microphone's frames until the test opens the gate.
 * The call is hands-free, so audio flows from the moment the caller signs in — but the fake
 * Deepgram picks its script when the session's first audio opens its socket, and the test can
 * only script it once it knows the session id. Frames before that are counted and dropped.
 * The gate may also let through only so much audio, then close again: the fake Deepgram places
 * words by how much audio it has heard, so the next words wait until the test opens it again.
 */
export const MIC_GATE_SCRIPT = `(() => {
  const send = WebSocket.prototype.send;
  // left: milliseconds of audio still let through (after a frame's header, 16 kHz PCM16: 32 bytes a ms).
  window.micGate = { open: false, held: 0, left: Infinity };
  WebSocket.prototype.send = function (data) {
    if (typeof data !== "string") {
      if (!window.micGate.open || window.micGate.left <= 0) {
        window.micGate.held += 1;
        return;
      }
      window.micGate.left -= (data.byteLength - ${AUDIO_HEADER_BYTES}) / 32;
    }
    return send.call(this, data);
  };
})();`;

/** Audio frames the gate held back: the microphone was streaming before anyone touched it. */
export async function heldFrames(page: DrivenPage): Promise<number> {
  return Number(await page.evaluate("window.micGate?.held ?? 0"));
}

/** Milliseconds of assistant audio the page has handed its player (`data-played-ms` on the body). */
export async function playedMs(page: DrivenPage): Promise<number> {
  return Number(await page.evaluate("document.body.dataset.playedMs ?? 0"));
}

/** What the caller says to end the call: the model hears a goodbye and calls `end_call`. */
export const GOODBYE = "that's all, goodbye";

/**
 * Lets the microphone's audio through: all of it, or only the next `ms` of it (counted in
 * audio, not messages: a quiet caller's frames go out joined, web/caller/audio/quiet-frames.ts;
 * the message that crosses `ms` goes whole).
 */
export async function openMicGate(page: DrivenPage, ms?: number) {
  await page.evaluate(
    `window.micGate.left = ${ms === undefined ? "Infinity" : String(ms)}; window.micGate.open = true`,
  );
}

/**
 * For an init script: records every state the call's indicator shows, in order, in
 * `window.callStates`, and "ended" when the ended view appears — in one list, so it shows what
 * came before the end (page code, so a string: the tests have no DOM types).
 */
export const WATCH_STAGE_SCRIPT = `addEventListener("DOMContentLoaded", () => {
  const stage = document.querySelector("[data-testid=stage]");
  const ended = document.querySelector("[data-testid=ended]");
  const states = [stage.dataset.state];
  window.callStates = states;
  const push = (value) => {
    if (states.at(-1) !== value) states.push(value);
  };
  // Changes in one task come in one batch: a record's new value is the old value of the next
  // record on the same element (or, for the last, the element's value now).
  const observer = new MutationObserver((records) => {
    records.forEach((record, i) => {
      const next = records.slice(i + 1).find((r) => r.target === record.target);
      if (record.target === stage) push(next ? next.oldValue : stage.dataset.state);
      else if ((next ? next.oldValue : ended.getAttribute("hidden")) === null) push("ended");
    });
  });
  observer.observe(stage, { attributeFilter: ["data-state"], attributeOldValue: true });
  observer.observe(ended, { attributeFilter: ["hidden"], attributeOldValue: true });
});`;

/** The states recorded by WATCH_STAGE_SCRIPT so far. */
export async function callStates(page: DrivenPage): Promise<string[]> {
  const states = await page.evaluate("window.callStates ?? []");
  return Array.isArray(states) ? states.map(String) : [];
}

/** The transcript shows its end: the newest message's last line is in view, nothing over it. */
export const NEWEST_IN_VIEW = `(() => {
  const list = document.querySelector("[data-testid=transcript]");
  const last = list.querySelector(":scope > li:last-child");
  if (!last) return false;
  const l = list.getBoundingClientRect();
  const b = last.getBoundingClientRect();
  const x = (b.left + b.right) / 2;
  const y = Math.min(b.bottom, l.bottom) - 4;
  // What is drawn at the newest message's last line is that message (not a readout over it).
  return b.bottom <= l.bottom + 1 && b.bottom > l.top && last.contains(document.elementFromPoint(x, y));
})()`;

/** A phone as Chromium emulates one: small touch screen, mobile viewport and user agent. */
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36",
};
/** The sizes the screenshots are looked at in, and the smallest phone the page must fit. */
export const PHONE_VIEW = { width: 420, height: 860 };
export const DESK_VIEW = { width: 1280, height: 800 };
export const SMALL_VIEW = { width: 360, height: 640 };

/** Headless Chromium with a fake microphone playing `wav` (its beep without one). */
export function chromiumArgs(wav: string | undefined): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    // A microphone that plays a spoken WAV (espeak-ng), and audio that may play unprompted.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    ...(wav ? [`--use-file-for-fake-audio-capture=${wav}`] : []),
    "--autoplay-policy=no-user-gesture-required",
  ];
}

/** The phone-sized and the desktop view of the page as it is now, into the temp folder. */
export async function screenshots(
  page: DrivenPage & {
    setViewportSize(size: { width: number; height: number }): Promise<void>;
    screenshot(options: { path: string }): Promise<unknown>;
  },
  name: string,
) {
  for (const view of [PHONE_VIEW, DESK_VIEW]) {
    await page.setViewportSize(view);
    // A frame for the layout to settle at the new size.
    await page.evaluate("new Promise((resolve) => requestAnimationFrame(resolve))");
    await page.screenshot({ path: join(tmpdir(), `convonet-caller-${name}-${view.width}.png`) });
  }
  await page.setViewportSize(PHONE.viewport);
}

/**
 * For an init script: audio starts only after a tap on this document, as Safari decides (an
 * AudioContext made before is suspended, and resume() waits for the tap). Chromium (allowed to
 * autoplay) starts the real context before the suspend takes hold: until the tap, its state
 * reads "suspended", or a slow machine lets the page see that brief "running".
 */
export const TAP_FIRST_SCRIPT = `(() => {
  let tapped = false;
  addEventListener("pointerdown", () => { tapped = true; }, true);
  const Real = AudioContext;
  window.AudioContext = class extends Real {
    constructor(...args) {
      super(...args);
      if (!tapped) void super.suspend();
    }
    get state() {
      return tapped ? super.state : "suspended";
    }
    resume() {
      return tapped ? super.resume() : new Promise(() => {});
    }
  };
})();`;

/** True when `wanted` appear in `states` in this order (others may come between). */
export function inOrder(states: string[], wanted: string[]): boolean {
  let at = 0;
  for (const state of states) if (state === wanted[at]) at += 1;
  return at === wanted.length;
}

/**
 * For an init script: records each audio message the page sends, as whether each 20 ms of it is
 * the caller's voice (the page's own measure: RMS at or above QUIET_LEVEL), in `window.micSends`,
 * and the transfer panel's state as it was sent in `window.micSendPanel`.
 */
export const RECORD_MIC_SCRIPT = `(() => {
  const send = WebSocket.prototype.send;
  window.micSends = [];
  window.micSendPanel = [];
  WebSocket.prototype.send = function (data) {
    if (typeof data !== "string") {
      const pcm = new Int16Array(data.buffer.slice(data.byteOffset + ${AUDIO_HEADER_BYTES}, data.byteOffset + data.byteLength));
      const loud = [];
      for (let at = 0; at < pcm.length; at += 320) {
        let sum = 0;
        for (let i = at; i < at + 320; i++) sum += pcm[i] * pcm[i];
        loud.push(Math.sqrt(sum / 320) / 32768 >= ${QUIET_LEVEL});
      }
      window.micSends.push(loud);
      // What the transfer panel showed as it went (the caller page's; "" when none).
      window.micSendPanel.push(document.querySelector("[data-testid=transfer]")?.dataset.state ?? "");
    }
    return send.call(this, data);
  };
})();`;

/** For an init script: the microphone the page opens is silent (digital zeros) all along. */
export const SILENT_MIC_SCRIPT = `(() => {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await real(constraints);
    const context = new AudioContext();
    const gain = context.createGain();
    gain.gain.value = 0;
    const out = context.createMediaStreamDestination();
    context.createMediaStreamSource(stream).connect(gain).connect(out);
    return out.stream;
  };
})();`;
