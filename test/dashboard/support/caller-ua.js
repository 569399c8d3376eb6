/**
 * A test caller: a bare JsSIP user agent in a page of its own, standing in for Twilio's leg of
 * a transfer. It places the call with the transfer's SIP headers and records what the agent's
 * side does to the call (hold, DTMF, REFER, hang-up). Bundled by `caller-ua-server.ts`.
 *
 * Plain JavaScript: it runs in the browser, and the repository's type check has no DOM types.
 * `window.callerUa`'s shape is `CallerUa` in caller-ua-server.ts.
 */
import * as JsSIP from "jssip";

/** @type {JsSIP.UA | undefined} */
let ua;
/** @type {import("jssip/lib/RTCSession").RTCSession | undefined} */
let session;
/** @type {string[]} */
const events = [];

window.callerUa = {
  events,
  /** @param {string} wsUrl */
  connect(wsUrl) {
    return new Promise((resolve, reject) => {
      ua = new JsSIP.UA({
        sockets: [new JsSIP.WebSocketInterface(wsUrl)],
        uri: "sip:twilio-leg@127.0.0.1",
        register: false,
        session_timers: false,
      });
      ua.once("connected", () => resolve(undefined));
      ua.once("disconnected", () => reject(new Error("caller UA could not connect")));
      ua.start();
    });
  },
  /** @param {string} target @param {string[]} headers @param {string} displayName */
  call(target, headers, displayName) {
    if (!ua) throw new Error("not connected");
    const s = ua.call(target, {
      extraHeaders: headers,
      fromDisplayName: displayName,
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: [] },
    });
    session = s;
    s.on("progress", () => events.push("progress"));
    s.on("confirmed", () => events.push("confirmed"));
    s.on("hold", (e) => events.push(`hold:${e.originator}`));
    s.on("unhold", (e) => events.push(`unhold:${e.originator}`));
    s.on("newDTMF", (e) => {
      if (e.originator === "remote") events.push(`dtmf:${e.dtmf.tone}`);
    });
    s.on("refer", (e) => {
      events.push(`refer:${e.request.refer_to.uri.toString()}`);
      e.reject();
    });
    s.on("ended", (e) => events.push(`ended:${e.originator}:${e.cause}`));
    s.on("failed", (e) => events.push(`failed:${e.originator}:${e.cause}`));
  },
  async bytesReceived() {
    const pc = session?.connection;
    if (!pc) return 0;
    let bytes = 0;
    for (const report of (await pc.getStats()).values()) {
      if (report.type === "inbound-rtp" && report.kind === "audio")
        bytes += report.bytesReceived ?? 0;
    }
    return bytes;
  },
  hangUp() {
    session?.terminate();
  },
};
