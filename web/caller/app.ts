/**
 * The caller page: sign in with a PIN, then a hands-free call with the assistant — spoken, or
 * typed when speaking is not possible. Wires the connection, the call's state at the centre,
 * the microphone, the transcript and the transfer together, and decides which view shows.
 */
import type { ServerMessage, TransferStateName } from "../../protocol/messages.ts";
import { CallActivity } from "./call-activity.ts";
import { showUser } from "./call-details.ts";
import { type Ending, endingOf, endingOfClose, HUNG_UP } from "./call-endings.ts";
import { CallStage } from "./call-stage.ts";
import { Composer } from "./composer.ts";
import { type ConnectionState, SessionConnection } from "./connection.ts";
import { ConnectionStatus } from "./connection-status.ts";
import { HangUpButton } from "./hang-up.ts";
import { Keypad, query } from "./keypad.ts";
import { MicControl } from "./mic-control.ts";
import { openPage } from "./page-entry.ts";
import { PlaybackReport } from "./playback-report.ts";
import { CallStore } from "./stored-call.ts";
import { TranscriptView } from "./transcript-view.ts";
import { TransferView } from "./transfer-view.ts";
import { announcer, timingsSwitch, Views } from "./views.ts";
import { VoiceIO } from "./voice.ts";

const store = new CallStore();
const views = new Views(document, {
  signin: () => keypad.focus(),
  // The microphone, not the text box: a voice call, and Tab + Enter from there ends nothing.
  call: () =>
    query(views.root.call, "[data-testid=mic]", HTMLElement).focus({ preventScroll: true }),
  offer: () => query(views.root.offer, "[data-testid=resume-continue]", HTMLElement).focus(),
  ended: () => query(views.root.ended, "[data-testid=restart]", HTMLElement).focus(),
});
const call = views.root.call;
const status = new ConnectionStatus(
  query(document, "[data-testid=connection]", HTMLElement),
  query(call, "[data-testid=call-banner]", HTMLElement),
);
const announce = announcer(query(call, "[data-testid=announcer]", HTMLElement));
const stage = new CallStage(call);
const transcript = new TranscriptView(query(call, "[data-testid=transcript]", HTMLOListElement));

let connectionState: ConnectionState = "connecting";
let signedIn = false;
/** This socket's session is signed in or resumed (a reconnected socket is not, until then). */
let sessionLive = false;
/** Set once the server said why the session ended, so its closing the socket adds nothing. */
let endHandled = false;
let agentMissing = false;
const activity = new CallActivity(stage, () => ({
  connection: sessionLive ? "ready" : signedIn ? "lost" : "connecting",
  mic: mic.state,
  transfer: transfer.state,
  agentMissing,
}));
const render = () => activity.render();

const connection = new SessionConnection(store, {
  onState(state) {
    connectionState = state;
    // A new socket is not yet the call: it must resume (or sign in) first.
    if (state !== "connected") sessionLive = false;
    status.pill(state);
    updateCallControls();
  },
  onMessage: handle,
  onBinary(frame) {
    voice.playFrame(frame);
    document.body.dataset.playedMs = String(Math.round(voice.playedMs));
  },
  onFinalClose(code) {
    if (!endHandled) finish(endingOfClose(code));
  },
});

const playback = new PlaybackReport((message) => connection.send(message));

/** Tells the server this page can play audio; once per sign-in is enough (it greets once). */
let audioReadySent = false;
function sayAudioReady() {
  if (audioReadySent || !signedIn || !voice.running) return;
  audioReadySent = connection.send({ type: "audio_ready" });
}

const voice = new VoiceIO(
  {
    // Only to a live session: a socket that has not resumed yet would refuse every frame.
    sendFrame: (frame) => {
      if (signedIn && sessionLive) connection.sendBinary(frame);
    },
    // The person on a transfer hears the caller live: no frame waits to be joined from the
    // moment one is asked for (it connects on the server a network trip before the page knows).
    quietMayWait: () => !transfer.underWay,
    onPlaying: (now) => activity.playing(now),
    onReplyStarted: (playoutDelayMs) => playback.started(playoutDelayMs),
    onCleared: (playedMs) => playback.cleared(playedMs),
    onMicLevel: (level) => stage.micLevel(level),
    onAudioRunning: () => {
      sayAudioReady();
      mic.retry();
    },
  },
  query(call, "[data-testid=output-level]", HTMLMeterElement),
);

const mic = new MicControl(query(call, "[data-testid=mic]", HTMLButtonElement), voice, {
  onState(state) {
    transfer.setMicOn(state === "on");
    if (state === "on") sayAudioReady();
    render();
  },
  announce,
  onMutedChoice: (muted) => store.setMuted(muted),
  onUnavailable: () =>
    transcript.note(
      "The microphone is not available. Check the browser's permission, or type instead.",
      "warning",
    ),
});

const transfer = new TransferView(query(call, "[data-testid=transfer]", HTMLElement), {
  cancel: () => connection.send({ type: "cancel_transfer" }),
  onState: onTransferState,
});

/** What the transfer's state means for the rest of the call view. */
function onTransferState(state: TransferStateName | undefined) {
  voice.setRingback(state === "dialing" || state === "ringing");
  render();
  updateCallControls();
}

let messageCounter = 0;
const composer = new Composer(query(call, "[data-testid=composer]", HTMLFormElement), (text) => {
  if (!signedIn) return false;
  messageCounter += 1;
  const id = `c${Date.now().toString(36)}${messageCounter}`;
  if (connection.send({ type: "user_text", id, text })) return true;
  // Not connected: the text stays in the box to send once the call is back.
  updateCallControls();
  return false;
});

const keypad = new Keypad(views.root.signin, (pin) => {
  // The PIN's submit is a user gesture: the moment browsers let audio (and so the mic) start.
  void voice.prepare();
  return connection.send({ type: "sign_in", pin });
});

const hangUp = new HangUpButton(
  query(call, "[data-testid=hangup]", HTMLButtonElement),
  () => {
    // Offline, the server ends the session itself once the resume window has passed.
    if (!connection.send({ type: "hang_up" })) finish(HUNG_UP);
  },
  announce,
);

// ---- the call ----------------------------------------------------------------------------

function finish(ending: Ending) {
  transfer.clear();
  leaveCall();
  if (ending.signIn) {
    // The stored session could not be resumed: back to the keypad, on a new session.
    endHandled = false;
    keypad.reset(ending.text, "warning");
    views.show("signin");
    return connection.restart();
  }
  connection.stop();
  connection.forget();
  status.ended();
  views.ended(ending.title, ending.text);
}

function leaveCall() {
  mic.close();
  hangUp.disarm();
  signedIn = false;
  stage.interim("");
  activity.turnOver();
}

/** Sending needs a signed-in session on an open socket; the banner says why it is not. */
function updateCallControls() {
  const ready = signedIn && sessionLive && connectionState === "connected";
  composer.setState(ready, transfer.connected);
  render();
  if (views.current === "call") status.banner(connectionState, signedIn, ready);
}

// ---- server messages -------------------------------------------------------------------

function handle(message: ServerMessage) {
  switch (message.type) {
    case "hello":
      endHandled = false;
      if (message.expect === "resume") {
        if (views.current !== "call")
          views.waiting("Resuming your call…", "Picking up where you left off.");
        return;
      }
      if (views.current === "call" || views.current === "waiting") {
        // Signed in before, but this connection is a new session (nothing stored to resume).
        const wasInCall = views.current === "call";
        transfer.clear();
        leaveCall();
        keypad.reset(
          wasInCall ? "Your call was disconnected. Please sign in again." : "",
          "warning",
        );
      } else if (keypad.busy) {
        keypad.reset("The connection was interrupted. Please enter your PIN again.", "warning");
      }
      views.show("signin");
      return;
    case "signed_in":
      signedIn = true;
      sessionLive = true;
      agentMissing = false;
      // Audio that can play now brings the spoken greeting (the server greets once per session).
      audioReadySent = false;
      void voice.prepare().then(sayAudioReady);
      showUser(call, message.user);
      transcript.reset(message.transcript);
      // A resumed session's server re-sends the transfer under way, if any.
      if (message.resumed) transfer.expectRestore();
      else transfer.clear();
      keypad.reset();
      // Hands-free: the microphone opens with the call, unless the caller had muted it. First,
      // so its button can take the focus when the call shows.
      mic.open(store.call?.muted ?? false);
      views.show("call");
      transcript.scrollToEnd();
      updateCallControls();
      return;
    case "pin_rejected":
      keypad.error(
        `${message.message} ${message.attemptsLeft} ${message.attemptsLeft === 1 ? "try" : "tries"} left.`,
      );
      return;
    case "transcript":
      if (message.entry.role === "user") activity.turnStarted();
      transcript.entry(message.entry);
      return;
    case "assistant_delta":
      transcript.delta(message.turnId, message.delta);
      activity.replyText(voice.running);
      return;
    case "assistant_done":
      transcript.done(message);
      activity.turnOver();
      return;
    case "transcript_revised":
      transcript.revise(message.turnId, message.text);
      return;
    case "tool_activity":
      transcript.tool(message);
      return;
    case "notice":
      transcript.note(message.text, message.level);
      if (message.code === "agent_not_configured") {
        agentMissing = true;
        activity.turnOver();
      }
      return;
    case "error":
      if (!signedIn) keypad.error(message.message);
      else transcript.note(message.message, "warning");
      if (message.code === "audio_unavailable") mic.close();
      // Nothing to cancel: whatever the panel showed is over.
      if (message.code === "no_transfer") transfer.clear();
      if (signedIn) activity.turnOver();
      return;
    case "session_ended":
      endHandled = true;
      return finish(endingOf(message));
    case "interim_transcript":
      stage.interim(message.text);
      return;
    case "playback_clear":
      playback.clearing(message.turnId);
      voice.clear();
      return;
    case "voice_metrics":
      transcript.voiceMetrics(message);
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

// ---- start -----------------------------------------------------------------------------

timingsSwitch(query(document, "[data-testid=timings-toggle]", HTMLButtonElement), () =>
  transcript.refit(),
);
openPage({
  views,
  connection,
  keypad,
  voice,
  store,
  onRestart: () => {
    endHandled = false;
    status.restart();
  },
  signedIn: () => signedIn,
});
render();
