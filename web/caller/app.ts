/**
 * The caller page: sign in with a PIN, then talk to the assistant (typed for now; voice uses
 * the same socket later). Wires the connection, keypad and transcript together.
 */
import { AudioFrameKind, decodeAudioFrame } from "../../protocol/audio-frame.ts";
import type { ServerMessage } from "../../protocol/messages.ts";
import { type ConnectionState, SessionConnection } from "./connection.ts";
import { Keypad, query } from "./keypad.ts";
import { TranscriptView } from "./transcript-view.ts";
import { VoiceIO } from "./voice.ts";

const signin = query(document, "[data-testid=signin]", HTMLElement);
const call = query(document, "[data-testid=call]", HTMLElement);
const ended = query(document, "[data-testid=ended]", HTMLElement);
const pill = query(document, "[data-testid=connection]", HTMLElement);
const activity = query(document, "[data-testid=activity]", HTMLElement);
const composer = query(document, "[data-testid=composer]", HTMLFormElement);
const messageBox = query(document, "[data-testid=message]", HTMLTextAreaElement);
const transcript = new TranscriptView(
  query(document, "[data-testid=transcript]", HTMLOListElement),
);
const micButton = query(document, "[data-testid=mic]", HTMLButtonElement);
const interim = query(document, "[data-testid=interim]", HTMLElement);

const PILL_TEXT: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

let signedIn = false;
let messageCounter = 0;

const connection = new SessionConnection({
  onState(state) {
    pill.dataset.state = state;
    const text = pill.querySelector(".pill-text");
    if (text) text.textContent = PILL_TEXT[state];
  },
  onMessage: handle,
  onBinary(frame) {
    const decoded = decodeAudioFrame(frame);
    if (!decoded.ok || decoded.frame.kind !== AudioFrameKind.AssistantPcm) return;
    voice.play(decoded.frame.pcm);
    document.body.dataset.playedFrames = String(voice.played);
  },
});

const voice = new VoiceIO({
  sendFrame: (frame) => connection.sendBinary(frame),
  onPlaying: (playing) => {
    if (playing) setActivity("replying", "Speaking…");
    else if (activity.dataset.state === "replying")
      setActivity("idle", voice.listening ? "Listening" : "Ready");
  },
});

function setMic(on: boolean) {
  micButton.setAttribute("aria-pressed", String(on));
  micButton.dataset.state = on ? "on" : "off";
  micButton.title = on ? "Stop listening" : "Talk";
  if (!on) interim.textContent = "";
  setActivity("idle", on ? "Listening" : "Ready");
}

micButton.addEventListener("click", async () => {
  if (voice.listening) {
    voice.stop();
    return setMic(false);
  }
  try {
    await voice.start();
    setMic(true);
  } catch {
    transcript.note(
      "The microphone is not available. Check the browser's permission, or type instead.",
      "warning",
    );
    setMic(false);
  }
});

const keypad = new Keypad(signin, (pin) => connection.send({ type: "sign_in", pin }));

function show(view: "signin" | "call" | "ended") {
  signin.hidden = view !== "signin";
  call.hidden = view !== "call";
  ended.hidden = view !== "ended";
  if (view === "signin") keypad.focus();
  if (view === "call") messageBox.focus();
}

function setActivity(state: "idle" | "thinking" | "replying", text: string) {
  activity.dataset.state = state;
  const label = activity.querySelector(".activity-text");
  if (label) label.textContent = text;
}

function endCall(title: string, text: string) {
  signedIn = false;
  query(ended, "[data-testid=ended-title]", HTMLElement).textContent = title;
  query(ended, "[data-testid=ended-message]", HTMLElement).textContent = text;
  show("ended");
}

function handle(message: ServerMessage) {
  switch (message.type) {
    case "hello":
      if (message.expect === "sign_in") {
        signedIn = false;
        keypad.reset();
        show("signin");
      }
      return;
    case "signed_in": {
      signedIn = true;
      query(call, "[data-testid=user-name]", HTMLElement).textContent = message.user.name;
      query(call, "[data-testid=user-teams]", HTMLElement).textContent = message.user.teams.length
        ? message.user.teams.map((t) => `${t.name} (${t.role})`).join(", ")
        : "No teams";
      transcript.reset(message.transcript);
      setActivity("idle", "Ready");
      micButton.disabled = false;
      show("call");
      return;
    }
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
      setActivity("idle", "Ready");
      return;
    case "tool_activity":
      transcript.tool(message);
      return;
    case "notice":
      transcript.note(message.text, message.level);
      if (message.code === "agent_not_configured") setActivity("idle", "Assistant offline");
      return;
    case "error":
      if (!signedIn) keypad.error(message.message);
      else transcript.note(message.message, "warning");
      if (message.code === "audio_unavailable") {
        voice.stop();
        setMic(false);
      }
      return;
    case "session_ended":
      voice.stop();
      setMic(false);
      connection.stop();
      if (message.reason === "locked_out") {
        connection.forget();
        keypad.reset();
        endCall("Signed out", message.message);
      } else if (message.reason === "replaced") {
        endCall("Continued elsewhere", message.message);
      } else if (message.reason === "expired") {
        endCall("Session expired", message.message);
      } else {
        connection.forget();
        endCall("Call ended", "Thanks for calling. Goodbye!");
      }
      return;
    case "interim_transcript":
      interim.textContent = message.text;
      return;
    case "playback_clear":
      voice.clear();
      return;
    case "voice_metrics":
      if (message.endToEndMs !== null) transcript.latency(message.endToEndMs);
      return;
    case "pong":
      return;
  }
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = messageBox.value.trim();
  if (!text || !signedIn) return;
  messageCounter += 1;
  connection.send({ type: "user_text", id: `c${Date.now().toString(36)}${messageCounter}`, text });
  messageBox.value = "";
  messageBox.style.height = "";
});

messageBox.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

messageBox.addEventListener("input", () => {
  messageBox.style.height = "auto";
  messageBox.style.height = `${Math.min(messageBox.scrollHeight, 120)}px`;
});

query(call, "[data-testid=hangup]", HTMLButtonElement).addEventListener("click", () => {
  connection.send({ type: "hang_up" });
});

query(ended, "[data-testid=restart]", HTMLButtonElement).addEventListener("click", () => {
  connection.forget();
  keypad.reset();
  connection.connect();
});

connection.connect();
