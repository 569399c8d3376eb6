/**
 * The agent dashboard end to end, in real parts: Kamailio as the SIP-over-WebSocket PBX, the
 * whole app as `npm start` runs it (with a Postgres this test can write transfers into), the
 * dashboard in headless Chromium registered as 2001, and a second page with JsSIP as the
 * transferred caller (Twilio's leg) sending the transfer's SIP headers.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/pglite";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppProcess, freePort, startAppProcess } from "../../scripts/app-process.ts";
import { openEmbeddedPostgres } from "../../scripts/embedded-postgres.ts";
import { type Kamailio, kamailioMissing, startKamailio } from "../../scripts/kamailio.ts";
import {
  localConnectionString,
  type NeonHttpServer,
  startNeonHttpServer,
} from "../../scripts/neon-http-server.ts";
import { DEMO_AGENTS } from "../../scripts/seed.ts";
import { pgliteBackend } from "../../scripts/sql-backends.ts";
import { agentCalls } from "../../worker/db/schema.ts";
import { chromiumArgs } from "../browser/support/caller-page.ts";
import { type CallerUa, serveCallerUa } from "./support/caller-ua-server.ts";
import { ALICE_ID, seedTransfer } from "./support/transfers.ts";

declare const callerUa: CallerUa;

// Browser-side snippets are strings: the repository's type check has no DOM types.
/** Test instrumentation: keeps every RTCPeerConnection the dashboard makes, to read its stats. */
const RECORD_PEER_CONNECTIONS = `
  const Native = window.RTCPeerConnection;
  window.peerConnections = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config) { super(config); window.peerConnections.push(this); }
  };`;
const DASHBOARD_BYTES_RECEIVED = `(async () => {
  let bytes = 0;
  for (const pc of window.peerConnections) {
    for (const report of (await pc.getStats()).values()) {
      if (report.type === "inbound-rtp" && report.kind === "audio") bytes += report.bytesReceived ?? 0;
    }
  }
  return bytes;
})()`;
const MIC_ENABLED =
  "window.peerConnections.flatMap((pc) => pc.getSenders()).map((s) => s.track?.enabled)";

const CHROMIUM = "/usr/bin/chromium";
const skipReason = !existsSync(CHROMIUM)
  ? `Chromium not found at ${CHROMIUM} (apt-get install chromium)`
  : kamailioMissing();
if (skipReason) console.warn(`Skipping the dashboard test: ${skipReason}.`);

const SIP_PASSWORD = `sip-${randomBytes(6).toString("hex")}`;
const [sam] = DEMO_AGENTS;
const SHOTS = "/tmp/convonet-dashboard";

describe.skipIf(skipReason)("agent dashboard softphone", () => {
  let pg: PGlite | undefined;
  let neon: NeonHttpServer | undefined;
  let kamailio: Kamailio | undefined;
  let app: AppProcess | undefined;
  let browser: Browser | undefined;
  let caller: { url: string; close(): Promise<void> } | undefined;
  let dashboard: Page | undefined;
  const dir = mkdtempSync(join(tmpdir(), "convonet-dashboard-"));

  const db = () => {
    if (!pg) throw new Error("no database");
    return drizzle({ client: pg });
  };

  beforeAll(async () => {
    const wav = join(dir, "caller.wav");
    execFileSync("espeak-ng", ["-w", wav, "hello, I was charged twice this month"], {
      stdio: "ignore",
    });
    pg = await openEmbeddedPostgres();
    const password = randomBytes(12).toString("hex");
    neon = await startNeonHttpServer({ backend: pgliteBackend(pg), password });
    kamailio = await startKamailio({ port: await freePort(), sipPassword: SIP_PASSWORD });
    [app, browser, caller] = await Promise.all([
      startAppProcess({
        DATABASE_URL: localConnectionString(password, neon.port),
        NEON_FETCH_ENDPOINT: neon.url,
        FUSIONPBX_WSS_URL: kamailio.wsUrl,
        FUSIONPBX_SIP_DOMAIN: kamailio.domain,
        ANTHROPIC_API_KEY: "",
        DEEPGRAM_API_KEY: "",
      }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          ...chromiumArgs(wav),
          // Without it ICE has no candidates where only the loopback interface exists.
          "--allow-loopback-in-peer-connection",
        ],
      }),
      serveCallerUa(),
    ]);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await Promise.all([kamailio?.stop(), caller?.close(), neon?.close()]);
    await pg?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  async function openCaller(): Promise<Page> {
    if (!browser || !caller || !kamailio) throw new Error("not started");
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(caller.url);
    await page.waitForFunction('"callerUa" in window');
    await page.evaluate((ws) => callerUa.connect(ws), kamailio.wsUrl);
    return page;
  }

  async function dashboardBytesReceived(page: Page): Promise<number> {
    return Number(await page.evaluate(DASHBOARD_BYTES_RECEIVED));
  }

  const callerEvents = (page: Page) => page.evaluate(() => [...callerUa.events]);

  it("signs in, registers as 2001, rings with the caller's context, talks, and logs the notes", async () => {
    if (!browser || !app) throw new Error("not started");
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Shorter than the test's own limit, so a failure names the step that never happened.
    page.setDefaultTimeout(10_000);
    dashboard = page;
    await page.addInitScript(RECORD_PEER_CONNECTIONS);
    await page.goto(app.dashboardUrl);
    await page.fill("[data-testid=login]", sam.login);
    await page.fill("[data-testid=password]", sam.password);
    await page.click("[data-testid=signin-submit]");
    await page.fill("[data-testid=sip-password]", SIP_PASSWORD);
    await page.click("[data-testid=connect-submit]");
    await page.waitForSelector("[data-testid=registration][data-state=registered]");
    await page.waitForSelector("[data-testid=idle]");
    await page.screenshot({ path: `${SHOTS}/idle.png` });

    const transfer = await seedTransfer(db(), {
      userId: ALICE_ID,
      department: "support",
      extension: sam.sipExtension,
      callerName: "Alice Nguyen",
      email: "alice@demo.convonet.dev",
    });
    const callerPage = await openCaller();
    await callerPage.evaluate(
      ([sessionId]) =>
        callerUa.call(
          "sip:2001@127.0.0.1",
          [`X-Session: ${sessionId}`, "X-Caller-Name: Alice Nguyen"],
          "Convonet",
        ),
      [transfer.sessionId],
    );

    await page.waitForSelector("[data-testid=phone][data-phase=ringing]");
    await expect
      .poll(() => page.textContent("[data-testid=caller-summary]"))
      .toBe(transfer.summary);
    expect(await page.textContent("[data-testid=caller-name]")).toBe("Alice Nguyen");
    expect(await page.textContent("[data-testid=caller-reason]")).toBe(transfer.reason);
    expect(await page.textContent("[data-testid=caller-teams]")).toContain("Operations · owner");
    expect(await page.textContent("[data-testid=caller-transcript]")).toContain(
      "Can I talk to a person",
    );
    await page.screenshot({ path: `${SHOTS}/ringing.png` });

    // The keyboard shortcut answers.
    await page.keyboard.press("a");
    await page.waitForSelector("[data-testid=phone][data-phase=active]");
    await expect.poll(() => callerEvents(callerPage)).toContain("confirmed");
    // Audio flows both ways.
    await expect
      .poll(() => dashboardBytesReceived(page), { timeout: 10_000 })
      .toBeGreaterThan(2_000);
    await expect
      .poll(() => callerPage.evaluate(() => callerUa.bytesReceived()), { timeout: 10_000 })
      .toBeGreaterThan(2_000);
    await page.waitForSelector("[data-testid=call-timer]");

    await page.click("[data-testid=mute]");
    expect(await page.getAttribute("[data-testid=mute]", "aria-pressed")).toBe("true");
    const micEnabled = () => page.evaluate(MIC_ENABLED);
    expect(await micEnabled()).toEqual([false]);
    await page.click("[data-testid=mute]");
    expect(await micEnabled()).toEqual([true]);

    await page.click("[data-testid=hold]");
    await expect.poll(() => callerEvents(callerPage)).toContain("hold:remote");
    await page.waitForSelector("[data-testid=call-state] >> text=On hold");
    await page.screenshot({ path: `${SHOTS}/on-hold.png` });
    await page.click("[data-testid=hold]");
    await expect.poll(() => callerEvents(callerPage)).toContain("unhold:remote");

    await page.click("[data-testid=keypad-toggle]");
    for (const key of ["4", "2", "#"]) await page.click(`[data-testid=keypad] [data-key="${key}"]`);
    await expect
      .poll(async () => (await callerEvents(callerPage)).filter((e) => e.startsWith("dtmf:")))
      .toEqual(["dtmf:4", "dtmf:2", "dtmf:#"]);
    await page.screenshot({ path: `${SHOTS}/in-call.png` });

    await page.keyboard.press("h");
    await expect
      .poll(() => callerEvents(callerPage))
      .toContainEqual(expect.stringMatching(/^ended:remote:/));
    await page.waitForSelector("[data-testid=wrap-up]");
    await page.check("[data-testid=disposition-follow_up]");
    await page.fill(
      "[data-testid=notes]",
      "Refund of the second March charge promised within 5 days.",
    );
    await page.screenshot({ path: `${SHOTS}/wrap-up.png` });
    await page.click("[data-testid=save-notes]");
    await page.waitForSelector("[data-testid=idle]");
    const entry = page.locator("[data-testid=call-log-entry]").first();
    await expect.poll(() => entry.textContent()).toContain("Refund of the second March charge");
    expect(await entry.textContent()).toContain("Alice Nguyen");
    expect(await entry.textContent()).toContain("Follow-up");
    await page.screenshot({ path: `${SHOTS}/after-call.png` });

    const [row] = await db()
      .select()
      .from(agentCalls)
      .where(eq(agentCalls.sessionId, transfer.sessionId));
    expect(row).toMatchObject({ outcome: "answered", disposition: "follow_up" });
    expect(row?.transferId).not.toBeNull();
    expect(row?.answeredAt).not.toBeNull();
    await callerPage.close();
  }, 45_000);

  it("a call without a session header, or for another department, still rings with what SIP says", async () => {
    const page = dashboard;
    if (!page) throw new Error("the first test did not sign in");
    const billing = await seedTransfer(db(), {
      userId: ALICE_ID,
      department: "billing",
      extension: "2002",
      callerName: "Alice Nguyen",
      email: "alice@demo.convonet.dev",
    });
    const callerPage = await openCaller();
    await callerPage.evaluate(
      ([sessionId]) =>
        callerUa.call("sip:2001@127.0.0.1", [`X-Session: ${sessionId}`], "Someone Else"),
      [billing.sessionId],
    );
    await page.waitForSelector("[data-testid=phone][data-phase=ringing]");
    await page.waitForSelector("[data-testid=context-error]");
    expect(await page.textContent("[data-testid=caller-name]")).toBe("Someone Else");
    expect(await page.textContent("[data-testid=sip-only]")).not.toContain(billing.summary);
    expect(await page.locator("[data-testid=caller-summary]").count()).toBe(0);
    await page.keyboard.press("d");
    await expect
      .poll(() => callerEvents(callerPage))
      .toContainEqual(expect.stringMatching(/^failed:remote:/));
    await page.waitForSelector("[data-testid=idle]");

    await callerPage.evaluate(() => callerUa.call("sip:2001@127.0.0.1", [], "Plain Caller"));
    await page.waitForSelector("[data-testid=phone][data-phase=ringing]");
    expect(await page.textContent("[data-testid=caller-name]")).toBe("Plain Caller");
    expect(await page.textContent("[data-testid=sip-only]")).toContain(
      "without a Convonet session",
    );
    // Answered, then handed on with a blind transfer (REFER) to 2002.
    await page.click("[data-testid=answer]");
    await page.waitForSelector("[data-testid=phone][data-phase=active]");
    await page.fill("[data-testid=transfer-to]", "2002");
    await page.click("[data-testid=transfer]");
    await expect.poll(() => callerEvents(callerPage)).toContain("refer:sip:2002@127.0.0.1");
    // An answered call ends in the wrap-up, which stays until the notes are saved. (The idle
    // screen's "Last call" shows only for the moment the call is being logged, until then.)
    await page.waitForSelector("[data-testid=wrap-up] >> text=Transferred to 2002.");
    await expect
      .poll(() => page.locator("[data-testid=call-log-entry]").count())
      .toBeGreaterThanOrEqual(3);
    await page.click("[data-testid=save-notes]");
    await page.waitForSelector("[data-testid=last-call] >> text=Transferred to 2002.");
    await callerPage.close();
  }, 30_000);

  it("says the network is lost and registers again when the PBX comes back", async () => {
    const page = dashboard;
    if (!page || !kamailio) throw new Error("not started");
    const port = kamailio.port;
    await kamailio.stop();
    await page.waitForSelector("[data-testid=registration][data-state=reconnecting]");
    expect(await page.textContent("[data-testid=phone-error]")).toContain("Network lost");
    kamailio = await startKamailio({ port, sipPassword: SIP_PASSWORD });
    await page.waitForSelector("[data-testid=registration][data-state=registered]", {
      timeout: 15_000,
    });
    expect(await page.locator("[data-testid=phone-error]").count()).toBe(0);
  }, 25_000);
});
