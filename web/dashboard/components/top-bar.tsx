import type { Me } from "../../../worker/dashboard/wire.ts";
import type { PhoneState } from "../softphone.ts";

const REGISTRATION_WORDS: Record<PhoneState["registration"], string> = {
  off: "Phone off",
  connecting: "Connecting…",
  registered: "Phone connected",
  reconnecting: "Reconnecting…",
  failed: "Not connected",
};

export function TopBar(props: {
  me: Me;
  state: PhoneState;
  onReady(ready: boolean): void;
  onDisconnect(): void;
  onSignOut(): void;
}) {
  const { me, state } = props;
  const registered = state.registration === "registered";
  return (
    <header class="topbar">
      <div class="brand">
        <span class="brand-mark" aria-hidden="true" />
        Convonet · Agent
      </div>
      <div class="agent" data-testid="agent">
        <strong>{me.agent.name}</strong>
        <span class="muted">
          ext. {me.agent.extension} · {me.agent.department}
        </span>
      </div>
      <span class="pill" data-testid="registration" data-state={state.registration} role="status">
        <span class="dot" aria-hidden="true" />
        {REGISTRATION_WORDS[state.registration]}
      </span>
      <fieldset class="ready-toggle" aria-label="Availability">
        <button
          type="button"
          aria-pressed={String(state.ready)}
          class={state.ready ? "on ready" : ""}
          disabled={!registered}
          onClick={() => props.onReady(true)}
          data-testid="ready"
        >
          Ready
        </button>
        <button
          type="button"
          aria-pressed={String(!state.ready)}
          class={!state.ready ? "on not-ready" : ""}
          disabled={!registered}
          onClick={() => props.onReady(false)}
          data-testid="not-ready"
        >
          Not ready
        </button>
      </fieldset>
      <div class="topbar-actions">
        {state.registration !== "off" && state.registration !== "failed" && (
          <button type="button" class="quiet" onClick={props.onDisconnect} data-testid="disconnect">
            Disconnect phone
          </button>
        )}
        <button type="button" class="quiet" onClick={props.onSignOut} data-testid="signout">
          Sign out
        </button>
      </div>
    </header>
  );
}
