/**
 * The whole app as a developer runs it (`node scripts/start.ts`: embedded Postgres, seeded
 * demo users, wrangler dev) driven through the caller page in headless Chromium: once with
 * the fake Anthropic and Deepgram APIs standing in for Claude and voice, once as on a fresh
 * `npm start` with no assistant configured.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page, type WebSocketRoute } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, startAppProcess } from "../../scripts/app-process.ts";
import { claudeRequests, scriptClaude } from "../fakes/anthropic/client.ts";
import { type FakeAnthropic, startFakeAnthropic } from "../fakes/anthropic/server.ts";
import { paceDeepgramTts, scriptDeepgram } from "../fakes/deepgram/client.ts";
import { type FakeDeepgram, startFakeDeepgram } from "../fakes/deepgram/server.ts";
import { enterPin, STORAGE_KEY, storedSession } from "./support/caller-page.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  console.warn(
    `Chromium not found at ${CHROMIUM}: install Debian's chromium to run the browser test.`,
  );
}
/** A phone as Chromium emulates one: small touch screen, mobile viewport and user agent. */
const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 3,
  isMobile: true,
  hasTouch: true,
  userAgent:
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36",
};

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

  function open(): Promise<Page> {
    if (!browser) throw new Error("Chromium did not start");
    return browser.newPage(PHONE);
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
      chromium.launch({
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
      }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([app?.stop(), bareApp?.stop()]);
    await fake?.close();
    await deepgram?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it("signs in with a demo PIN, talks to the agent, and resumes after a reload", async () => {
    if (!app || !fake) throw new Error("the app did not start");
    await scriptClaude(fake.url, "Alice Nguyen", [
      {
        kind: "tool_use",
        calls: [{ name: "create_todo", input: { title: "Buy oat milk", due: "2026-12-01" } }],
      },
      { kind: "text", text: "Done — buy oat milk is on your list for Tuesday." },
    ]);
    const page = await open();
    await page.goto(app.url);
    await page.waitForSelector("[data-testid=connection][data-state=connected]");

    await enterPin(page, "9999");
    await expect
      .poll(() => page.textContent("[data-testid=signin-message]"))
      .toMatch(/didn't match.*4 tries left/);
    // The wrong PIN is cleared for the next try.
    expect(await page.getAttribute("[data-testid=pin-dots]", "data-count")).toBe("0");

    await enterPin(page, "1234");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    expect(await page.textContent("[data-testid=user-name]")).toBe("Alice Nguyen");
    expect(await page.textContent("[data-testid=user-teams]")).toContain("Operations · owner");

    await page.fill("[data-testid=message]", "add buy oat milk for Tuesday");
    await page.press("[data-testid=message]", "Enter");
    await page.waitForSelector("li.bubble.assistant:not(.streaming) >> text=Done — buy oat milk");
    const transcript = await page.textContent("[data-testid=transcript]");
    // Greeted by name first (voice is set up on this server).
    expect(transcript).toContain("Hi Alice, what can I do for you?");
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
    expect(await storedSession(page)).toEqual({});
    await page.close();
  });

  it("talks: the microphone's audio is transcribed, answered, and the answer is played", async () => {
    if (!app || !fake || !deepgram) throw new Error("the app did not start");
    const page = await open();
    await page.goto(app.url);
    await enterPin(page, "5678");
    await page.waitForSelector("[data-testid=call]:not([hidden])");
    const { sessionId = "" } = await storedSession(page);
    await scriptDeepgram(deepgram.url, sessionId, [
      { text: "what is on my list today", afterAudioMs: 600 },
    ]);
    await scriptClaude(fake.url, "Bob Okafor", [
      { kind: "text", text: "You have one todo. It is the launch email." },
    ]);

    // Tapped, as on a phone.
    await page.tap("[data-testid=mic]");
    // The microphone opens asynchronously (permission, worklets).
    await expect.poll(() => page.getAttribute("[data-testid=mic]", "aria-pressed")).toBe("true");
    await page.waitForSelector("li.bubble.user >> text=what is on my list today");
    await page.waitForSelector(
      "li.bubble.assistant >> text=You have one todo. It is the launch email.",
    );
    // The page's player was handed the assistant's audio.
    await page.waitForFunction("Number(document.body.dataset.playedFrames ?? 0) > 10");
    // The greeting was spoken first, and the latency readout shows the turn as heard: the page
    // reported when the reply started playing.
    expect(await page.textContent("[data-testid=transcript]")).toContain("Hi Bob, what can I do");
    await expect
      .poll(() => page.textContent("[data-testid=latency]"))
      .toMatch(
        /Heard in \d+ ms.*end of turn \d+ ms · Claude \d+ ms · voice \d+ ms · server \d+ ms/s,
      );
    await page.screenshot({ path: "test-results/caller-page-voice.png" });
    await page.click("[data-testid=mic]");
    expect(await page.getAttribute("[data-testid=mic]", "aria-pressed")).toBe("false");
    await page.close();
  });

  it("barge-in: the page stops playing at once and the assistant remembers only what was played", async () => {
    if (!app || !fake || !deepgram) throw new Error("the app did not start");
    const marker = crypto.randomUUID().slice(0, 8);
    const long = `and then a long list of every single thing on it, ${marker}, which would take a good while to read out loud to you right now.`;
    // Aura sends the long sentence at once, but it takes about five seconds to play: what was
    // sent is far more than what was heard.
    await paceDeepgramTts(deepgram.url, { match: marker, msPerChar: 40 });
    const page = await open();
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
    await page.tap("[data-testid=mic]");
    await page.waitForSelector("li.bubble.assistant >> text=Okay, stopping there.");
    // The page said how much it had played when it stopped: a second or two of the reply.
    const report = sent.map((f) => JSON.parse(f)).find((m) => m.type === "playback_stopped");
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
    await page.tap("[data-testid=mic]");
    await page.close();
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
      const stored: unknown = JSON.parse(sessionStorage.getItem(key) ?? "{}");
      sessionStorage.setItem(key, JSON.stringify({ ...Object(stored), token: "x".repeat(43) }));
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
