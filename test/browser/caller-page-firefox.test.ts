/**
 * The caller page in headless Firefox (Debian's firefox-esr, driven over WebDriver BiDi by
 * puppeteer-core): the same app as the Chromium test (`scripts/start.ts` with the fake
 * Anthropic and Deepgram APIs), signed in by PIN and spoken to hands-free through Firefox's
 * fake microphone — after a reload and a closed tab too — until a spoken goodbye ends the call,
 * so the page's audio path (AudioContext, worklets, getUserMedia, its resamplers) is exercised in
 * a second engine.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAREWELL } from "../../durable-objects/conversation.ts";
import { type AppProcess, startAppProcess } from "../../scripts/app-process.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic/server.ts";
import { deepgramLog, paceDeepgramTts, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { type FakeDeepgram, startFakeDeepgram } from "../fakes/deepgram/server.ts";
import {
  callStates,
  enterPin,
  GOODBYE,
  inOrder,
  MIC_GATE_SCRIPT,
  NEWEST_IN_VIEW,
  openMicGate,
  playedMs,
  storedSession,
  WATCH_STAGE_SCRIPT,
} from "./support/caller-page.ts";

const FIREFOX = "/usr/bin/firefox-esr";
const hasFirefox = existsSync(FIREFOX);
if (!hasFirefox) {
  console.warn(
    `Firefox not found at ${FIREFOX}: install Debian's firefox-esr to run the Firefox browser test.`,
  );
}
const PHONE = { width: 390, height: 844 };
/** The spoken greeting starts so (what follows depends on the day's reminders). */
const GREETING = "Hi Carmen";
const SAID = "what is on my list today";
const REPLY = "You have two todos. The first is the budget review.";

/** The text of the first element matching `selector`, "" when there is none. */
async function textOf(page: Page, selector: string): Promise<string> {
  const text = await page.evaluate(
    `document.querySelector(${JSON.stringify(selector)})?.textContent ?? ""`,
  );
  return String(text);
}

/** Waits for a transcript bubble of `kind` whose text contains `text`. */
async function waitForBubble(page: Page, kind: "user" | "assistant", text: string) {
  const selector = `[data-testid=transcript] li.bubble.${kind}`;
  try {
    await page.waitForFunction(
      `Array.from(document.querySelectorAll(${JSON.stringify(selector)}))
        .some((li) => li.textContent.includes(${JSON.stringify(text)}))`,
    );
  } catch (cause) {
    const shown = await textOf(page, "[data-testid=transcript]").catch(() => "?");
    throw new Error(`no ${kind} bubble saying "${text}"; the transcript shows: ${shown}`, {
      cause,
    });
  }
}

/** A tab with the microphone gated (see MIC_GATE_SCRIPT) and the call's states recorded. */
async function newPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  // Every step takes well under a second: a stuck one fails on its own line, not on the
  // test's timeout.
  page.setDefaultTimeout(10_000);
  await page.evaluateOnNewDocument(MIC_GATE_SCRIPT);
  await page.evaluateOnNewDocument(WATCH_STAGE_SCRIPT);
  return page;
}

/** Runs every step, even when one fails, then throws the first failure. */
async function all(steps: (() => Promise<unknown> | undefined)[]) {
  const results = await Promise.allSettled(steps.map(async (step) => step()));
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
}

/** Closes the browser; kills it if it does not close in time. */
async function closeBrowser(browser: Browser) {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), 10_000);
  });
  try {
    const result = await Promise.race([browser.close().then(() => "closed" as const), timedOut]);
    if (result === "timeout") browser.process()?.kill("SIGKILL");
  } catch {
    browser.process()?.kill("SIGKILL");
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(!hasFirefox)("caller page in Firefox", () => {
  let app: AppProcess | undefined;
  let fake: FakeAnthropic | undefined;
  let deepgram: FakeDeepgram | undefined;
  let browser: Browser | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), "convonet-firefox-"));
  // Firefox's profile, inside dataDir so afterAll removes it whatever happened.
  const profileDir = join(dataDir, "profile");

  beforeAll(async () => {
    mkdirSync(profileDir);
    // Each assignment happens as its start finishes, so afterAll stops whatever did start even
    // when another start failed.
    await all([
      async () => {
        [fake, deepgram] = await Promise.all([startFakeAnthropic(), startFakeDeepgram()]);
        app = await startAppProcess({
          ANTHROPIC_API_KEY: "test-anthropic-key",
          ANTHROPIC_BASE_URL: fake.url,
          DEEPGRAM_API_KEY: "test-deepgram-key",
          DEEPGRAM_BASE_URL: deepgram.url,
        });
      },
      async () => {
        browser = await puppeteer.launch({
          browser: "firefox",
          executablePath: FIREFOX,
          headless: true,
          userDataDir: profileDir,
          defaultViewport: PHONE,
          protocolTimeout: 30_000,
          extraPrefsFirefox: {
            // A microphone (a tone) without a permission prompt.
            "media.navigator.streams.fake": true,
            "media.navigator.permission.disabled": true,
            // A mock audio backend: without a sound device an AudioContext never starts.
            "media.cubeb.force_mock_context": true,
          },
        });
      },
    ]);
  }, 120_000);

  afterAll(async () => {
    await all([
      () => browser && closeBrowser(browser),
      () => app?.stop(),
      () => fake?.close(),
      () => deepgram?.close(),
    ]);
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it("hands-free: greeted, talks without the mic button, continues after a reload and a closed tab, ends on a goodbye", async () => {
    if (!app || !fake || !deepgram || !browser) throw new Error("the app or Firefox did not start");
    let page = await newPage(browser);
    await page.goto(app.url);
    await page.waitForSelector("[data-testid=connection][data-state=connected]");

    await enterPin(page, "2468");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    expect(await textOf(page, "[data-testid=user-name]")).toBe("Carmen Diaz");
    // The spoken greeting, shown as the assistant's first words.
    await waitForBubble(page, "assistant", GREETING);
    // The PIN tap opened the microphone: it streams, and the page says it listens.
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    await page.waitForFunction("window.micGate.held > 5");

    const { sessionId = "" } = await storedSession(page);
    expect(sessionId).not.toBe("");
    await scriptDeepgram(deepgram.url, sessionId, [{ text: SAID, afterAudioMs: 600 }]);
    // The goodbye, half a second of it: the page plays it for a while after its words show.
    await paceDeepgramTts(deepgram.url, { match: FAREWELL, msPerChar: 20 });
    await scriptClaude(fake.url, "Carmen Diaz", [
      { kind: "text", text: REPLY },
      { kind: "text", text: "Yes, still here." },
      { kind: "text", text: "Welcome back, Carmen." },
      // end_call with no goodbye of the model's own: the default one is said.
      { kind: "tool_use", calls: [{ name: "end_call", input: {} }] },
      { kind: "text", text: "" },
    ]);
    await openMicGate(page);
    await waitForBubble(page, "user", SAID);
    await waitForBubble(page, "assistant", REPLY);
    // The page's player was handed the assistant's audio, and it was heard.
    await page.waitForFunction("Number(document.body.dataset.playedMs ?? 0) > 200");
    await page.waitForSelector("[data-testid=stage][data-state=listening]");
    expect(
      inOrder(await callStates(page), ["listening", "thinking", "speaking", "listening"]),
    ).toBe(true);
    // Timings, one click away: the turn as heard on the page.
    await page.click("[data-testid=timings-toggle]");
    await page.waitForFunction(
      String.raw`/Heard in \d+ ms.*end of turn \d+ ms · Claude \d+ ms · voice \d+ ms · server \d+ ms/s.test(
        Array.from(document.querySelectorAll("[data-testid=reply-details]")).at(-1)?.textContent ?? "")`,
    );
    mkdirSync("test-results", { recursive: true });
    await page.screenshot({ path: "test-results/caller-page-firefox.png" });

    // A reload: the call resumes and listens again by itself.
    await scriptDeepgram(deepgram.url, sessionId, [
      { text: "are you still there", afterAudioMs: 600 },
    ]);
    await page.reload();
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    await openMicGate(page);
    await waitForBubble(page, "assistant", "Yes, still here.");

    // The tab is closed; the page opened again offers to continue the call.
    await scriptDeepgram(deepgram.url, sessionId, [
      { text: "I am back", afterAudioMs: 600 },
      // Said only once the welcome has been heard: the gate lets the first second through.
      { text: GOODBYE, afterAudioMs: 1_300 },
    ]);
    await page.close();
    page = await newPage(browser);
    await page.goto(app.url);
    await page.waitForSelector("[data-testid=resume-offer]:not([hidden])");
    await page.click("[data-testid=resume-continue]");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    await page.waitForSelector("[data-testid=mic][data-state=on]");
    expect(await page.evaluate(NEWEST_IN_VIEW)).toBe(true);
    await openMicGate(page, 1_000);
    await waitForBubble(page, "assistant", "Welcome back, Carmen.");
    // The reply heard out (its words show before its voice ends): the call listens again.
    await page.waitForSelector("[data-testid=stage][data-state=listening]");

    await page.click("[data-testid=mic]");
    await page.waitForSelector("[data-testid=mic][data-state=muted]");
    await page.click("[data-testid=mic]");
    await page.waitForSelector("[data-testid=mic][data-state=on]");

    // "That's all, goodbye": the model ends the call, the goodbye is heard, and the call ends —
    // nothing clicked.
    const statesBefore = (await callStates(page)).length;
    const playedBefore = await playedMs(page);
    await openMicGate(page);
    await waitForBubble(page, "user", GOODBYE);
    await page.waitForSelector("[data-testid=ended]:not([hidden])");
    await waitForBubble(page, "assistant", FAREWELL);
    // The goodbye played (the player sounded) before the ended view came.
    const ending = (await callStates(page)).slice(statesBefore);
    expect(inOrder(ending, ["thinking", "speaking", "ended"]), ending.join(" → ")).toBe(true);
    expect(await playedMs(page)).toBeGreaterThan(playedBefore + 200);
    expect((await deepgramLog(deepgram.url, sessionId)).spoken).toContain(FAREWELL);
    expect(await textOf(page, "[data-testid=ended-title]")).toBe("Call ended");
    expect(await storedSession(page)).toEqual({});
    await page.close();
  });
});
