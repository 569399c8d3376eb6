/**
 * The whole app as a developer runs it (`node scripts/start.ts`: embedded Postgres, seeded
 * demo users, wrangler dev) driven through the caller page in headless Chromium as a phone:
 * with the fake Anthropic and Deepgram APIs standing in for Claude and voice, and once as on a
 * fresh `npm start` with no assistant configured. Screenshots of the signed-in, speaking,
 * resumed and ended call, at 420×860 and 1280×800, go to the temp folder (convonet-caller-*.png).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Page,
  type WebSocketRoute,
} from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, startAppProcess } from "../../scripts/app-process.ts";
import { FRAME_MS, JOINED_FRAMES, QUIET_AFTER_MS } from "../../web/caller/audio/quiet-frames.ts";
import { claudeRequests, scriptClaude } from "../fakes/anthropic/client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic/server.ts";
import { deepgramLog, paceDeepgramTts, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { type FakeDeepgram, startFakeDeepgram } from "../fakes/deepgram/server.ts";
import { writeWav } from "../support/audio-checks.ts";
import {
  callStates,
  chromiumArgs,
  enterPin,
  GOODBYE,
  heldFrames,
  inOrder,
  MIC_GATE_SCRIPT,
  NEWEST_IN_VIEW,
  openMicGate,
  PHONE,
  playedMs,
  RECORD_MIC_SCRIPT,
  SMALL_VIEW,
  STORAGE_KEY,
  screenshots,
  storedSession,
  TAP_FIRST_SCRIPT,
  WATCH_STAGE_SCRIPT,
} from "./support/caller-page.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `Chromium not found at ${CHROMIUM}: install Debian's chromium to run the browser test.`,
  );
}
const SAID = "what is on my list today";

const BYE = "Bye for now, Bob — talk soon!";
const LONG_END = "That is everything on your list.";
/** A reply longer than the phone's transcript is tall. */
const LONG_REPLY = `You have a few things on your list. ${"First, buy oat milk for Tuesday; it is a quick one. ".repeat(6)}${LONG_END}`;

describe.skipIf(!hasChromium)("caller page in Chromium", () => {
  /** With the fake Claude and Deepgram. */
  let app: AppProcess | undefined;
  /** As a fresh `npm start`: no provider keys. */
  let bareApp: AppProcess | undefined;
  let fake: FakeAnthropic | undefined;
  let deepgram: FakeDeepgram | undefined;
  let browser: Browser | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), "convonet-browser-"));
  // The caller's words, spoken by espeak-ng when it is installed (Chromium's beep otherwise).
  const spokenWav = (() => {
    const file = join(dataDir, "caller.wav");
    try {
      execFileSync("espeak-ng", ["-w", file, "what is on my list today"], { stdio: "ignore" });
      return file;
    } catch {
      return undefined;
    }
  })();
  /** A browser context as a phone: the microphone gated (see MIC_GATE_SCRIPT), states recorded. */
  async function newContext(): Promise<BrowserContext> {
    if (!browser) throw new Error("Chromium did not start");
    const context = await browser.newContext(PHONE);
    await context.addInitScript({ content: MIC_GATE_SCRIPT });
    await context.addInitScript({ content: WATCH_STAGE_SCRIPT });
    return context;
  }

  async function open(): Promise<Page> {
    return (await newContext()).newPage();
  }

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    deepgram = await startFakeDeepgram();
    const fakeUrls = { anthropic: fake.url, deepgram: deepgram.url };
    // Both apps start at once: most of the wait is wrangler and workerd starting up.
    [app, bareApp, browser] = await Promise.all([
      startAppProcess({
        ANTHROPIC_API_KEY: "test-anthropic-key",
        ANTHROPIC_BASE_URL: fakeUrls.anthropic,
        DEEPGRAM_API_KEY: "test-deepgram-key",
        DEEPGRAM_BASE_URL: fakeUrls.deepgram,
      }),
      startAppProcess({ ANTHROPIC_API_KEY: "", DEEPGRAM_API_KEY: "" }),
      chromium.launch({ executablePath: CHROMIUM, args: chromiumArgs(spokenWav) }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([app?.stop(), bareApp?.stop()]);
    await fake?.close();
    await deepgram?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it("typed turns: tools inside the reply, one line for a transfer, timings on request, all kept after a reload", async () => {
    if (!app || !fake) throw new Error("the app did not start");
    await scriptClaude(fake.url, "Alice Nguyen", [
      {
        kind: "tool_use",
        text: "Let me add that.",
        calls: [{ name: "create_todo", input: { title: "Buy oat milk", due: "2026-12-01" } }],
      },
      { kind: "text", text: "Done — buy oat milk is on your list for Tuesday." },
      { kind: "tool_use", calls: [{ name: "list_todos", input: {} }] },
      { kind: "text", text: LONG_REPLY },
      {
        kind: "tool_use",
        calls: [
          { name: "transfer_to_agent", input: { department: "support", reason: "Wants a person" } },
        ],
      },
      { kind: "text", text: "Transfers aren't set up here yet, sorry." },
    ]);
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(app.url);
    await page.waitForSelector("[data-testid=connection][data-state=connected]");

    await enterPin(page, "9999");
    await expect
      .poll(() => page.textContent("[data-testid=signin-message]"))
      .toMatch(/didn't match.*tries? left/);
    // The wrong PIN is cleared for the next try.
    expect(await page.getAttribute("[data-testid=pin-dots]", "data-count")).toBe("0");

    await enterPin(page, "1234");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    expect(await page.textContent("[data-testid=user-name]")).toBe("Alice Nguyen");
    expect(await page.textContent("[data-testid=user-teams]")).toContain("Operations · owner");

    // Tab then Enter from where the call puts the focus does not hang up: from the keyboard,
    // End call asks for a second press first.
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.dataset.testid")).toBe("hangup");
    await page.keyboard.press("Enter");
    expect(await page.getAttribute("[data-testid=hangup]", "data-armed")).toBe("true");
    expect(await page.textContent("[data-testid=hangup]")).toContain("Press again to end");
    expect(await page.isVisible("[data-testid=call]")).toBe(true);
    await page.keyboard.press("Escape");
    expect(await page.getAttribute("[data-testid=hangup]", "data-armed")).toBeNull();

    await page.fill("[data-testid=message]", "add buy oat milk for Tuesday");
    await page.press("[data-testid=message]", "Enter");
    // Text before and after the tool call, apart; the tool's line inside the reply.
    const first = "li.bubble.assistant:not(.streaming):has-text('Done — buy oat milk')";
    await page.waitForSelector(first);
    expect(await page.textContent(`${first} .text`)).toBe(
      "Let me add that. Done — buy oat milk is on your list for Tuesday.",
    );
    expect(await page.textContent(`${first} [data-testid=tool-activity]`)).toContain(
      "Added 'Buy oat milk'",
    );
    // Greeted by name first (voice is set up on this server).
    expect(await page.locator("li.bubble.assistant").first().textContent()).toMatch(/^Hi Alice\b/);

    await page.fill("[data-testid=message]", "what is on my list?");
    await page.press("[data-testid=message]", "Enter");
    await page.waitForSelector(`li.bubble.assistant:not(.streaming):has-text("${LONG_END}")`);
    // A lookup says what it found, not a bare "Done".
    expect(await page.locator("[data-testid=tool-activity]").last().textContent()).toMatch(
      /^Checked your list: \d+ open todos?$/,
    );
    expect(await page.evaluate(NEWEST_IN_VIEW)).toBe(true);

    // The list's reply is heard out first. A message sent while it still sounds shows
    // "Speaking" until the player reports the audio stopped, and the transfer can come before
    // that report (under load it did), so the turn would never show "Thinking".
    await page.waitForSelector("[data-testid=stage]:not([data-state=speaking])");
    await page.fill("[data-testid=message]", "put me through to a person");
    await page.press("[data-testid=message]", "Enter");
    await page.waitForSelector("[data-testid=transfer][data-state=failed]");
    await page.waitForSelector("li.bubble.assistant >> text=Transfers aren't set up here yet");
    // The transfer is said once, in its panel: no tool line repeats it.
    expect(await page.locator("[data-testid=tool-activity]").count()).toBe(2);
    expect(await callStates(page)).toEqual(expect.arrayContaining(["thinking", "transferring"]));

    // Timings are for developers: hidden until the switch, then under each reply.
    expect(await page.isVisible("[data-testid=reply-details]")).toBe(false);
    await page.click("[data-testid=timings-toggle]");
    await expect
      .poll(() => page.locator("[data-testid=reply-details]").last().textContent())
      .toMatch(/first words in \d+ ms · reply done in \d+ ms/);
    expect(await page.evaluate(NEWEST_IN_VIEW)).toBe(true);
    await screenshots(page, "typed");
    // Dark, on a small phone: everything fits the width (nothing to scroll sideways).
    await page.emulateMedia({ colorScheme: "dark" });
    await page.setViewportSize(SMALL_VIEW);
    // The list keeps to its end from a ResizeObserver, whose callback comes in the rendering
    // step after the resize (after that frame's animation callbacks): two frames, then look.
    await page.evaluate(
      "new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))",
    );
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(
      SMALL_VIEW.width,
    );
    // …and the text box is on screen, under a transcript that still shows some of the talk.
    expect(
      await page.evaluate(
        `document.querySelector("[data-testid=composer]").getBoundingClientRect().bottom`,
      ),
    ).toBeLessThanOrEqual(SMALL_VIEW.height);
    expect(await page.evaluate(NEWEST_IN_VIEW)).toBe(true);
    await page.screenshot({ path: join(tmpdir(), "convonet-caller-typed-dark-360.png") });
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize(PHONE.viewport);

    // After a reload: the same transcript, tool lines and details, opened at the newest message.
    await page.reload();
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    expect(await page.textContent(`${first} .text`)).toBe(
      "Let me add that. Done — buy oat milk is on your list for Tuesday.",
    );
    expect(await page.locator("[data-testid=tool-activity]").allTextContents()).toEqual([
      expect.stringContaining("Added 'Buy oat milk'"),
      expect.stringMatching(/^Checked your list/),
    ]);
    expect(await page.locator("[data-testid=reply-details]").last().textContent()).toMatch(
      /first words in \d+ ms/,
    );
    await expect.poll(() => page.evaluate(NEWEST_IN_VIEW)).toBe(true);

    await page.click("[data-testid=hangup]");
    await page.waitForSelector("[data-testid=ended]:not([hidden])");
    expect(await storedSession(page)).toEqual({});
    await context.close();
  });

  it("hands-free: talks without the mic button, shows each state, continues after a reload and a closed tab, ends on a goodbye", async () => {
    if (!app || !fake || !deepgram) throw new Error("the app did not start");
    const context = await newContext();
    let page = await context.newPage();
    await page.goto(app.url);
    await enterPin(page, "5678");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    // The PIN tap opened the microphone: it streams, and the page says it listens.
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    expect(await page.textContent("[data-testid=mic]")).toContain("Mute");
    await expect.poll(() => heldFrames(page)).toBeGreaterThan(5);
    await page.waitForSelector("li.bubble.assistant:has-text('Hi Bob')");
    await page.waitForSelector("[data-testid=stage][data-state=listening]");
    expect(await page.textContent("[data-testid=activity]")).toBe("Listening");
    // The caller's own level, while they talk (the fake microphone speaks in a loop).
    await page.waitForFunction(
      `Number(document.querySelector("[data-testid=stage]").dataset.micLevel) > 0.2`,
    );
    await screenshots(page, "signed-in");

    const { sessionId = "" } = await storedSession(page);
    await scriptDeepgram(deepgram.url, sessionId, [{ text: SAID, afterAudioMs: 600 }]);
    // A reply long enough to be seen speaking (the fake's Aura: 60 ms of audio per character).
    await paceDeepgramTts(deepgram.url, { match: "launch email", msPerChar: 60 });
    // The goodbye, half a second of it: the page plays it for a while after its words show.
    await paceDeepgramTts(deepgram.url, { match: BYE, msPerChar: 20 });
    await scriptClaude(fake.url, "Bob Okafor", [
      { kind: "text", text: "You have one todo. It is the launch email." },
      { kind: "text", text: "Still here. What next?" },
      { kind: "text", text: "Welcome back. Go ahead." },
      { kind: "tool_use", text: BYE, calls: [{ name: "end_call", input: {} }] },
      { kind: "text", text: "" },
    ]);
    await openMicGate(page);
    await page.waitForSelector(`li.bubble.user >> text=${SAID}`);
    await page.waitForSelector("[data-testid=stage][data-state=speaking]");
    await screenshots(page, "speaking");
    await page.waitForSelector(
      "li.bubble.assistant:not(.streaming) >> text=It is the launch email.",
    );
    await page.waitForFunction("Number(document.body.dataset.playedMs ?? 0) > 200");
    await page.waitForSelector("[data-testid=stage][data-state=listening]");
    // Listening, then thinking about the turn, speaking the reply, and listening again.
    expect(
      inOrder(await callStates(page), ["listening", "thinking", "speaking", "listening"]),
    ).toBe(true);
    // The reply's timings, one click away: as heard on the page.
    await page.click("[data-testid=timings-toggle]");
    await expect
      .poll(() => page.locator("[data-testid=reply-details]").last().textContent())
      .toMatch(
        /Heard in \d+ ms.*end of turn \d+ ms · Claude \d+ ms · voice \d+ ms · server \d+ ms/s,
      );
    expect(await page.evaluate(NEWEST_IN_VIEW)).toBe(true);

    // A reload: the call resumes and listens again by itself.
    await scriptDeepgram(deepgram.url, sessionId, [
      { text: "are you still there", afterAudioMs: 600 },
    ]);
    await page.reload();
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    await expect.poll(() => page.evaluate(NEWEST_IN_VIEW)).toBe(true);
    await openMicGate(page);
    await page.waitForSelector(
      "li.bubble.assistant:not(.streaming) >> text=Still here. What next?",
    );

    // Muted, it stays muted across a reload, and says so.
    await page.click("[data-testid=mic]");
    await page.waitForSelector("[data-testid=stage][data-state=muted]");
    expect(await page.textContent("[data-testid=mic]")).toContain("Unmute");
    await page.reload();
    await page.waitForSelector("[data-testid=stage][data-state=muted]");
    await page.click("[data-testid=mic]");
    await page.waitForSelector("[data-testid=mic][data-state=on]");

    // The tab is closed: opening the page again offers to continue the call.
    await scriptDeepgram(deepgram.url, sessionId, [
      { text: "I am back again", afterAudioMs: 600 },
      // Said only once the welcome has been heard: the gate lets the first second through.
      { text: GOODBYE, afterAudioMs: 1_300 },
    ]);
    await page.close();
    page = await context.newPage();
    await page.goto(app.url);
    await page.waitForSelector("[data-testid=resume-offer]:not([hidden])");
    await page.click("[data-testid=resume-continue]");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    expect((await storedSession(page)).sessionId).toBe(sessionId);
    await expect.poll(() => page.evaluate(NEWEST_IN_VIEW)).toBe(true);
    await screenshots(page, "resumed");
    await openMicGate(page, 1_000);
    await page.waitForSelector(
      "li.bubble.assistant:not(.streaming) >> text=Welcome back. Go ahead.",
    );
    await page.waitForSelector("[data-testid=stage][data-state=listening]");

    // "That's all, goodbye": the model ends the call, its goodbye is heard, and the call ends —
    // nothing clicked.
    const statesBefore = (await callStates(page)).length;
    const playedBefore = await playedMs(page);
    await openMicGate(page);
    await page.waitForSelector(`li.bubble.user >> text=${GOODBYE}`);
    await page.waitForSelector("[data-testid=ended]:not([hidden])");
    expect(await page.locator("li.bubble.assistant .text").last().textContent()).toBe(BYE);
    // The goodbye played (the player sounded) before the ended view came.
    const ending = (await callStates(page)).slice(statesBefore);
    expect(inOrder(ending, ["thinking", "speaking", "ended"]), ending.join(" → ")).toBe(true);
    expect(await playedMs(page)).toBeGreaterThan(playedBefore + 200);
    expect((await deepgramLog(deepgram.url, sessionId)).spoken).toContain(BYE);
    expect(await page.textContent("[data-testid=ended-title]")).toBe("Call ended");
    expect(await storedSession(page)).toEqual({});
    await screenshots(page, "ended");
    await context.close();
  });

  it("where a browser wants a tap before audio starts, the page asks for it, and a tap starts the mic", async () => {
    if (!app) throw new Error("the app did not start");
    const context = await newContext();
    // Safari's rule (and Chromium's for a tab restored at start-up): audio starts only after a
    // tap on this very document. Headless Chromium lets it start anyway, so the rule is played.
    await context.addInitScript({ content: TAP_FIRST_SCRIPT });
    const page = await context.newPage();
    await page.goto(app.url);
    // The PIN's taps are the gesture: the microphone opens with the call.
    await enterPin(page, "1234");
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    // A reload has no tap yet: the page says what to do rather than seeming to listen.
    await page.reload();
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    await page.waitForSelector("[data-testid=mic][data-state=needs-gesture]");
    expect(await page.textContent("[data-testid=activity]")).toBe("Tap Start mic to talk");
    expect(await page.textContent("[data-testid=mic]")).toContain("Start mic");
    const before = await heldFrames(page);
    // The press itself starts audio, and the microphone with it, before the finger lifts (a
    // phone's click comes on release): the click then must not undo it as a "Mute".
    const button = await page.locator("[data-testid=mic]").boundingBox();
    if (!button) throw new Error("no mic button");
    await page.mouse.move(button.x + button.width / 2, button.y + button.height / 2);
    await page.mouse.down();
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    await page.mouse.up();
    await page.waitForSelector("[data-testid=stage][data-state=listening]");
    expect(await page.getAttribute("[data-testid=mic]", "data-state")).toBe("on");
    await expect.poll(() => heldFrames(page)).toBeGreaterThan(before + 5);
    await context.close();
  });

  it("past the resume window, a reopened page asks for the PIN instead", async () => {
    if (!app) throw new Error("the app did not start");
    const context = await newContext();
    const page = await context.newPage();
    await page.goto(app.url);
    await enterPin(page, "2468");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    const stored = await storedSession(page);
    await page.close();
    // The page last knew the call alive longer ago than the window.
    const reopened = await context.newPage();
    await reopened.goto(`${app.url}favicon.ico`).catch(() => undefined);
    await reopened.evaluate(
      `localStorage.setItem(${JSON.stringify(STORAGE_KEY)}, ${JSON.stringify(
        JSON.stringify({ ...stored, savedAt: Date.now() - 3_600_000 }),
      )})`,
    );
    await reopened.goto(app.url);
    await reopened.waitForSelector("[data-testid=signin]:not([hidden])");
    expect(await storedSession(reopened)).toEqual({});
    await context.close();
  });

  it("barge-in: the page stops playing at once and the assistant remembers only what was played", async () => {
    if (!app || !fake || !deepgram) throw new Error("the app did not start");
    const marker = crypto.randomUUID().slice(0, 8);
    const long = `and then a long list of every single thing on it, ${marker}, which would take a good while to read out loud to you right now.`;
    // Aura sends the long sentence at once, but it takes about five seconds to play: what was
    // sent is far more than what was heard.
    await paceDeepgramTts(deepgram.url, { match: marker, msPerChar: 40 });
    const context = await newContext();
    const page = await context.newPage();
    // What the page tells the server, to see its playback report.
    const sent: string[] = [];
    page.on("websocket", (ws) =>
      ws.on("framesent", (frame) => {
        if (typeof frame.payload === "string") sent.push(frame.payload);
      }),
    );
    await page.goto(app.url);
    await enterPin(page, "1234");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    const { sessionId = "" } = await storedSession(page);
    await scriptDeepgram(deepgram.url, sessionId, [
      { text: "read me my whole list", afterAudioMs: 600 },
      { text: "stop please that is enough", afterAudioMs: 2_800 },
    ]);
    await scriptClaude(fake.url, "Alice Nguyen", [
      { kind: "text", text: `Here it is, ${long}` },
      { kind: "text", text: "Okay, stopping there." },
    ]);
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    await openMicGate(page);
    await page.waitForSelector("li.bubble.assistant >> text=Okay, stopping there.");
    // The page said how much it had played when it stopped: a second or two of the reply (the
    // last report: the caller's first words may already have cut the greeting short).
    const report = sent.map((f) => JSON.parse(f)).findLast((m) => m.type === "playback_stopped");
    expect(report?.playedMs).toBeGreaterThan(300);
    expect(report?.playedMs).toBeLessThan(5_000);
    // The interrupted reply shows what was heard: cut off, with an ellipsis, not the whole text.
    const interrupted = await page.textContent(`li.bubble.assistant:has-text("Here it is")`);
    expect(interrupted).toContain("…");
    expect(interrupted).not.toContain("read out loud to you right now");
    // Claude is told the same: the played part of the long sentence, not what was only sent.
    const [, second] = await claudeRequests(fake.url, "Alice Nguyen").then((r) => r.slice(-2));
    const history = JSON.stringify(second?.body);
    expect(history).toContain("…");
    expect(history).not.toContain("read out loud to you right now");
    await context.close();
  });

  it("a quiet caller's audio goes out joined up to 100 ms; their voice leaves at once, 20 ms at a time", async () => {
    if (!app) throw new Error("the app did not start");
    // A microphone that speaks 1.2 s (syllables of two partials), then is silent 4 s, in a loop.
    const rate = 48_000;
    const samples = new Float32Array(Math.round(5.2 * rate));
    for (let i = 0; i < 1.2 * rate; i++) {
      const t = i / rate;
      const syllables = Math.abs(Math.sin(Math.PI * 4 * t));
      samples[i] =
        syllables *
        (0.25 * Math.sin(2 * Math.PI * 190 * t) + 0.15 * Math.sin(2 * Math.PI * 620 * t));
    }
    const wav = join(dataDir, "speech-then-quiet.wav");
    writeWav(wav, samples, rate);
    const quietBrowser = await chromium.launch({
      executablePath: CHROMIUM,
      args: chromiumArgs(wav),
    });
    try {
      const context = await quietBrowser.newContext(PHONE);
      await context.addInitScript({ content: RECORD_MIC_SCRIPT });
      const page = await context.newPage();
      await page.goto(app.url);
      await enterPin(page, "2468");
      await page.waitForSelector("[data-testid=mic][data-state=on]");
      // Two loops of the microphone's file: a quiet stretch, and the voice after it.
      await page.waitForFunction("window.micSends.flat().length * 20 >= 11000", undefined, {
        timeout: 20_000,
      });
      const sends = (await page.evaluate("window.micSends")) as boolean[][];
      const pieces = sends.flat();
      expect(pieces.some((loud) => loud)).toBe(true);
      // Joined messages: 100 ms, and there are some.
      const joined = sends.filter((message) => message.length > 1);
      expect(joined.length).toBeGreaterThan(5);
      expect(Math.max(...sends.map((message) => message.length))).toBe(JOINED_FRAMES);
      // No voice waited: a joined message is all quiet, and a message is joined only after
      // QUIET_AFTER_MS of quiet (the voice and the silence after it go one by one).
      const quietBefore = QUIET_AFTER_MS / FRAME_MS - 1;
      let at = 0;
      for (const message of sends) {
        if (message.length > 1) {
          expect(message.some((loud) => loud)).toBe(false);
          const before = pieces.slice(Math.max(0, at - quietBefore), at + 1);
          expect(at >= quietBefore && !before.some((loud) => loud)).toBe(true);
        }
        at += message.length;
      }
      // The voice came back after a joined stretch: it left on its own, after what was held.
      const cameBack = sends.some(
        (message, i) =>
          message.length === 1 &&
          message[0] === true &&
          ((sends[i - 1]?.length ?? 0) > 1 || (sends[i - 2]?.length ?? 0) > 1),
      );
      expect(cameBack).toBe(true);
      await context.close();
    } finally {
      await quietBrowser.close();
    }
  });

  it("without an assistant: a plain note; a dropped connection resumes; a refused resume asks for the PIN", async () => {
    if (!bareApp) throw new Error("the app did not start");
    const page = await open();
    // Every socket goes through here, so the test can cut the current one.
    let socket: WebSocketRoute | undefined;
    let refuse = false;
    await page.routeWebSocket(/\/ws/, (ws) => {
      if (refuse) return ws.close({ code: 4000, reason: "network down" });
      socket = ws;
      ws.connectToServer();
    });
    await page.goto(bareApp.url);
    await page.waitForSelector("[data-testid=connection][data-state=connected]");

    // A physical keyboard works as well as the keypad.
    await page.keyboard.type("2468");
    expect(await page.getAttribute("[data-testid=pin-dots]", "data-count")).toBe("4");
    await page.keyboard.press("Enter");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    expect(await page.textContent("[data-testid=user-name]")).toBe("Carmen Diaz");

    await page.fill("[data-testid=message]", "hello there");
    await page.click("[data-testid=send]");
    await page.waitForSelector("li.bubble.user >> text=hello there");
    // Said plainly, as a note: not as if the assistant spoke.
    await expect
      .poll(() => page.locator("li[data-testid=notice]").last().textContent())
      .toContain("The assistant is not set up");
    expect(await page.locator("li.bubble.assistant").count()).toBe(0);

    // The connection drops: the page says so, then resumes the call with a new token.
    const before = await storedSession(page);
    refuse = true;
    socket?.close({ code: 4000, reason: "network down" });
    await page.waitForSelector("[data-testid=call-banner]:not([hidden])");
    expect(await page.isDisabled("[data-testid=send]")).toBe(true);
    refuse = false;
    await page.waitForSelector("[data-testid=call-banner]", { state: "hidden", timeout: 15_000 });
    const after = await storedSession(page);
    expect(after.sessionId).toBe(before.sessionId);
    expect(after.token).not.toBe(before.token);
    await page.fill("[data-testid=message]", "still there?");
    await page.press("[data-testid=message]", "Enter");
    await page.waitForSelector("li.bubble.user >> text=still there?");

    await page.reload();
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    const transcript = await page.textContent("[data-testid=transcript]");
    expect(transcript).toContain("hello there");
    expect(transcript).toContain("still there?");

    // A token the server does not know: back to the keypad, with the reason, storage cleared.
    await page.evaluate((key) => {
      const stored: unknown = JSON.parse(localStorage.getItem(key) ?? "{}");
      localStorage.setItem(key, JSON.stringify({ ...Object(stored), token: "x".repeat(43) }));
    }, STORAGE_KEY);
    await page.reload();
    await page.waitForSelector("[data-testid=signin]:not([hidden])");
    await expect
      .poll(() => page.textContent("[data-testid=signin-message]"))
      .toContain("can no longer be resumed");
    expect(await storedSession(page)).toEqual({});
    await page.waitForSelector("[data-testid=connection][data-state=connected]");
    await page.close();
  });
});
