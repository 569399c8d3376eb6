/**
 * The caller page: sign in with a PIN, then talk to the assistant (typed for now; voice uses
 * the same socket later). Wires the connection, keypad and transcript together.
 */
import type { ServerMessage } from "../../protocol/messages.ts";
import { type ConnectionState, SessionConnection } from "./connection.ts";
import { Keypad, query } from "./keypad.ts";
import { TranscriptView } from "./transcript-view.ts";

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
      show("call");
      return;
    }
    case "pin_rejected":
      keypad.error(
        `${message.message} ${message.attemptsLeft} ${message.attemptsLeft === 1 ? "try" : "tries"} left.`,
      );
      return;
    case "transcript":
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
      return;
    case "session_ended":
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
