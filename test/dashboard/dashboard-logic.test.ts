/**
 * The dashboard's pure parts: settings resolution, session tokens, and the softphone's words.
 */
import { describe, expect, it } from "vitest";
import { endedCallWords, registrationFailureWords } from "../../web/dashboard/phone-words.ts";
import { checkToken, issueToken } from "../../worker/dashboard/session-token.ts";
import { dashboardSettings } from "../../worker/dashboard/settings.ts";

describe("dashboard settings", () => {
  it("reads exact origins, the PBX and ICE servers, with safe defaults", () => {
    const s = dashboardSettings({
      DASHBOARD_ORIGINS: " https://agents.example.com/ ,http://127.0.0.1:8788",
      FUSIONPBX_WSS_URL: "wss://pbx.example.com:7443",
      AGENT_ICE_SERVERS: '[{"urls":["stun:stun.example.com"]}]',
    });
    expect(s.allowedOrigins).toEqual(["https://agents.example.com", "http://127.0.0.1:8788"]);
    expect(s.sipDomain).toBe("pbx.example.com");
    expect(s.iceServers).toEqual([{ urls: ["stun:stun.example.com"] }]);
    expect(s.sessionLifetimeMs).toBe(12 * 3_600_000);
    expect(s.cookieSameSite).toBe("Strict");
    expect(dashboardSettings({}).allowedOrigins).toEqual([]);
    expect(() => dashboardSettings({ AGENT_ICE_SERVERS: '{"urls":1}' })).toThrow(
      /AGENT_ICE_SERVERS/,
    );
  });

  it("takes TURN URLs only with the server's shared secret, and only turn: or turns: ones", () => {
    const secret = "a-turn-secret-of-some-length";
    const s = dashboardSettings({
      AGENT_TURN_URLS: " turn:t.example.com:3478 ,",
      AGENT_TURN_SECRET: secret,
    });
    expect(s.turnUrls).toEqual(["turn:t.example.com:3478"]);
    expect(dashboardSettings({}).turnUrls).toEqual([]);
    expect(() => dashboardSettings({ AGENT_TURN_URLS: "turn:t.example.com" })).toThrow(
      /AGENT_TURN_SECRET/,
    );
    expect(() =>
      dashboardSettings({ AGENT_TURN_URLS: "stun:t.example.com", AGENT_TURN_SECRET: secret }),
    ).toThrow(/turn: or turns:/);
  });
});

describe("session tokens", () => {
  const secret = "test-secret-0123456789abcdef";
  it("verify only with the same key, unchanged and unexpired", async () => {
    const issued = await issueToken(secret, 60_000);
    expect(await checkToken(secret, issued.token)).toBe(issued.tokenHash);
    expect(await checkToken(`${secret}x`, issued.token)).toBeNull();
    expect(await checkToken(secret, `${issued.token}x`)).toBeNull();
    expect(await checkToken(secret, issued.token, Date.now() + 61_000)).toBeNull();
    expect(await checkToken(secret, "v1.a.b.c")).toBeNull();
    expect(issued.token).not.toContain(issued.tokenHash);
  });
});

describe("the softphone's words", () => {
  it("says plainly why registration failed", () => {
    expect(registrationFailureWords("Authentication Error")).toMatch(
      /^Registration failed: .*password/,
    );
    expect(registrationFailureWords("Connection Error")).toMatch(/^Network lost/);
  });
  it("says how a call ended", () => {
    expect(endedCallWords("remote", "Canceled", { answeredAt: null, transferringTo: null })).toBe(
      "The caller hung up before you answered.",
    );
    expect(endedCallWords("local", "Terminated", { answeredAt: 1, transferringTo: null })).toBe(
      "You hung up.",
    );
    expect(endedCallWords("local", "Terminated", { answeredAt: 1, transferringTo: "2002" })).toBe(
      "Transferred to 2002.",
    );
    expect(
      endedCallWords("system", "Connection Error", { answeredAt: 1, transferringTo: null }),
    ).toMatch(/network was lost/);
  });
});
