/**
 * The softphone: one JsSIP user agent registered as the agent's extension, and at most one
 * call. Everything the page shows is a plain snapshot (`PhoneState`), replaced on every change
 * and read with `subscribe`/`snapshot`; the JsSIP objects never leave this file.
 */
import * as JsSIP from "jssip";
import type { RTCSession } from "jssip/lib/RTCSession";
import type { IncomingRTCSessionEvent, RTCSessionEvent } from "jssip/lib/UA";
import { SESSION_ID } from "../../worker/dashboard/wire.ts";
import { endedCallWords, registrationFailureWords } from "./phone-words.ts";

export type Registration = "off" | "connecting" | "registered" | "reconnecting" | "failed";

export interface CallSnapshot {
  /** JsSIP's id of the call. */
  id: string;
  phase: "ringing" | "answering" | "active" | "ended";
  /** The caller as the SIP headers name them. */
  remoteName: string;
  remoteUri: string;
  /** The caller's Convonet session (`X-Session`), when the call is a transfer. */
  sessionId: string | null;
  /** `X-Caller-Name`, as the transfer sent it. */
  headerCallerName: string | null;
  startedAt: number;
  answeredAt: number | null;
  endedAt: number | null;
  muted: boolean;
  held: boolean;
  /** How it ended, for the log. */
  outcome: "answered" | "missed" | "rejected" | null;
  /** How it ended, in words for the agent. */
  endedWords: string | null;
  /** Where a blind transfer is going, while it is being handed over. */
  transferringTo: string | null;
}

export interface PhoneState {
  registration: Registration;
  /** Ready takes calls; Not ready answers new calls with 480 (the PBX tries someone else). */
  ready: boolean;
  /** A problem in plain words, or null. */
  error: string | null;
  call: CallSnapshot | null;
}

export interface SipAccount {
  wssUrl: string;
  domain: string;
  extension: string;
  displayName: string;
  /** Typed by the agent; lives only in this object, for this page. */
  password: string;
  iceServers: RTCIceServer[];
}

export interface SoftphoneEvents {
  /** A call reached its end (answered, missed or rejected); fired once per call. */
  onCallEnded(call: CallSnapshot): void;
  /** The caller's audio, to play. */
  onRemoteStream(stream: MediaStream | null): void;
}

export class Softphone {
  #state: PhoneState = { registration: "off", ready: true, error: null, call: null };
  #listeners = new Set<() => void>();
  #ua: JsSIP.UA | undefined;
  #session: RTCSession | undefined;
  #account: SipAccount | undefined;
  #wantRegistered = false;

  readonly events: SoftphoneEvents;
  constructor(events: SoftphoneEvents) {
    this.events = events;
  }

  subscribe = (listener: () => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  snapshot = (): PhoneState => this.#state;

  #set(patch: Partial<PhoneState>) {
    this.#state = { ...this.#state, ...patch };
    for (const listener of this.#listeners) listener();
  }

  #setCall(patch: Partial<CallSnapshot>) {
    const call = this.#state.call;
    if (call) this.#set({ call: { ...call, ...patch } });
  }

  register(account: SipAccount) {
    this.unregister();
    this.#account = account;
    this.#wantRegistered = true;
    let ua: JsSIP.UA;
    try {
      ua = new JsSIP.UA({
        sockets: [new JsSIP.WebSocketInterface(account.wssUrl)],
        uri: `sip:${account.extension}@${account.domain}`,
        authorization_user: account.extension,
        password: account.password,
        display_name: account.displayName,
        register: true,
        session_timers: false,
        // After a network loss the socket is retried every 2–10 s, and JsSIP registers again
        // on every reconnection.
        connection_recovery_min_interval: 2,
        connection_recovery_max_interval: 10,
        user_agent: "Convonet agent dashboard",
      });
    } catch {
      this.#set({
        registration: "failed",
        error: "The phone settings are not valid. Ask your administrator.",
      });
      return;
    }
    this.#ua = ua;
    const mine = () => this.#ua === ua;
    ua.on("connecting", () => {
      if (mine() && this.#state.registration !== "reconnecting")
        this.#set({ registration: "connecting" });
    });
    ua.on("disconnected", () => {
      if (!mine() || !this.#wantRegistered) return;
      this.#set({
        registration: "reconnecting",
        error: "Network lost: the phone is reconnecting. Calls cannot reach you until it is back.",
      });
    });
    ua.on("registered", () => {
      if (mine()) this.#set({ registration: "registered", error: null });
    });
    ua.on("unregistered", () => {
      if (mine() && !this.#wantRegistered) this.#set({ registration: "off" });
    });
    ua.on("registrationFailed", (e) => {
      if (!mine()) return;
      // A lost connection is retried by JsSIP; a refusal by the PBX is not.
      if (
        e.cause === JsSIP.C.causes.CONNECTION_ERROR ||
        e.cause === JsSIP.C.causes.REQUEST_TIMEOUT
      ) {
        this.#set({ registration: "reconnecting", error: registrationFailureWords(e.cause) });
        return;
      }
      this.#wantRegistered = false;
      this.#set({ registration: "failed", error: registrationFailureWords(e.cause) });
      ua.stop();
    });
    ua.on("newRTCSession", (e: RTCSessionEvent) => {
      if (mine() && e.originator === "remote") this.#incoming(e);
    });
    this.#set({ registration: "connecting", error: null });
    ua.start();
  }

  unregister() {
    this.#wantRegistered = false;
    const ua = this.#ua;
    this.#ua = undefined;
    if (!ua) return;
    this.#session?.terminate();
    ua.stop();
    this.#set({ registration: "off" });
  }

  /** Kicks the socket at once when the browser says it is back online (JsSIP may be waiting out a backoff). */
  networkBack() {
    const ua = this.#ua;
    if (!ua || !this.#wantRegistered || ua.isConnected()) return;
    ua.stop();
    this.#ua = undefined;
    if (this.#account) this.register(this.#account);
  }

  setReady(ready: boolean) {
    this.#set({ ready });
  }

  clearError() {
    this.#set({ error: null });
  }

  #incoming({ session, request }: IncomingRTCSessionEvent) {
    const rawSession = request.getHeader("X-Session")?.trim().toLowerCase() ?? "";
    const identity = session.remote_identity;
    const remoteName = identity.display_name || identity.uri.user || "Unknown caller";
    const remoteUri = identity.uri.toString();
    // Busy or not ready: refuse at once, the PBX moves on; the log still shows the call.
    if (this.#state.call && this.#state.call.phase !== "ended") {
      session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    if (!this.#state.ready || this.#state.registration !== "registered") {
      session.terminate({ status_code: 480, reason_phrase: "Temporarily Unavailable" });
      return;
    }
    this.#session = session;
    const call: CallSnapshot = {
      id: session.id,
      phase: "ringing",
      remoteName,
      remoteUri,
      sessionId: SESSION_ID.test(rawSession) ? rawSession : null,
      headerCallerName: request.getHeader("X-Caller-Name")?.trim() || null,
      startedAt: Date.now(),
      answeredAt: null,
      endedAt: null,
      muted: false,
      held: false,
      outcome: null,
      endedWords: null,
      transferringTo: null,
    };
    const current = () => this.#session === session;
    session.on("peerconnection", ({ peerconnection }) => {
      peerconnection.addEventListener("track", (event) => {
        if (current())
          this.events.onRemoteStream(event.streams[0] ?? new MediaStream([event.track]));
      });
    });
    session.on("confirmed", () => {
      if (current()) this.#setCall({ phase: "active", answeredAt: Date.now() });
    });
    session.on("hold", () => current() && this.#setCall({ held: true }));
    session.on("unhold", () => current() && this.#setCall({ held: false }));
    session.on("muted", () => current() && this.#setCall({ muted: true }));
    session.on("unmuted", () => current() && this.#setCall({ muted: false }));
    const finish = (originator: string, cause: string) => {
      if (!current()) return;
      const before = this.#state.call;
      if (!before) return;
      const outcome = before.answeredAt
        ? "answered"
        : originator === "local"
          ? "rejected"
          : "missed";
      const ended: CallSnapshot = {
        ...before,
        phase: "ended",
        endedAt: Date.now(),
        outcome,
        muted: false,
        held: false,
        endedWords: endedCallWords(originator, cause, before),
      };
      this.#session = undefined;
      this.events.onRemoteStream(null);
      this.#set({ call: ended });
      this.events.onCallEnded(ended);
    };
    session.on("ended", (e) => finish(e.originator, e.cause));
    session.on("failed", (e) => finish(e.originator, e.cause));
    this.#set({ call, error: null });
  }

  /** Asks for the microphone first, so a refusal leaves the call ringing with a clear reason. */
  async answer() {
    const session = this.#session;
    if (!session || this.#state.call?.phase !== "ringing") return;
    this.#setCall({ phase: "answering" });
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    } catch {
      if (this.#session !== session) return;
      this.#setCall({ phase: "ringing" });
      this.#set({
        error: "Microphone blocked: allow this page to use your microphone, then answer again.",
      });
      return;
    }
    if (this.#session !== session || session.isEnded()) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    const release = () => {
      for (const track of stream.getTracks()) track.stop();
    };
    session.on("ended", release);
    session.on("failed", release);
    session.answer({
      mediaStream: stream,
      pcConfig: { iceServers: this.#account?.iceServers ?? [] },
    });
  }

  reject() {
    if (this.#state.call?.phase === "ringing")
      this.#session?.terminate({ status_code: 486, reason_phrase: "Busy Here" });
  }

  hangUp() {
    this.#session?.terminate();
  }

  toggleMute() {
    const session = this.#session;
    if (!session?.isEstablished()) return;
    if (session.isMuted().audio) session.unmute({ audio: true });
    else session.mute({ audio: true });
  }

  toggleHold() {
    const session = this.#session;
    if (!session?.isEstablished()) return;
    if (session.isOnHold().local) session.unhold();
    else session.hold();
  }

  sendDtmf(tone: string) {
    const session = this.#session;
    if (session?.isEstablished() && /^[0-9*#A-D]$/.test(tone)) session.sendDTMF(tone);
  }

  /** Blind transfer (REFER): once the other side accepts it, this leg hangs up. */
  transfer(extension: string): boolean {
    const session = this.#session;
    const domain = this.#account?.domain;
    if (!session?.isEstablished() || !domain || !/^[0-9A-Za-z_.+-]{1,32}$/.test(extension))
      return false;
    this.#setCall({ transferringTo: extension });
    session.refer(`sip:${extension}@${domain}`, {
      eventHandlers: {
        requestSucceeded: () => {
          if (this.#session === session) session.terminate();
        },
        requestFailed: () => {
          if (this.#session !== session) return;
          this.#setCall({ transferringTo: null });
          this.#set({
            error: `The transfer to ${extension} was refused. The caller is still with you.`,
          });
        },
      },
    });
    return true;
  }
}
