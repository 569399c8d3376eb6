/**
 * Steps on the caller page shared by the browser tests, whichever driver runs the browser
 * (Playwright for Chromium, puppeteer for Firefox): both offer these two calls. Page code is
 * kept in strings (init scripts, expressions): the tests have no DOM types.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
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
 */
export const MIC_GATE_SCRIPT = `(() => {
  const send = WebSocket.prototype.send;
  window.micGate = { open: false, held: 0 };
  WebSocket.prototype.send = function (data) {
    if (typeof data !== "string" && !window.micGate.open) {
      window.micGate.held += 1;
      return;
    }
    return send.call(this, data);
  };
})();`;

/** Audio frames the gate held back: the microphone was streaming before anyone touched it. */
export async function heldFrames(page: DrivenPage): Promise<number> {
  return Number(await page.evaluate("window.micGate?.held ?? 0"));
}

export async function openMicGate(page: DrivenPage) {
  await page.evaluate("window.micGate.open = true");
}

/**
 * For an init script: records every state the call's indicator shows, in order, in
 * `window.callStates` (page code, so a string: the tests have no DOM types).
 */
export const WATCH_STAGE_SCRIPT = `addEventListener("DOMContentLoaded", () => {
  const stage = document.querySelector("[data-testid=stage]");
  const states = [stage.dataset.state];
  window.callStates = states;
  // Changes in one task come in one batch: each value is the next record's old value.
  new MutationObserver((records) => {
    const values = [...records.slice(1).map((r) => r.oldValue), stage.dataset.state];
    for (const value of values) if (states.at(-1) !== value) states.push(value);
  }).observe(stage, { attributeFilter: ["data-state"], attributeOldValue: true });
});`;

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
 * AudioContext made before is suspended, and resume() waits for the tap).
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
