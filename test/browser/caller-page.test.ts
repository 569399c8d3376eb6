/**
 * The whole app as a developer runs it (`node scripts/start.ts`: embedded Postgres, seeded
 * demo users, wrangler dev) driven through the caller page in headless Chromium, with the
 * fake Anthropic API standing in for Claude.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, startAppProcess } from "../../scripts/app-process.ts";
import { scriptClaude } from "../fakes/anthropic/client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic/server.ts";
import { scriptDeepgram } from "../fakes/deepgram/client.ts";
import { type FakeDeepgram, startFakeDeepgram } from "../fakes/deepgram/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `Chromium not found at ${CHROMIUM}: install Debian's chromium to run the browser test.`,
  );
}

async function enterPin(page: Page, pin: string) {
  for (const digit of pin) await page.click(`[data-key="${digit}"]`);
  await page.click("[data-testid=pin-submit]");
}

describe.skipIf(!hasChromium)("caller page in Chromium", () => {
  let app: AppProcess | undefined;
  let fake: FakeAnthropic;
  let deepgram: FakeDeepgram;
  let browser: Browser;
  let url: string;
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

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    deepgram = await startFakeDeepgram();
    app = await startAppProcess({
      ANTHROPIC_API_KEY: "test-anthropic-key",
      ANTHROPIC_BASE_URL: fake.url,
      DEEPGRAM_API_KEY: "test-deepgram-key",
      DEEPGRAM_BASE_URL: deepgram.url,
    });
    url = app.url;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
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
        ...(spokenWav ? [`--use-file-for-fake-audio-capture=${spokenWav}`] : []),
        "--autoplay-policy=no-user-gesture-required",
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await fake?.close();
    await deepgram?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it("signs in with a demo PIN, talks to the agent, and resumes after a reload", async () => {
    await scriptClaude(fake.url, "Alice Nguyen", [
      {
        kind: "tool_use",
        calls: [{ name: "create_todo", input: { title: "Buy oat milk", due: "2026-12-01" } }],
      },
      { kind: "text", text: "Done — buy oat milk is on your list for Tuesday." },
    ]);
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(url);
    await page.waitForSelector("[data-testid=connection][data-state=connected]");

    await enterPin(page, "9999");
    await expect
      .poll(() => page.textContent("[data-testid=signin-message]"))
      .toMatch(/didn't match.*4 tries left/);

    await enterPin(page, "1234");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    expect(await page.textContent("[data-testid=user-name]")).toBe("Alice Nguyen");
    expect(await page.textContent("[data-testid=user-teams]")).toContain("Operations (owner)");

    await page.fill("[data-testid=message]", "add buy oat milk for Tuesday");
    await page.press("[data-testid=message]", "Enter");
    await page.waitForSelector("li.bubble.assistant:not(.streaming)");
    const transcript = await page.textContent("[data-testid=transcript]");
    expect(transcript).toContain("add buy oat milk for Tuesday");
    expect(transcript).toContain("Added 'Buy oat milk'");
    expect(transcript).toContain("Done — buy oat milk is on your list for Tuesday.");
    await page.screenshot({ path: "test-results/caller-page.png" });

    await page.reload();
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    expect(await page.textContent("[data-testid=user-name]")).toBe("Alice Nguyen");
    expect(await page.textContent("[data-testid=transcript]")).toContain(
      "Done — buy oat milk is on your list for Tuesday.",
    );

    await page.click("[data-testid=hangup]");
    await page.waitForSelector("[data-testid=ended]:not([hidden])");
    await page.close();
  });

  it("talks: the microphone's audio is transcribed, answered, and the answer is played", async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(url);
    await enterPin(page, "5678");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    const stored = await page.evaluate<string | null>('sessionStorage.getItem("convonet.session")');
    const sessionId = (JSON.parse(stored ?? "{}") as { sessionId?: string }).sessionId ?? "";
    await scriptDeepgram(deepgram.url, sessionId, [
      { text: "what is on my list today", afterAudioMs: 600 },
    ]);
    await scriptClaude(fake.url, "Bob Okafor", [
      { kind: "text", text: "You have one todo. It is the launch email." },
    ]);

    await page.click("[data-testid=mic]");
    // The microphone opens asynchronously (permission, worklets).
    await expect.poll(() => page.getAttribute("[data-testid=mic]", "aria-pressed")).toBe("true");
    await page.waitForSelector("li.bubble.user >> text=what is on my list today");
    await page.waitForSelector(
      "li.bubble.assistant >> text=You have one todo. It is the launch email.",
    );
    // The page's player was handed the assistant's audio.
    await page.waitForFunction("Number(document.body.dataset.playedFrames ?? 0) > 10");
    await page.screenshot({ path: "test-results/caller-page-voice.png" });
    await page.click("[data-testid=mic]");
    expect(await page.getAttribute("[data-testid=mic]", "aria-pressed")).toBe("false");
    await page.close();
  });
});
