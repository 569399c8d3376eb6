/**
 * The transfer to a person as the caller lives it, in headless Chromium against the whole app
 * (`scripts/start.ts`) with the fake Claude, Deepgram and Twilio: the panel through each state,
 * the ringback and the person's voice really played (level and pitch at the page's speakers),
 * the caller's microphone really reaching the person (pitch at the fake Twilio's end), no
 * answer, and a cancel while it rings.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, startAppProcess } from "../../scripts/app-process.ts";
import { SUMMARY_MARKER } from "../../transfer/summary.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic/server.ts";
import { type FakeDeepgram, startFakeDeepgram } from "../fakes/deepgram/server.ts";
import { type Step, scriptTwilio, waitForCall } from "../fakes/twilio/client.ts";
import { type FakeTwilio, startFakeTwilio } from "../fakes/twilio/server.ts";
import {
  dominantHz,
  hasPeaks,
  pcm16,
  readSpeaker,
  rmsOf,
  SPEAKER_TAP_SCRIPT,
  type SpeakerReading,
  writeToneWav,
} from "../support/audio-checks.ts";
import {
  enterPin,
  RECORD_MIC_SCRIPT,
  SILENT_MIC_SCRIPT,
  storedSession,
} from "./support/caller-page.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(`Chromium not found at ${CHROMIUM}: install Debian's chromium to run this test.`);
}
const PHONE_VIEW = { width: 420, height: 860 };
const DESK_VIEW = { width: 1280, height: 800 };
/** The caller's microphone: a 440 Hz tone. */
const CALLER_HZ = 440;
/** The person's voice: a 1 kHz tone. */
const HUMAN_HZ = 1_000;
/** Output level (RMS) the meter must show while something plays: the ringback is ~0.08. */
const AUDIBLE = 0.02;
const PANEL = "[data-testid=transfer]";
const ORDER = ["requested", "dialing", "ringing", "connected", "ended"];
/** Page code (a string: no DOM types here): reports each state the panel shows, with its text. */
const WATCH_PANEL_SCRIPT = `addEventListener("DOMContentLoaded", () => {
  const panel = document.querySelector("${PANEL}");
  new MutationObserver(() => {
    const text = panel.querySelector("[data-testid=transfer-text]").textContent;
    window.transferShown(panel.dataset.state, text);
  }).observe(panel, { attributeFilter: ["data-state"] });
});`;

describe.skipIf(!hasChromium)("transfer to a person, on the caller page in Chromium", () => {
  let app: AppProcess | undefined;
  let anthropic: FakeAnthropic | undefined;
  let deepgram: FakeDeepgram | undefined;
  let twilio: FakeTwilio | undefined;
  let browser: Browser | undefined;
  const dir = mkdtempSync(join(tmpdir(), "convonet-transfer-"));
  const micWav = join(dir, "caller-440hz.wav");
  writeToneWav(micWav, { hz: CALLER_HZ, seconds: 10 });

  beforeAll(async () => {
    [anthropic, deepgram, twilio] = await Promise.all([
      startFakeAnthropic(),
      startFakeDeepgram(),
      startFakeTwilio({
        accountSid: `AC${"0123456789abcdef".repeat(2)}`,
        authToken: "test-twilio-token",
      }),
    ]);
    [app, browser] = await Promise.all([
      startAppProcess({
        ANTHROPIC_API_KEY: "test-anthropic-key",
        ANTHROPIC_BASE_URL: anthropic.url,
        DEEPGRAM_API_KEY: "test-deepgram-key",
        DEEPGRAM_BASE_URL: deepgram.url,
        TWILIO_ACCOUNT_SID: `AC${"0123456789abcdef".repeat(2)}`,
        TWILIO_AUTH_TOKEN: "test-twilio-token",
        TWILIO_CALLER_ID: "+15005550006",
        TWILIO_API_BASE_URL: twilio.url,
        FUSIONPBX_SIP_DOMAIN: "pbx.test",
        TRANSFER_RING_TIMEOUT_SECONDS: "8",
      }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
          "--use-fake-ui-for-media-stream",
          "--use-fake-device-for-media-stream",
          `--use-file-for-fake-audio-capture=${micWav}`,
          "--autoplay-policy=no-user-gesture-required",
        ],
      }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await Promise.all([anthropic?.close(), deepgram?.close(), twilio?.close()]);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  /**
   * Signs in with `pin`, microphone on; every state the panel shows is recorded, in order.
   * `scripts`: more init scripts for the page.
   */
  async function callIn(pin: string, scripts: string[] = []) {
    if (!app || !browser) throw new Error("the app did not start");
    // A context of its own: a test may close the tab and open the page again in it.
    const page = await (await browser.newContext({ viewport: PHONE_VIEW })).newPage();
    const states: { state: string; text: string }[] = [];
    await page.exposeFunction("transferShown", (state: string, text: string) => {
      states.push({ state, text });
    });
    await page.addInitScript({ content: SPEAKER_TAP_SCRIPT });
    await page.addInitScript({ content: WATCH_PANEL_SCRIPT });
    for (const content of scripts) await page.addInitScript({ content });
    await page.goto(app.url);
    await enterPin(page, pin);
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    // Hands-free: signing in opened the microphone (its button would mute it).
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    const { sessionId = "" } = await storedSession(page);
    return { page, sessionId, states };
  }

  /** Claude asks for the transfer when the caller asks for a person, then says so. */
  async function scriptAgent(user: string, after: string[] = []) {
    if (!anthropic) throw new Error("no fake Claude");
    await scriptClaude(anthropic.url, user, [
      {
        kind: "tool_use",
        calls: [
          {
            name: "transfer_to_agent",
            input: { department: "support", reason: "Wants help from a person with their account" },
          },
        ],
      },
      { kind: "text", text: "Connecting you to Sam in support now." },
      ...after.map((text) => ({ kind: "text" as const, text })),
    ]);
    await scriptClaude(anthropic.url, SUMMARY_MARKER, [
      {
        kind: "text",
        text: "The caller checked their list. They want a person for their account.",
      },
    ]);
  }

  async function say(page: Page, text: string) {
    await page.fill("[data-testid=message]", text);
    await page.press("[data-testid=message]", "Enter");
  }

  const speaker = (page: Page) => readSpeaker(page);
  const meterLevel = async (page: Page) =>
    Number(await page.getAttribute("[data-testid=output-level]", "data-level"));

  /** The phone-sized and the desktop view, into the temp folder. */
  async function screenshots(page: Page, name: string) {
    await page.screenshot({ path: join(tmpdir(), `convonet-transfer-${name}-420.png`) });
    await page.setViewportSize(DESK_VIEW);
    await page.screenshot({ path: join(tmpdir(), `convonet-transfer-${name}-1280.png`) });
    await page.setViewportSize(PHONE_VIEW);
  }

  it("rings with ringback, bridges the caller and the person both ways, then hands back", async () => {
    if (!twilio) throw new Error("no fake Twilio");
    const { page, sessionId, states } = await callIn("1234");
    await scriptAgent("Alice Nguyen");
    await scriptTwilio(twilio.url, sessionId, [
      { status: "initiated" },
      { status: "ringing", afterMs: 300 },
      { status: "in-progress", afterMs: 2_500 },
      { tone: { hz: HUMAN_HZ, ms: 2_000, amplitude: 0.3 }, afterMs: 300 },
      // The caller's microphone keeps flowing to the person until they hang up.
      { hangup: true, afterMs: 1_000 },
    ] satisfies Step[]);
    await say(page, "I'd like to talk to a person");

    // Ringing: the panel says so with a Cancel button, and the ringback (440 + 480 Hz) plays
    // once the assistant has said it is calling.
    await page.waitForSelector(`${PANEL}[data-state=ringing]`);
    expect(await page.textContent("[data-testid=transfer-cancel]")).toBe("Cancel");
    await expect
      .poll(() => speaker(page), { timeout: 2_500, interval: 50 })
      .toSatisfy((r: SpeakerReading | null) => hasPeaks(r, [440, 480]) && (r?.rms ?? 0) > AUDIBLE);
    await expect.poll(() => meterLevel(page), { interval: 50 }).toBeGreaterThan(AUDIBLE);
    await screenshots(page, "ringing");

    // Connected: the person's 1 kHz voice plays, through the same speakers and meter.
    await page.waitForSelector(`${PANEL}[data-state=connected]`, { timeout: 5_000 });
    expect(await page.textContent("[data-testid=transfer-text]")).toContain("connected to Sam");
    expect(await page.textContent("[data-testid=transfer-cancel]")).toBe("End call with agent");
    await expect
      .poll(() => speaker(page), { timeout: 2_000, interval: 50 })
      .toSatisfy((r: SpeakerReading | null) => hasPeaks(r, [HUMAN_HZ], 10) && !hasPeaks(r, [480]));
    await expect.poll(() => meterLevel(page), { interval: 50 }).toBeGreaterThan(AUDIBLE);
    await screenshots(page, "connected");

    // The person hangs up: the caller reads why, then is back with the assistant.
    await page.waitForSelector(`${PANEL}[data-state=ended]`, { timeout: 5_000 });
    expect(await page.textContent("[data-testid=transfer-text]")).toContain("agent ended the call");
    await page.waitForSelector("li.bubble.assistant >> text=I'm back with you");
    await page.waitForSelector(PANEL, { state: "hidden", timeout: 10_000 });
    expect(await page.textContent("[data-testid=activity]")).not.toContain("agent");
    // Every state in its order, none skipped back (dialing may pass too fast to be seen).
    const seen = states.map((s) => s.state).filter((s) => s !== "");
    expect(seen).toEqual([...seen].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b)));
    expect(seen).toEqual(expect.arrayContaining(["ringing", "connected", "ended"]));

    // The caller's microphone reached the person: a 440 Hz tone at the far end.
    const call = await waitForCall(twilio.url, sessionId, (c) => c.status === "completed");
    const heard = pcm16(Buffer.from(call.stream?.received ?? "", "base64"));
    expect(call.stream?.receivedMs ?? 0).toBeGreaterThan(1_500);
    const lastSecond = heard.subarray(Math.max(0, heard.length - 8_000));
    expect(rmsOf(lastSecond)).toBeGreaterThan(0.01);
    expect(Math.abs(dominantHz(lastSecond, 8_000) - CALLER_HZ)).toBeLessThanOrEqual(10);
    await page.context().close();
  });

  it("nobody answers: the caller is told, and carries on with the assistant", async () => {
    if (!twilio) throw new Error("no fake Twilio");
    const { page, sessionId, states } = await callIn("5678");
    await scriptAgent("Bob Okafor", ["You have one todo: the launch email."]);
    await scriptTwilio(twilio.url, sessionId, [
      { status: "initiated" },
      { status: "ringing", afterMs: 300 },
      { status: "no-answer", afterMs: 1_500 },
    ] satisfies Step[]);
    await say(page, "Can I speak to someone please");

    await page.waitForSelector(`${PANEL}[data-state=failed]`, { timeout: 8_000 });
    expect(await page.textContent("[data-testid=transfer-text]")).toContain(
      "Nobody in support picked up",
    );
    expect(await page.isHidden("[data-testid=transfer-cancel]")).toBe(true);
    expect(states.map((s) => s.state)).toContain("ringing");
    await page.waitForSelector("li.bubble.assistant >> text=try again");
    await page.waitForSelector(PANEL, { state: "hidden", timeout: 10_000 });
    // The ringback stopped with the ringing.
    expect(hasPeaks(await speaker(page), [480])).toBe(false);

    await say(page, "No thanks. What is on my list?");
    await page.waitForSelector("li.bubble.assistant >> text=You have one todo: the launch email.");
    await page.context().close();
  });

  it("a quiet caller's frames are joined, but none is held while a transfer is under way", async () => {
    if (!twilio) throw new Error("no fake Twilio");
    const { page, sessionId } = await callIn("5678", [SILENT_MIC_SCRIPT, RECORD_MIC_SCRIPT]);
    const sends = async () => (await page.evaluate("window.micSends")) as boolean[][];
    // Quiet from the start: after 2 s the page joins its frames.
    await expect
      .poll(async () => (await sends()).filter((message) => message.length > 1).length, {
        timeout: 6_000,
      })
      .toBeGreaterThan(3);
    await scriptAgent("Bob Okafor");
    await scriptTwilio(twilio.url, sessionId, [
      { status: "initiated" },
      { status: "ringing", afterMs: 300 },
      { status: "in-progress", afterMs: 2_500 },
      { hangup: true, afterMs: 2_500 },
    ] satisfies Step[]);
    await say(page, "Can I speak to someone please");
    await page.waitForSelector(`${PANEL}[data-state=ended]`, { timeout: 10_000 });
    const all = await sends();
    const panel = (await page.evaluate("window.micSendPanel")) as string[];
    const underWay = all.filter((_, i) =>
      ["requested", "dialing", "ringing", "connected"].includes(panel[i] ?? ""),
    );
    // Asked for, ringing and connected, the caller silent all along: every frame went at once —
    // after the quiet held when the transfer was asked for, which left at once.
    expect(underWay.length).toBeGreaterThan(150);
    expect(underWay.slice(1).filter((message) => message.length > 1)).toEqual([]);
    // Over, the transfer holds nothing back: the quiet caller's frames are joined again.
    const endedAt = (await sends()).length;
    await expect
      .poll(async () => (await sends()).slice(endedAt).filter((m) => m.length > 1).length)
      .toBeGreaterThan(3);
    await page.context().close();
  });

  /** Carmen asks for a person; the transfer rings (and goes on ringing). */
  async function ringing() {
    if (!twilio) throw new Error("no fake Twilio");
    const { page, sessionId } = await callIn("2468");
    await scriptAgent("Carmen Diaz");
    await scriptTwilio(twilio.url, sessionId, [
      { status: "initiated" },
      { status: "ringing", afterMs: 300 },
    ] satisfies Step[]);
    await say(page, "Put me through to a person");
    await page.waitForSelector(`${PANEL}[data-state=ringing]`);
    return { page, sessionId, twilio };
  }

  it("still ringing after a reload; the caller cancels, and Twilio cancels the call", async () => {
    const { page, sessionId, twilio } = await ringing();
    // A reload resumes the session: the server shows the transfer again, still ringing.
    await page.reload();
    await page.waitForSelector(`${PANEL}[data-state=ringing]`);
    expect(await page.textContent("[data-testid=transfer-text]")).toContain("Ringing Sam");
    await page.click("[data-testid=transfer-cancel]");
    await page.waitForSelector(`${PANEL}[data-state=failed]`, { timeout: 5_000 });
    expect(await page.textContent("[data-testid=transfer-text]")).toContain("cancelled");
    const call = await waitForCall(twilio.url, sessionId, (c) =>
      c.updates.some((u) => u.Status === "canceled"),
    );
    expect(call.status).toBe("canceled");
    await page.context().close();
  });

  it("still ringing when the tab is closed; reopened, a new call instead hangs the old one up, and Twilio cancels its call", async () => {
    if (!app) throw new Error("the app did not start");
    const { page, sessionId, twilio } = await ringing();

    const { token = "" } = await storedSession(page);
    const context = page.context();
    await page.close();
    const reopened = await context.newPage();
    await reopened.goto(app.url);
    await reopened.waitForSelector("[data-testid=resume-offer]:not([hidden])");
    await reopened.click("[data-testid=resume-new]");
    await reopened.waitForSelector("[data-testid=signin]:not([hidden])");
    // Nobody is left ringing for a caller who has gone on to another call.
    const call = await waitForCall(twilio.url, sessionId, (c) =>
      c.updates.some((u) => u.Status === "canceled"),
    );
    expect(call.status).toBe("canceled");
    expect(await storedSession(reopened)).toEqual({});
    // The old session is over: its token no longer resumes it (the server's close code).
    const closeCode = await reopened.evaluate(`new Promise((resolve) => {
      const ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws?session=${sessionId}");
      ws.onopen = () => ws.send(JSON.stringify({ type: "resume", token: ${JSON.stringify(token)} }));
      ws.onclose = (event) => resolve(event.code);
    })`);
    expect(closeCode).toBe(4004);
    await context.close();
  });
});
