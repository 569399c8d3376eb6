/**
 * The caller page: sign in with a PIN, then talk to the assistant by voice or by typing.
 * Wires the connection, keypad, transcript and voice together and decides which view shows.
 */
import { AudioFrameFlag, AudioFrameKind, decodeAudioFrame } from "../../protocol/audio-frame.ts";
import type { ServerMessage, TransferStateName } from "../../protocol/messages.ts";
import { showLatency, showUser } from "./call-details.ts";
import { Composer } from "./composer.ts";
import { CLOSE_CODES, type ConnectionState, SessionConnection } from "./connection.ts";
import { Keypad, query } from "./keypad.ts";
import { PlaybackReport } from "./playback-report.ts";
import { TranscriptView } from "./transcript-view.ts";
import { TransferView } from "./transfer-view.ts";
import { VoiceIO } from "./voice.ts";

type View = "waiting" | "signin" | "call" | "ended";

const views: Record<View, HTMLElement> = {
  waiting: query(document, "[data-testid=waiting]", HTMLElement),
  signin: query(document, "[data-testid=signin]", HTMLElement),
  call: query(document, "[data-testid=call]", HTMLElement),
  ended: query(document, "[data-testid=ended]", HTMLElement),
};
const pill = query(document, "[data-testid=connection]", HTMLElement);
const activity = query(document, "[data-testid=activity]", HTMLElement);
const banner = query(document, "[data-testid=call-banner]", HTMLElement);
const micButton = query(document, "[data-testid=mic]", HTMLButtonElement);
const latency = query(document, "[data-testid=latency]", HTMLElement);
const interim = query(document, "[data-testid=interim]", HTMLElement);
const transcript = new TranscriptView(
  query(document, "[data-testid=transcript]", HTMLOListElement),
);

const PILL_TEXT: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

let view: View = "waiting";
let connectionState: ConnectionState = "connecting";
let signedIn = false;
/** This socket's session is signed in or resumed (a reconnected socket is not, until then). */
let sessionLive = false;
/** Set once the server said why the session ended, so its closing the socket adds nothing. */
let endHandled = false;

const connection = new SessionConnection({
  onState(state) {
    connectionState = state;
    // A new socket is not yet the call: it must resume (or sign in) first.
    if (state !== "connected") sessionLive = false;
    pill.dataset.state = state;
    const text = pill.querySelector(".pill-text");
    if (text) text.textContent = PILL_TEXT[state];
    updateCallControls();
  },
  onMessage: handle,
  onBinary(frame) {
    const decoded = decodeAudioFrame(frame);
    if (!decoded.ok) return;
    // The person on a transfer: played as it comes, with none of a reply's bookkeeping.
    if (decoded.frame.kind === AudioFrameKind.HumanPcm16k)
      return voice.playHuman(decoded.frame.pcm);
    if (decoded.frame.kind !== AudioFrameKind.AssistantPcm) return;
    voice.play(decoded.frame.pcm, (decoded.frame.flags & AudioFrameFlag.ReplyStart) !== 0);
    document.body.dataset.playedFrames = String(voice.played);
  },
  onFinalClose(code) {
    if (endHandled) return;
    if (code === CLOSE_CODES.resumeRefused || code === CLOSE_CODES.expired) {
      return resumeRefused("Your previous call can no longer be resumed. Please sign in again.");
    }
    if (code === CLOSE_CODES.lockedOut) {
      return endCall(
        "Too many wrong PINs",
        "This session is closed. Start a new one to try again.",
      );
    }
    if (code === CLOSE_CODES.replaced) {
      return endCall("Continued elsewhere", "This call continued on another connection.");
    }
    endCall("Disconnected", "The connection was closed. Start a new call to continue.");
  },
});

const playback = new PlaybackReport((message) => connection.send(message));

/** Tells the server this page can play audio; once per sign-in is enough (it greets once). */
let audioReadySent = false;
function sayAudioReady() {
  if (audioReadySent || !signedIn) return;
  audioReadySent = connection.send({ type: "audio_ready" });
}

const voice = new VoiceIO(
  {
    sendFrame: (frame) => connection.sendBinary(frame),
    onPlaying: (playing) => {
      // While a person is on the line, what plays is them, not the assistant.
      if (transfer.connected) return;
      if (playing) setActivity("replying", "Speaking…");
      else if (activity.dataset.state === "replying") showIdle();
    },
    onReplyStarted: (playoutDelayMs) => playback.started(playoutDelayMs),
    onCleared: (playedMs) => playback.cleared(playedMs),
  },
  query(views.call, "[data-testid=output-level]", HTMLMeterElement),
);

const transfer = new TransferView(query(views.call, "[data-testid=transfer]", HTMLElement), {
  cancel: () => connection.send({ type: "cancel_transfer" }),
  onState: onTransferState,
});

/** What the transfer's state means for the rest of the call view. */
function onTransferState(state: TransferStateName | undefined) {
  voice.setRingback(state === "dialing" || state === "ringing");
  showIdle();
  updateCallControls();
}

let messageCounter = 0;
const composer = new Composer(
  query(document, "[data-testid=composer]", HTMLFormElement),
  (text) => {
    if (!signedIn) return false;
    messageCounter += 1;
    const id = `c${Date.now().toString(36)}${messageCounter}`;
    if (connection.send({ type: "user_text", id, text })) return true;
    // Not connected: the text stays in the box to send once the call is back.
    updateCallControls();
    return false;
  },
);

const keypad = new Keypad(views.signin, (pin) => {
  // The PIN's submit is a user gesture: the moment browsers let audio start.
  void voice.prepare();
  return connection.send({ type: "sign_in", pin });
});

// ---- views -----------------------------------------------------------------------------

function show(next: View) {
  const changed = next !== view;
  view = next;
  document.body.dataset.view = next;
  for (const [name, element] of Object.entries(views)) element.hidden = name !== next;
  if (!changed) return;
  if (next === "signin") keypad.focus();
  if (next === "call" && matchMedia("(pointer: fine)").matches) composer.focus();
  if (next === "ended") query(views.ended, "[data-testid=restart]", HTMLButtonElement).focus();
}

function showWaiting(title: string, text = "") {
  query(views.waiting, "[data-testid=waiting-title]", HTMLElement).textContent = title;
  query(views.waiting, "[data-testid=waiting-message]", HTMLElement).textContent = text;
  show("waiting");
}

function endCall(title: string, text: string) {
  transfer.clear();
  stopVoice();
  signedIn = false;
  connection.stop();
  connection.forget();
  query(views.ended, "[data-testid=ended-title]", HTMLElement).textContent = title;
  query(views.ended, "[data-testid=ended-message]", HTMLElement).textContent = text;
  show("ended");
}

/** The stored session could not be resumed: back to the keypad, on a new session. */
function resumeRefused(text: string) {
  transfer.clear();
  stopVoice();
  signedIn = false;
  endHandled = false;
  keypad.reset(text, "warning");
  show("signin");
  connection.restart();
}

function setActivity(state: "idle" | "offline" | "thinking" | "replying", text: string) {
  activity.dataset.state = state;
  const label = activity.querySelector(".activity-text");
  if (label) label.textContent = text;
}

/** The activity line when nobody is speaking: a transfer under way, or the microphone. */
function showIdle() {
  const state = transfer.state;
  if (state === "connected") setActivity("idle", "With an agent");
  else if (state === "requested" || state === "dialing" || state === "ringing") {
    setActivity("thinking", "Transferring…");
  } else setActivity("idle", voice.listening ? "Listening" : "Ready");
}

/** Sending needs a signed-in session on an open socket; the banner says why it is not. */
function updateCallControls() {
  const ready = signedIn && sessionLive && connectionState === "connected";
  composer.setState(ready, transfer.connected);
  micButton.disabled = !ready;
  if (view !== "call") return;
  if (connectionState === "offline" && signedIn) {
    setBanner("You're offline. Your call will resume when you're back online.");
  } else if (!ready) {
    setBanner(
      connectionState === "connected" ? "Resuming your call…" : "Connection lost. Reconnecting…",
    );
  } else {
    setBanner("");
  }
}

function setBanner(text: string) {
  banner.textContent = text;
  banner.hidden = text === "";
}

function stopVoice() {
  voice.stop();
  setMic(false);
}

function setMic(on: boolean) {
  micButton.setAttribute("aria-pressed", String(on));
  micButton.dataset.state = on ? "on" : "off";
  micButton.title = on ? "Stop listening" : "Talk";
  if (!on) interim.textContent = "";
  transfer.setMicOn(on);
  showIdle();
}

// ---- server messages -------------------------------------------------------------------

function handle(message: ServerMessage) {
  switch (message.type) {
    case "hello":
      endHandled = false;
      if (message.expect === "resume") {
        if (view !== "call") showWaiting("Resuming your call…", "Picking up where you left off.");
        return;
      }
      if (view === "call" || view === "waiting") {
        // Signed in before, but this connection is a new session (nothing stored to resume).
        signedIn = false;
        transfer.clear();
        stopVoice();
        keypad.reset(
          view === "call" ? "Your call was disconnected. Please sign in again." : "",
          "warning",
        );
      } else if (keypad.busy) {
        keypad.reset("The connection was interrupted. Please enter your PIN again.", "warning");
      }
      show("signin");
      return;
    case "signed_in":
      signedIn = true;
      sessionLive = true;
      // Audio that can play now brings the spoken greeting (the server greets once per session).
      audioReadySent = false;
      void voice.prepare().then((ready) => {
        if (ready) sayAudioReady();
      });
      showUser(views.call, message.user);
      transcript.reset(message.transcript);
      // A resumed session's server re-sends the transfer under way, if any.
      if (message.resumed) transfer.expectRestore();
      else transfer.clear();
      showIdle();
      keypad.reset();
      show("call");
      updateCallControls();
      return;
    case "pin_rejected":
      keypad.error(
        `${message.message} ${message.attemptsLeft} ${message.attemptsLeft === 1 ? "try" : "tries"} left.`,
      );
      return;
    case "transcript":
      if (message.entry.role === "user") interim.textContent = "";
      transcript.entry(message.entry);
      if (message.entry.role === "user") setActivity("thinking", "Thinking…");
      return;
    case "assistant_delta":
      transcript.delta(message.turnId, message.delta);
      setActivity("replying", "Replying…");
      return;
    case "assistant_done":
      transcript.done(message);
      showIdle();
      return;
    case "tool_activity":
      transcript.tool(message);
      return;
    case "notice":
      transcript.note(message.text, message.level);
      if (message.code === "agent_not_configured") setActivity("offline", "Assistant offline");
      return;
    case "error":
      if (!signedIn) keypad.error(message.message);
      else transcript.note(message.message, "warning");
      if (message.code === "audio_unavailable") stopVoice();
      // Nothing to cancel: whatever the panel showed is over.
      if (message.code === "no_transfer") transfer.clear();
      return;
    case "session_ended":
      endHandled = true;
      switch (message.reason) {
        case "expired":
          return resumeRefused(message.message);
        case "locked_out":
          return endCall("Too many wrong PINs", message.message);
        case "replaced":
          return endCall("Continued elsewhere", message.message);
        case "hang_up":
          return endCall("Call ended", "Thanks for calling. Goodbye!");
      }
      return;
    case "interim_transcript":
      interim.textContent = message.text;
      return;
    case "playback_clear":
      playback.clearing(message.turnId);
      voice.clear();
      return;
    case "voice_metrics":
      showLatency(latency, message);
      playback.metrics(message);
      return;
    case "transfer_status":
      transfer.update(message);
      return;
    case "pong":
      playback.pong(message.t);
      return;
  }
}

// ---- the caller's actions --------------------------------------------------------------

micButton.addEventListener("click", async () => {
  if (voice.listening) {
    voice.stop();
    return setMic(false);
  }
  try {
    await voice.start();
    setMic(true);
    // Audio could not start at sign-in (no gesture yet, or it failed): it can now.
    sayAudioReady();
  } catch {
    transcript.note(
      "The microphone is not available. Check the browser's permission, or type instead.",
      "warning",
    );
    setMic(false);
  }
});

query(views.call, "[data-testid=hangup]", HTMLButtonElement).addEventListener("click", () => {
  // Offline, the server ends the session itself once the resume window has passed.
  if (!connection.send({ type: "hang_up" })) endCall("Call ended", "Thanks for calling. Goodbye!");
});

query(views.ended, "[data-testid=restart]", HTMLButtonElement).addEventListener("click", () => {
  endHandled = false;
  keypad.reset();
  show("signin");
  connection.restart();
});

// ---- start -----------------------------------------------------------------------------

if (connection.stored) showWaiting("Resuming your call…", "Picking up where you left off.");
else show("signin");
connection.connect();
