/**
 * The fake Twilio's REST API and status callbacks, checked against Twilio's documented
 * behaviour and against twilio-node's own signature validator.
 */
import { validateRequest } from "twilio/lib/webhooks/webhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scriptTwilio, twilioCalls, waitForCall } from "./client.ts";
import { type FakeTwilio, startFakeTwilio } from "./server.ts";
import { type ReceivedCallback, startCallbackApp } from "./test-apps.ts";

const ACCOUNT = `AC${"0123456789abcdef".repeat(2)}`;
const TOKEN = "test-twilio-auth-token";
const RFC2822 = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/;

let fake: FakeTwilio;
let app: Awaited<ReturnType<typeof startCallbackApp>>;
beforeAll(async () => {
  fake = await startFakeTwilio({ accountSid: ACCOUNT, authToken: TOKEN });
  // The app answers 500 to one call's ringing callback, to see the fake record it, and
  // serves TwiML that hangs up at /twiml.
  app = await startCallbackApp((p, path) => {
    if (path.startsWith("/twiml")) return { twiml: "<Response><Hangup/></Response>" };
    return p.To?.includes("status-500") && p.CallStatus === "ringing" ? 500 : 204;
  });
});
afterAll(async () => {
  await fake.close();
  await app.close();
});

const callsUrl = () => `${fake.url}/2010-04-01/Accounts/${ACCOUNT}/Calls.json`;
const callUrl = (sid: string) => `${fake.url}/2010-04-01/Accounts/${ACCOUNT}/Calls/${sid}.json`;
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

function post(url: string, params: [string, string][], auth = basic(ACCOUNT, TOKEN)) {
  return fetch(url, {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  });
}

/** A call to a SIP extension that carries `match` in a SIP header, as the app will place. */
function callParams(match: string, extra: [string, string][] = []): [string, string][] {
  return [
    ["To", `sip:2001@pbx.example?X-Session=${match}&X-Caller-Name=Alice%20N`],
    ["From", "+15005550006"],
    ["Twiml", "<Response><Pause length='60'/></Response>"],
    ["StatusCallback", `${app.url}/twilio/status?leg=${match}`],
    ...extra,
  ];
}

async function createCall(match: string, extra: [string, string][] = []): Promise<string> {
  const res = await post(callsUrl(), callParams(match, extra));
  const body = (await res.json()) as { sid: string };
  expect(res.status).toBe(201);
  return body.sid;
}

const callbacksFor = (sid: string): ReceivedCallback[] =>
  app.received.filter((r) => r.params.CallSid === sid);
const signedByTwilio = (r: ReceivedCallback, params = r.params) =>
  validateRequest(TOKEN, String(r.headers["x-twilio-signature"]), r.url, params);

describe("fake Twilio: REST API", () => {
  it("refuses bad credentials as Twilio does (401, 20003), and unknown calls (404, 20404)", async () => {
    const anonymous = await fetch(callsUrl(), { method: "POST", body: "To=%2B15005550006" });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect(await anonymous.json()).toMatchObject({
      code: 20003,
      message: "Authenticate",
      more_info: "https://www.twilio.com/docs/errors/20003",
      status: 401,
    });
    const wrongToken = await post(callsUrl(), callParams("auth-1"), basic(ACCOUNT, "nope"));
    expect(wrongToken.status).toBe(401);
    const otherAccount = `${fake.url}/2010-04-01/Accounts/AC${"f".repeat(32)}/Calls.json`;
    expect((await post(otherAccount, callParams("auth-1"))).status).toBe(401);

    const missing = await fetch(callUrl(`CA${"0".repeat(32)}`), {
      headers: { authorization: basic(ACCOUNT, TOKEN) },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 20404, status: 404 });
    expect(await twilioCalls(fake.url, "auth-1")).toEqual([]);
  });

  it("checks a create's params and answers with Twilio's error codes", async () => {
    /** The good params with these replaced (undefined: left out). */
    const changed = (changes: Record<string, string | undefined>): [string, string][] => [
      ...callParams("bad-1").filter(([name]) => !(name in changes)),
      ...Object.entries(changes).flatMap(([n, v]): [string, string][] => (v ? [[n, v]] : [])),
    ];
    const cases: [[string, string][], number][] = [
      [changed({ To: undefined }), 21201],
      [changed({ To: "2001" }), 21211],
      [changed({ From: undefined }), 21213],
      [changed({ To: "+14155550100", From: "alice" }), 21212],
      [changed({ Twiml: undefined }), 21205],
      [changed({ Twiml: undefined, Url: "not a url" }), 21205],
      [changed({ Timeout: "0" }), 21208],
      [changed({ Timeout: "ten" }), 21208],
      [changed({ StatusCallbackEvent: "answered hungup" }), 21626],
      [changed({ StatusCallback: "ftp://x" }), 21609],
      [changed({ StatusCallbackMethod: "PUT" }), 21209],
    ];
    for (const [params, code] of cases) {
      const res = await post(callsUrl(), params);
      expect({ status: res.status, body: await res.json() }).toMatchObject({
        status: 400,
        body: { code, status: 400, more_info: `https://www.twilio.com/docs/errors/${code}` },
      });
    }
    expect(await twilioCalls(fake.url, "bad-1")).toEqual([]);
  });

  it("creates a queued call and records what was posted, the SIP password redacted", async () => {
    const res = await post(
      callsUrl(),
      callParams("create-1", [
        ["SipAuthUsername", "transfer"],
        ["SipAuthPassword", "s3cret"],
        ["Timeout", "20"],
      ]),
    );
    expect(res.status).toBe(201);
    const call = (await res.json()) as { sid: string };
    expect(call).toMatchObject({
      sid: expect.stringMatching(/^CA[0-9a-f]{32}$/),
      account_sid: ACCOUNT,
      to: "sip:2001@pbx.example?X-Session=create-1&X-Caller-Name=Alice%20N",
      from: "+15005550006",
      status: "queued",
      direction: "outbound-api",
      api_version: "2010-04-01",
      date_created: expect.stringMatching(RFC2822),
      uri: `/2010-04-01/Accounts/${ACCOUNT}/Calls/${call.sid}.json`,
    });
    const fetched = await fetch(callUrl(call.sid), {
      headers: { authorization: basic(ACCOUNT, TOKEN) },
    });
    expect(await fetched.json()).toMatchObject({ sid: call.sid });

    const [record] = await twilioCalls(fake.url, "create-1");
    expect(record?.params).toMatchObject({
      To: "sip:2001@pbx.example?X-Session=create-1&X-Caller-Name=Alice%20N",
      SipAuthUsername: "transfer",
      SipAuthPassword: "***",
      Timeout: "20",
    });
    expect(JSON.stringify(record)).not.toContain("s3cret");
    expect((await post(callUrl(call.sid), [["Status", "canceled"]])).status).toBe(200);
  });
});

describe("fake Twilio: status callbacks", () => {
  it("sends the subscribed events in order, signed so that twilio's validateRequest accepts them", async () => {
    await scriptTwilio(fake.url, "status-500", [
      { status: "initiated" },
      { status: "ringing", afterMs: 20 },
      { status: "in-progress", openStream: false, afterMs: 20 },
      { status: "completed", afterMs: 30 },
    ]);
    const sid = await createCall("status-500", [
      ["StatusCallbackEvent", "initiated ringing"],
      ["StatusCallbackEvent", "answered"],
      ["StatusCallbackEvent", "completed"],
    ]);
    const record = await waitForCall(fake.url, "status-500", (c) => c.callbacks.length === 4);
    expect(record.params.StatusCallbackEvent).toBe("initiated ringing answered completed");
    expect(record.statuses).toEqual(["queued", "initiated", "ringing", "in-progress", "completed"]);
    expect(record.callbacks.map((c) => [c.CallStatus, c.SequenceNumber, c.httpStatus])).toEqual([
      ["initiated", "0", 204],
      ["ringing", "1", 500],
      ["in-progress", "2", 204],
      ["completed", "3", 204],
    ]);

    const received = callbacksFor(sid);
    expect(received.map((r) => r.params.CallStatus)).toEqual([
      "initiated",
      "ringing",
      "in-progress",
      "completed",
    ]);
    for (const r of received) {
      expect(r.method).toBe("POST");
      expect(r.url).toBe(`${app.url}/twilio/status?leg=status-500`);
      expect(r.headers["content-type"]).toBe("application/x-www-form-urlencoded");
      expect(r.headers["user-agent"]).toBe("TwilioProxy/1.1");
      expect(r.headers["i-twilio-idempotency-token"]).toBeTruthy();
      expect(signedByTwilio(r)).toBe(true);
      expect(signedByTwilio(r, { ...r.params, CallStatus: "busy" })).toBe(false);
      expect(r.params).toMatchObject({
        AccountSid: ACCOUNT,
        ApiVersion: "2010-04-01",
        CallSid: sid,
        CallbackSource: "call-progress-events",
        Direction: "outbound-api",
        From: "+15005550006",
        Caller: "+15005550006",
        To: "sip:2001@pbx.example?X-Session=status-500&X-Caller-Name=Alice%20N",
        Called: "sip:2001@pbx.example?X-Session=status-500&X-Caller-Name=Alice%20N",
        Timestamp: expect.stringMatching(RFC2822),
      });
    }
    expect(received[3]?.params).toMatchObject({
      CallDuration: "1",
      Duration: "1",
      SipResponseCode: "200",
    });
    expect(received[0]?.params.CallDuration).toBeUndefined();
  });

  it("sends only the completed event when no StatusCallbackEvent is given", async () => {
    await scriptTwilio(fake.url, "only-completed", [
      { status: "initiated" },
      { status: "ringing" },
      { status: "busy", afterMs: 20 },
    ]);
    const sid = await createCall("only-completed");
    const record = await waitForCall(fake.url, "only-completed", (c) => c.callbacks.length > 0);
    expect(record.status).toBe("busy");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(callbacksFor(sid).map((r) => r.params)).toEqual([
      expect.objectContaining({ CallStatus: "busy", SequenceNumber: "0", SipResponseCode: "486" }),
    ]);
  });

  it("delivers scripted duplicate and out-of-order callbacks without changing the call", async () => {
    await scriptTwilio(fake.url, "dup-1", [
      { status: "ringing" },
      { callback: { CallStatus: "completed", CallDuration: 0 } },
      { status: "in-progress", openStream: false },
      { callback: { CallStatus: "ringing", SequenceNumber: "0" } },
      { status: "completed", afterMs: 10 },
      { callback: { CallStatus: "completed", SequenceNumber: "3" } },
      { status: "ringing" },
    ]);
    const sid = await createCall("dup-1", [
      ["StatusCallbackEvent", "initiated ringing answered completed"],
    ]);
    const record = await waitForCall(fake.url, "dup-1", (c) => c.callbacks.length === 6);
    const received = callbacksFor(sid);
    expect(received.map((r) => [r.params.CallStatus, r.params.SequenceNumber])).toEqual([
      ["ringing", "0"],
      ["completed", "1"],
      ["in-progress", "2"],
      ["ringing", "0"],
      ["completed", "3"],
      ["completed", "3"],
    ]);
    expect(received.every((r) => signedByTwilio(r))).toBe(true);
    expect(record.statuses).toEqual(["queued", "ringing", "in-progress", "completed"]);
    expect(record.errors).toEqual([expect.stringContaining('"ringing" ignored')]);
  });

  it("rings out as no-answer after the call's Timeout, as Twilio's ring timeout does", async () => {
    const sid = await createCall("timeout-1", [
      ["StatusCallbackEvent", "initiated ringing answered completed"],
      ["Timeout", "1"],
    ]);
    const record = await waitForCall(fake.url, "timeout-1", (c) => c.callbacks.length === 3, 3000);
    expect(record.statuses).toEqual(["queued", "initiated", "ringing", "no-answer"]);
    expect(callbacksFor(sid).map((r) => r.params.CallStatus)).toEqual([
      "initiated",
      "ringing",
      "no-answer",
    ]);
    expect(callbacksFor(sid)[2]?.params).toMatchObject({
      CallDuration: "0",
      SipResponseCode: "487",
    });
    const late = await post(callUrl(sid), [["Status", "canceled"]]);
    expect(late.status).toBe(400);
    expect(await late.json()).toMatchObject({ code: 21220, status: 400 });
  });
});

describe("fake Twilio: updating a call", () => {
  it("cancels a ringing call, then refuses to update the ended call (21220)", async () => {
    await scriptTwilio(fake.url, "cancel-1", [{ status: "initiated" }, { status: "ringing" }]);
    const sid = await createCall("cancel-1", [["StatusCallbackEvent", "ringing completed"]]);
    await waitForCall(fake.url, "cancel-1", (c) => c.callbacks.length === 1);
    const canceled = await post(callUrl(sid), [["Status", "canceled"]]);
    expect(canceled.status).toBe(200);
    expect(await canceled.json()).toMatchObject({ sid, status: "canceled" });
    const again = await post(callUrl(sid), [["Status", "completed"]]);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({
      code: 21220,
      message: "Call is not in-progress. Cannot redirect.",
    });
    const record = await waitForCall(fake.url, "cancel-1", (c) => c.callbacks.length === 2);
    expect(record.callbacks.map((c) => c.CallStatus)).toEqual(["ringing", "canceled"]);
    expect(callbacksFor(sid)[1]?.params.SipResponseCode).toBe("487");
    expect(record.updates).toMatchObject([
      { Status: "canceled", httpStatus: 200 },
      { Status: "completed", httpStatus: 400 },
    ]);
  });

  it("leaves an answered call alone on Status=canceled and hangs it up on Status=completed", async () => {
    await scriptTwilio(fake.url, "complete-1", [{ status: "in-progress", openStream: false }]);
    const sid = await createCall("complete-1", [["StatusCallbackEvent", "answered completed"]]);
    await waitForCall(fake.url, "complete-1", (c) => c.callbacks.length === 1);
    const canceled = await post(callUrl(sid), [["Status", "canceled"]]);
    expect(await canceled.json()).toMatchObject({ status: "in-progress" });
    const completed = await post(callUrl(sid), [["Status", "completed"]]);
    expect(await completed.json()).toMatchObject({
      status: "completed",
      end_time: expect.any(String),
    });
    const record = await waitForCall(fake.url, "complete-1", (c) => c.callbacks.length === 2);
    expect(record.callbacks.map((c) => c.CallStatus)).toEqual(["in-progress", "completed"]);
    expect(record.stream).toBeNull();
  });

  it("fetches TwiML from the call's Url on answer, signed, and runs it (here: hang up)", async () => {
    await scriptTwilio(fake.url, "url-1", [{ status: "in-progress" }]);
    const params = callParams("url-1").filter(([name]) => name !== "Twiml");
    const res = await post(callsUrl(), [...params, ["Url", `${app.url}/twiml?leg=url-1`]]);
    const { sid } = (await res.json()) as { sid: string };
    const record = await waitForCall(fake.url, "url-1", (c) => c.callbacks.length === 1);
    expect(record.statuses).toEqual(["queued", "in-progress", "completed"]);
    const fetched = app.received.find((r) => r.url.includes("/twiml") && r.params.CallSid === sid);
    expect(fetched?.params).toMatchObject({ CallStatus: "in-progress", Direction: "outbound-api" });
    expect(fetched && signedByTwilio(fetched)).toBe(true);
  });
});
