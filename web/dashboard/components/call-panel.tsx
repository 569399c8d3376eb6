import { useEffect, useState } from "hono/jsx/dom";
import { SHORTCUTS } from "../shortcuts.ts";
import type { PhoneState, Softphone } from "../softphone.ts";

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

/** The phone itself: call state, timer and controls. */
export function CallPanel({ phone, state }: { phone: Softphone; state: PhoneState }) {
  const call = state.call;
  const phase = call && call.phase !== "ended" ? call.phase : "idle";
  const [showKeypad, setShowKeypad] = useState(false);
  const [dialed, setDialed] = useState("");
  const [transferTo, setTransferTo] = useState("");
  useEffect(() => {
    if (phase === "idle") {
      setShowKeypad(false);
      setDialed("");
      setTransferTo("");
    }
  }, [phase]);
  return (
    <section
      class={`phone phase-${phase}`}
      data-testid="phone"
      data-phase={phase}
      aria-label="Phone"
    >
      <div class="phone-status">
        <span class="phone-state" data-testid="call-state">
          {phase === "ringing"
            ? "Ringing…"
            : phase === "answering"
              ? "Answering…"
              : phase === "active"
                ? call?.held
                  ? "On hold"
                  : "In call"
                : "No call"}
        </span>
        {phase === "active" && call?.answeredAt && <Timer since={call.answeredAt} />}
      </div>
      {phase === "ringing" || phase === "answering" ? (
        <div class="controls ring-controls">
          <button
            type="button"
            class="answer"
            onClick={() => void phone.answer()}
            disabled={phase === "answering"}
            data-testid="answer"
            aria-keyshortcuts={SHORTCUTS.answer}
          >
            Answer <kbd>{SHORTCUTS.answer}</kbd>
          </button>
          <button
            type="button"
            class="danger"
            onClick={() => phone.reject()}
            data-testid="reject"
            aria-keyshortcuts={SHORTCUTS.decline}
          >
            Decline <kbd>{SHORTCUTS.decline}</kbd>
          </button>
        </div>
      ) : phase === "active" && call ? (
        <>
          <div class="controls">
            <button
              type="button"
              aria-pressed={String(call.muted)}
              onClick={() => phone.toggleMute()}
              data-testid="mute"
              aria-keyshortcuts={SHORTCUTS.mute}
            >
              {call.muted ? "Unmute" : "Mute"} <kbd>{SHORTCUTS.mute}</kbd>
            </button>
            <button
              type="button"
              aria-pressed={String(call.held)}
              onClick={() => phone.toggleHold()}
              data-testid="hold"
            >
              {call.held ? "Resume" : "Hold"}
            </button>
            <button
              type="button"
              aria-pressed={String(showKeypad)}
              onClick={() => setShowKeypad(!showKeypad)}
              data-testid="keypad-toggle"
            >
              Keypad
            </button>
            <button
              type="button"
              class="danger"
              onClick={() => phone.hangUp()}
              data-testid="hangup"
              aria-keyshortcuts={SHORTCUTS.hangUp}
            >
              Hang up <kbd>{SHORTCUTS.hangUp}</kbd>
            </button>
          </div>
          {showKeypad && (
            <div class="keypad-wrap">
              <output class="dialed mono" data-testid="dialed">
                {dialed || " "}
              </output>
              <div class="keypad" data-testid="keypad">
                {KEYS.map((k) => (
                  <button
                    type="button"
                    key={k}
                    data-key={k}
                    onClick={() => {
                      phone.sendDtmf(k);
                      setDialed((d) => (d + k).slice(-16));
                    }}
                  >
                    {k}
                  </button>
                ))}
              </div>
            </div>
          )}
          <form
            class="transfer"
            onSubmit={(e: Event) => {
              e.preventDefault();
              if (transferTo.trim()) phone.transfer(transferTo.trim());
            }}
          >
            <label>
              Transfer to extension
              <input
                value={transferTo}
                onInput={(e: Event) =>
                  e.target instanceof HTMLInputElement && setTransferTo(e.target.value)
                }
                inputmode="numeric"
                placeholder="e.g. 2002"
                data-testid="transfer-to"
              />
            </label>
            <button
              type="submit"
              disabled={!transferTo.trim() || !!call.transferringTo}
              data-testid="transfer"
            >
              {call.transferringTo ? "Transferring…" : "Transfer"}
            </button>
          </form>
        </>
      ) : (
        <p class="muted small">
          Shortcuts: <kbd>{SHORTCUTS.answer}</kbd> answer, <kbd>{SHORTCUTS.decline}</kbd> decline,{" "}
          <kbd>{SHORTCUTS.hangUp}</kbd> hang up, <kbd>{SHORTCUTS.mute}</kbd> mute.
        </p>
      )}
    </section>
  );
}

function Timer({ since }: { since: number }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  const seconds = Math.max(0, Math.floor((now - since) / 1000));
  const mm = String(Math.floor(seconds / 60)).padStart(2, "0");
  const ss = String(seconds % 60).padStart(2, "0");
  return (
    <time class="timer mono" data-testid="call-timer">
      {mm}:{ss}
    </time>
  );
}
