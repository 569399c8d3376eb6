/**
 * The fake Twilio's Media Streams side, against a local `ws` server standing in for the app:
 * the signed upgrade, connected/start with the TwiML's parameters, the human's paced μ-law
 * tone, DTMF, mark echoes, clear, stop, and MediaPeer used directly as tests of the app will.
 */
import { validateRequest } from "twilio/lib/webhooks/webhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  humanAnswer,
  humanDtmf,
  humanHangUp,
  humanTone,
  scriptTwilio,
  waitForCall,
} from "./client.ts";
import { MediaPeer } from "./media-peer.ts";
import { decodeMulawToPcm16le, encodeMulaw } from "./mulaw.ts";
import { type FakeTwilio, startFakeTwilio } from "./server.ts";
import { startCallbackApp, startStreamApp, type TwilioMessage } from "./test-apps.ts";

const ACCOUNT = `AC${"fedcba9876543210".repeat(2)}`;
const TOKEN = "test-twilio-auth-token-2";
const CALL_SID = `CA${"1".repeat(32)}`;

let fake: FakeTwilio;
let callbacks: Awaited<ReturnType<typeof startCallbackApp>>;
let streams: Awaited<ReturnType<typeof startStreamApp>>;
beforeAll(async () => {
  fake = await startFakeTwilio({ accountSid: ACCOUNT, authToken: TOKEN });
  callbacks = await startCallbackApp(() => 200);
  // Refuses an upgrade that Twilio did not sign, as the app must.
  streams = await startStreamApp({
    checkUpgrade: (req) => {
      const url = `${streams.url}${req.url}`;
      const signature = String(req.headers["x-twilio-signature"]);
      return validateRequest(TOKEN, signature, url, {}) ? null : 403;
    },
  });
});
afterAll(async () => {
  await fake.close();
  await callbacks.close();
  await streams.close();
});

/** Places a call whose TwiML connects to the stand-in app at `path`, with two parameters. */
async function placeCall(match: string, path: string): Promise<string> {
  // Attribute order, quotes, whitespace and entities as a TwiML library might vary them.
  const twiml = `<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Connect>
    <Stream name='leg'
        url="${streams.url}${path}" >
      <Parameter value="tok&amp;en" name="token"/>
      <Parameter name='callerName' value='Alice N' />
    </Stream>
  </Connect>
</Response>`;
  const res = await fetch(`${fake.url}/2010-04-01/Accounts/${ACCOUNT}/Calls.json`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({
      To: `sip:2001@pbx.example?X-Session=${match}`,
      From: "+15005550006",
      Twiml: twiml,
      StatusCallback: `${callbacks.url}/status`,
    }).toString(),
  });
  const { sid } = (await res.json()) as { sid: string };
  return sid;
}

const media = (messages: TwilioMessage[]) =>
  messages.flatMap((m) => (m.media ? [{ ...m.media, sequenceNumber: m.sequenceNumber }] : []));
const isSilence = (payload: string) => Buffer.from(payload, "base64").every((b) => b === 0xff);

function sine(hz: number, ms: number, amplitude: number): Int16Array {
  const samples = new Int16Array((ms * 8000) / 1000);
  for (let i = 0; i < samples.length; i++) {
    samples[i] = Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * hz * i) / 8000));
  }
  return samples;
}

/** The app's side of `ms` of audio, as 20 ms media messages. */
function sendAudio(send: (m: object) => void, streamSid: string, pcm: Int16Array) {
  const mulaw = encodeMulaw(pcm);
  for (let at = 0; at < mulaw.length; at += 160) {
    const payload = Buffer.from(mulaw.subarray(at, at + 160)).toString("base64");
    send({ event: "media", streamSid, media: { payload } });
  }
}

describe("fake Twilio: Media Streams", () => {
  it("answers by opening the TwiML's stream, signed, with connected and start", async () => {
    await scriptTwilio(fake.url, "stream-1", [{ status: "ringing" }, { status: "in-progress" }]);
    const sid = await placeCall("stream-1", "/media/stream-1");
    const app = await streams.socket(0);
    await app.waitFor("start");
    expect(app.request.url).toBe("/media/stream-1");
    expect(app.messages[0]?.message).toEqual({
      event: "connected",
      protocol: "Call",
      version: "1.0.0",
    });
    const [start] = app.events("start");
    expect(start).toEqual({
      event: "start",
      sequenceNumber: "1",
      start: {
        accountSid: ACCOUNT,
        streamSid: start?.streamSid,
        callSid: sid,
        tracks: ["inbound"],
        customParameters: { token: "tok&en", callerName: "Alice N" },
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
      streamSid: expect.stringMatching(/^MZ[0-9a-f]{32}$/),
    });
    const call = await waitForCall(fake.url, "stream-1", (c) => c.stream?.accepted === true);
    expect(call.stream).toMatchObject({
      url: `${streams.url}/media/stream-1`,
      streamSid: start?.streamSid,
      closedBy: null,
      customParameters: { token: "tok&en", callerName: "Alice N" },
    });

    // The human speaks: 300 ms of 440 Hz in 20 ms frames, in real time, amid line silence.
    const sentAt = performance.now();
    await humanTone(fake.url, sid, { hz: 440, ms: 300, amplitude: 0.5 });
    await humanDtmf(fake.url, sid, "5#");
    const toneFrames = async () =>
      app.messages.filter((m) => m.message.media && !isSilence(m.message.media.payload));
    for (let i = 0; i < 40 && (await toneFrames()).length < 15; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const tone = await toneFrames();
    expect(tone).toHaveLength(15);
    const span = (tone.at(-1)?.at ?? 0) - (tone[0]?.at ?? 0);
    expect(span).toBeGreaterThan(240);
    expect(span).toBeLessThan(380);
    expect((tone[0]?.at ?? 0) - sentAt).toBeLessThan(100);
    const frames = media(app.messages.map((m) => m.message));
    for (const [i, frame] of frames.entries()) {
      expect(frame.track).toBe("inbound");
      expect(frame.chunk).toBe(String(i + 1));
      expect(Number(frame.timestamp)).toBe(Number(frames[0]?.timestamp) + i * 20);
    }
    const sequence = app.messages.slice(1).map((m) => Number(m.message.sequenceNumber));
    expect(sequence).toEqual(sequence.map((_, i) => i + 1));
    const heard = decodeMulawToPcm16le(
      Buffer.concat(tone.map((m) => Buffer.from(m.message.media?.payload ?? "", "base64"))),
    );
    const samples = Array.from({ length: heard.length / 2 }, (_, i) => heard.readInt16LE(i * 2));
    const crossings = samples.filter((s, i) => i > 0 && (samples[i - 1] ?? 0) < 0 && s >= 0);
    expect(crossings.length / 0.3).toBeGreaterThan(425);
    expect(crossings.length / 0.3).toBeLessThan(455);
    expect(Math.max(...samples)).toBeGreaterThan(0.47 * 32767);
    expect(Math.max(...samples)).toBeLessThan(0.53 * 32767);

    await app.waitFor("dtmf", 2);
    expect(app.events("dtmf")).toMatchObject([
      { streamSid: start?.streamSid, dtmf: { track: "inbound_track", digit: "5" } },
      { streamSid: start?.streamSid, dtmf: { track: "inbound_track", digit: "#" } },
    ]);

    // The human hangs up: stop, the socket closed by Twilio, then the completed callback.
    await humanHangUp(fake.url, sid);
    const [stop] = await app.waitFor("stop");
    expect(stop).toMatchObject({
      streamSid: start?.streamSid,
      stop: { accountSid: ACCOUNT, callSid: sid },
    });
    const ended = await waitForCall(fake.url, "stream-1", (c) => c.callbacks.length === 1);
    expect(ended).toMatchObject({
      status: "completed",
      callbacks: [{ CallStatus: "completed" }],
      stream: { closedBy: "fake", closeCode: 1000, dtmfSent: ["5", "#"] },
    });
    expect(ended.stream?.framesSent).toBeGreaterThanOrEqual(15);
  });

  it("ends the call when the app closes the stream, and stops the stream when the call ends", async () => {
    await scriptTwilio(fake.url, "app-closes", [{ status: "in-progress" }]);
    await placeCall("app-closes", "/media/app-closes");
    const closing = await streams.socket(1);
    await closing.waitFor("start");
    closing.ws.close(4000, "done");
    const closed = await waitForCall(fake.url, "app-closes", (c) => c.status === "completed");
    expect(closed.stream).toMatchObject({ closedBy: "app", closeCode: 4000, closeReason: "done" });

    await scriptTwilio(fake.url, "rest-ends", [{ status: "in-progress" }]);
    const sid = await placeCall("rest-ends", "/media/rest-ends");
    const app = await streams.socket(2);
    await app.waitFor("start");
    const res = await fetch(`${fake.url}/2010-04-01/Accounts/${ACCOUNT}/Calls/${sid}.json`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "Status=completed",
    });
    expect(res.status).toBe(200);
    const [stop] = await app.waitFor("stop");
    const ended = await waitForCall(fake.url, "rest-ends", (c) => c.callbacks.length === 1);
    expect(ended.stream).toMatchObject({ closedBy: "fake", closeCode: 1000 });
    const callback = callbacks.received.find((r) => r.params.CallSid === sid);
    expect(callback?.params.CallStatus).toBe("completed");
    const stoppedAt = app.messages.find((m) => m.message === stop)?.at ?? Infinity;
    expect(callback?.at).toBeGreaterThan(stoppedAt);

    // Answered by the test (not the script), without connecting the stream.
    await scriptTwilio(fake.url, "no-stream", [{ status: "ringing" }]);
    const silent = await placeCall("no-stream", "/media/no-stream");
    await waitForCall(fake.url, "no-stream", (c) => c.status === "ringing");
    await humanAnswer(fake.url, silent, { openStream: false });
    await expect(humanAnswer(fake.url, silent)).rejects.toThrow(/409/);
    await waitForCall(fake.url, "no-stream", (c) => c.status === "in-progress");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(streams.sockets).toHaveLength(3);
    await humanHangUp(fake.url, silent);
    expect(await waitForCall(fake.url, "no-stream", (c) => c.status === "completed")).toMatchObject(
      { stream: null },
    );
  });

  it("stops the stream on a redirect and runs the new TwiML", async () => {
    await scriptTwilio(fake.url, "redirect-1", [{ status: "in-progress" }]);
    const index = streams.sockets.length;
    const sid = await placeCall("redirect-1", "/media/redirect-1");
    const first = await streams.socket(index);
    expect(first.request.url).toBe("/media/redirect-1");
    await first.waitFor("start");
    const twiml = `<Response><Connect><Stream url="${streams.url}/media/redirect-2"/></Connect></Response>`;
    const res = await fetch(`${fake.url}/2010-04-01/Accounts/${ACCOUNT}/Calls/${sid}.json`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${ACCOUNT}:${TOKEN}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ Twiml: twiml }).toString(),
    });
    expect(res.status).toBe(200);
    await first.waitFor("stop");
    const second = await streams.socket(index + 1);
    expect(second.request.url).toBe("/media/redirect-2");
    await second.waitFor("start");
    const call = await waitForCall(fake.url, "redirect-1", (c) => c.stream?.accepted === true);
    expect(call.status).toBe("in-progress");
    expect(call.stream?.url).toBe(`${streams.url}/media/redirect-2`);
    await humanHangUp(fake.url, sid);
    await second.waitFor("stop");
  });
});

describe("MediaPeer", () => {
  it("echoes marks once the app's audio has played, all pending ones at a clear", async () => {
    const index = streams.sockets.length;
    const peer = await MediaPeer.open({
      url: `${streams.url}/media/marks`,
      accountSid: ACCOUNT,
      callSid: CALL_SID,
      authToken: TOKEN,
      silence: false,
    });
    const app = await streams.socket(index);
    const [start] = await app.waitFor("start");
    const streamSid = start?.streamSid ?? "";
    const send = (m: object) => app.send(m);

    const spoken = sine(300, 400, 0.5);
    const sentAt = performance.now();
    sendAudio(send, streamSid, spoken);
    send({ event: "mark", streamSid, mark: { name: "first" } });
    send({ event: "mark", streamSid, mark: { name: "second" } });
    await app.waitFor("mark", 2);
    const marks = app.messages.filter((m) => m.message.event === "mark");
    expect(marks.map((m) => m.message.mark?.name)).toEqual(["first", "second"]);
    expect((marks[0]?.at ?? 0) - sentAt).toBeGreaterThan(380);
    expect((marks[0]?.at ?? 0) - sentAt).toBeLessThan(550);

    sendAudio(send, streamSid, sine(300, 1000, 0.5));
    send({ event: "mark", streamSid, mark: { name: "third" } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const clearedAt = performance.now();
    send({ event: "clear", streamSid });
    await app.waitFor("mark", 3);
    const third = app.messages.filter((m) => m.message.event === "mark")[2];
    expect(third?.message).toMatchObject({ streamSid, mark: { name: "third" } });
    expect((third?.at ?? 0) - clearedAt).toBeLessThan(50);

    send({ event: "media", streamSid: "MZnotthisone", media: { payload: "//8=" } });
    send({ event: "media", streamSid, media: { payload: "not base64!" } });
    send({ event: "dance", streamSid });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const record = peer.record();
    expect(record).toMatchObject({
      accepted: true,
      framesReceived: 70,
      marksReceived: ["first", "second", "third"],
      marksEchoed: ["first", "second", "third"],
      clears: 1,
      receivedMs: 1400,
      framesSent: 0,
    });
    expect(record.droppedMs).toBeGreaterThan(800);
    expect(record.droppedMs).toBeLessThan(950);
    expect(record.errors).toEqual([
      expect.stringContaining("for streamSid MZnotthisone"),
      "media payload is not base64",
      expect.stringContaining("31924"),
    ]);
    // What the app sent, decoded by the fake, is the sine back within μ-law's error.
    const received = Buffer.from(record.received, "base64");
    let error = 0;
    let power = 0;
    for (const [i, sample] of spoken.entries()) {
      error += (received.readInt16LE(i * 2) - sample) ** 2;
      power += sample ** 2;
    }
    expect(Math.sqrt(error / power)).toBeLessThan(0.03);

    await peer.stop();
    expect(app.events("stop")).toHaveLength(1);
    expect(peer.record()).toMatchObject({ closedBy: "fake", closeCode: 1000 });
  });

  it("opens a stream with forged parameters or headers and reports whether the app took it", async () => {
    const open = (token: string, headers?: Record<string, string>) =>
      MediaPeer.open({
        url: `${streams.url}/media/tokens`,
        accountSid: ACCOUNT,
        callSid: CALL_SID,
        customParameters: { token },
        authToken: TOKEN,
        headers,
        silence: false,
        acceptAfterMs: 100,
      });
    const good = await open("good");
    expect(await good.outcome()).toEqual({ accepted: true });

    const index = streams.sockets.length;
    const forged = await open("forged");
    const app = await streams.socket(index);
    const [start] = await app.waitFor("start");
    expect(start).toMatchObject({ start: { customParameters: { token: "forged" } } });
    app.ws.close(1008, "bad token");
    expect(await forged.outcome()).toMatchObject({
      accepted: false,
      closeCode: 1008,
      closeReason: "bad token",
    });
    expect(forged.record()).toMatchObject({ accepted: false, closedBy: "app" });

    const unsigned = await open("good", { "X-Twilio-Signature": "forged" });
    expect(await unsigned.outcome()).toMatchObject({
      accepted: false,
      upgradeStatus: 403,
      errors: [expect.stringContaining("31920")],
    });
    const nobody = await MediaPeer.open({
      url: "ws://127.0.0.1:1/media",
      accountSid: ACCOUNT,
      callSid: CALL_SID,
    });
    expect(await nobody.outcome()).toMatchObject({ accepted: false, upgradeStatus: null });
    expect(nobody.record().errors).toEqual([expect.stringContaining("31902")]);
    await good.stop();
  });
});
