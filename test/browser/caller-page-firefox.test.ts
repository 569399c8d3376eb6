/**
 * The caller page in headless Firefox (Debian's firefox-esr, driven over WebDriver BiDi by
 * puppeteer-core): the same app as the Chromium test (`scripts/start.ts` with the fake
 * Anthropic and Deepgram APIs), signed in by PIN and spoken to through Firefox's fake
 * microphone, so the page's audio path (AudioContext, worklets, getUserMedia) is exercised in
 * a second engine.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, startAppProcess } from "../../scripts/app-process.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic/server.ts";
import { scriptDeepgram } from "../fakes/deepgram/client.ts";
import { type FakeDeepgram, startFakeDeepgram } from "../fakes/deepgram/server.ts";
import { enterPin, storedSession } from "./support/caller-page.ts";

const FIREFOX = "/usr/bin/firefox-esr";
const hasFirefox = existsSync(FIREFOX);
if (!hasFirefox) {
  console.warn(
    `Firefox not found at ${FIREFOX}: install Debian's firefox-esr to run the Firefox browser test.`,
  );
}
const PHONE = { width: 390, height: 844 };
const GREETING = "Hi Carmen, what can I do for you?";
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

  it("signs in with a demo PIN, is greeted, and talks through the microphone", async () => {
    if (!app || !fake || !deepgram || !browser) throw new Error("the app or Firefox did not start");
    const page = await browser.newPage();
    // Every step takes well under a second: a stuck one fails on its own line, not on the
    // test's timeout.
    page.setDefaultTimeout(10_000);
    await page.goto(app.url);
    await page.waitForSelector("[data-testid=connection][data-state=connected]");

    await enterPin(page, "2468");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    expect(await textOf(page, "[data-testid=user-name]")).toBe("Carmen Diaz");
    // The spoken greeting, shown as the assistant's first words.
    await waitForBubble(page, "assistant", GREETING);

    const { sessionId = "" } = await storedSession(page);
    expect(sessionId).not.toBe("");
    await scriptDeepgram(deepgram.url, sessionId, [{ text: SAID, afterAudioMs: 600 }]);
    await scriptClaude(fake.url, "Carmen Diaz", [{ kind: "text", text: REPLY }]);

    await page.click("[data-testid=mic]");
    // The microphone opens asynchronously (permission, worklets).
    await page.waitForSelector("[data-testid=mic][aria-pressed=true]");
    await waitForBubble(page, "user", SAID);
    await waitForBubble(page, "assistant", REPLY);
    // The page's player was handed the assistant's audio.
    await page.waitForFunction("Number(document.body.dataset.playedFrames ?? 0) > 10");
    // The page reported when the reply started playing: the readout shows the turn as heard.
    await page.waitForFunction(
      String.raw`/Heard in \d+ ms/.test(document.querySelector("[data-testid=latency]").textContent)`,
    );
    expect(await textOf(page, "[data-testid=latency]")).toMatch(
      /Heard in \d+ ms.*end of turn \d+ ms · Claude \d+ ms · voice \d+ ms · server \d+ ms/s,
    );
    mkdirSync("test-results", { recursive: true });
    await page.screenshot({ path: "test-results/caller-page-firefox.png" });

    await page.click("[data-testid=mic]");
    await page.waitForSelector("[data-testid=mic][aria-pressed=false]");
    await page.close();
  });
});
