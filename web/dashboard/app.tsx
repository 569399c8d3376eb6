/**
 * The agent dashboard: sign in, connect the softphone, take calls with the caller's context,
 * write notes afterwards. This file wires the API, the softphone and the views together.
 */
import {
  render,
  useCallback,
  useEffect,
  useRef,
  useState,
  useSyncExternalStore,
} from "hono/jsx/dom";
import type { AgentCall, Me, TransferContext } from "../../worker/dashboard/wire.ts";
import { AgentApi, ApiError } from "./api-client.ts";
import { CallLog } from "./components/call-log.tsx";
import { CallPanel } from "./components/call-panel.tsx";
import { CallerContext, type ContextState } from "./components/caller-context.tsx";
import { ConnectPhone } from "./components/connect-phone.tsx";
import { SignIn } from "./components/sign-in.tsx";
import { TopBar } from "./components/top-bar.tsx";
import { WrapUp } from "./components/wrap-up.tsx";
import { loadConfig } from "./config.ts";
import { Ringtone } from "./ringtone.ts";
import { useShortcuts } from "./shortcuts.ts";
import { type CallSnapshot, Softphone } from "./softphone.ts";

type Auth =
  | { kind: "loading" }
  | { kind: "signed-out"; message?: string }
  | { kind: "signed-in"; me: Me };

/** An answered call waiting for its notes. */
export interface PendingWrapUp {
  callId: string;
  call: CallSnapshot;
  context: TransferContext | null;
}

function Dashboard({ api }: { api: AgentApi }) {
  const [auth, setAuth] = useState<Auth>({ kind: "loading" });
  const [calls, setCalls] = useState<AgentCall[]>([]);
  const [context, setContext] = useState<ContextState>({ kind: "none" });
  const [wrapUp, setWrapUp] = useState<PendingWrapUp | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const audio = useRef<HTMLAudioElement | null>(null);
  const contextRef = useRef<ContextState>({ kind: "none" });
  contextRef.current = context;

  const refreshCalls = useCallback(() => {
    api.recentCalls().then(setCalls, (error: unknown) => {
      if (error instanceof ApiError && error.status === 401)
        setAuth({ kind: "signed-out", message: "Your sign-in has expired. Please sign in again." });
    });
  }, [api]);

  const phoneRef = useRef<Softphone | null>(null);
  if (!phoneRef.current) {
    phoneRef.current = new Softphone({
      onRemoteStream(stream) {
        if (audio.current) audio.current.srcObject = stream;
      },
      onCallEnded(call) {
        const known = contextRef.current;
        const transfer =
          known.kind === "loaded" && known.context.sessionId === call.sessionId
            ? known.context
            : null;
        api
          .recordCall({
            sessionId: call.sessionId,
            remoteIdentity: `${call.headerCallerName ?? call.remoteName} <${call.remoteUri}>`.slice(
              0,
              300,
            ),
            outcome: call.outcome ?? "missed",
            startedAt: call.startedAt,
            answeredAt: call.answeredAt,
            endedAt: call.endedAt ?? Date.now(),
          })
          .then((callId) => {
            if (call.outcome === "answered") setWrapUp({ callId, call, context: transfer });
            refreshCalls();
          })
          .catch((error: unknown) =>
            setNotice(
              `This call could not be saved to the log: ${error instanceof Error ? error.message : "unknown error"}`,
            ),
          );
      },
    });
  }
  const phone = phoneRef.current;
  const state = useSyncExternalStore(phone.subscribe, phone.snapshot);
  const call = state.call;

  useEffect(() => {
    api.me().then(
      (me) => setAuth({ kind: "signed-in", me }),
      (error: unknown) =>
        setAuth({
          kind: "signed-out",
          message: error instanceof ApiError && error.status !== 401 ? error.message : undefined,
        }),
    );
  }, [api]);

  useEffect(() => {
    if (auth.kind === "signed-in") refreshCalls();
    else phone.unregister();
  }, [auth.kind]);

  // Ring while a call is ringing, whichever way it stops.
  const ringtone = useRef(new Ringtone());
  const ringing = call?.phase === "ringing";
  useEffect(() => {
    if (ringing) ringtone.current.start();
    else ringtone.current.stop();
  }, [ringing]);

  // The caller's context, looked up by the session id in the call's SIP headers when it rings,
  // and again once answered, so the transfer's state is current.
  const callId = call?.id;
  const sessionId = call?.sessionId ?? null;
  const answered = call?.phase === "active";
  useEffect(() => {
    if (!callId) return;
    if (!sessionId) {
      setContext({ kind: "none" });
      return;
    }
    let current = true;
    const shown = contextRef.current;
    if (!(shown.kind === "loaded" && shown.context.sessionId === sessionId))
      setContext({ kind: "loading" });
    api.transfer(sessionId).then(
      (loaded) => current && setContext({ kind: "loaded", context: loaded }),
      (error: unknown) =>
        current &&
        setContext({
          kind: "error",
          message:
            error instanceof ApiError && error.status === 404
              ? "This session is not a transfer to your department."
              : error instanceof Error
                ? error.message
                : "The caller's details could not be loaded.",
        }),
    );
    return () => {
      current = false;
    };
  }, [callId, sessionId, answered]);

  useEffect(() => {
    const online = () => phone.networkBack();
    window.addEventListener("online", online);
    return () => window.removeEventListener("online", online);
  }, []);

  useShortcuts(phone, state);

  if (auth.kind === "loading")
    return (
      <main class="center" data-testid="loading">
        <p>Loading…</p>
      </main>
    );
  if (auth.kind === "signed-out") {
    return (
      <SignIn
        api={api}
        message={auth.message}
        onSignedIn={(me) => setAuth({ kind: "signed-in", me })}
      />
    );
  }
  const { me } = auth;
  const showCall = call && call.phase !== "ended";
  return (
    <div class="shell" data-call={call?.phase ?? "idle"}>
      <TopBar
        me={me}
        state={state}
        onReady={(ready) => phone.setReady(ready)}
        onDisconnect={() => phone.unregister()}
        onSignOut={() => {
          phone.unregister();
          void api.logout().catch(() => undefined);
          setAuth({ kind: "signed-out", message: "You are signed out." });
        }}
      />
      {state.error && (
        <p class="alert" role="alert" data-testid="phone-error">
          <span>{state.error}</span>
          <button
            type="button"
            class="link"
            onClick={() => phone.clearError()}
            aria-label="Dismiss"
          >
            Dismiss
          </button>
        </p>
      )}
      {notice && (
        <p class="alert" role="alert" data-testid="notice">
          <span>{notice}</span>
          <button type="button" class="link" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </p>
      )}
      <div class="workspace">
        <section class="main-pane" aria-label="Current call">
          {state.registration === "off" || state.registration === "failed" ? (
            <ConnectPhone
              me={me}
              onConnect={(password) =>
                phone.register({
                  ...me.sip,
                  extension: me.agent.extension,
                  displayName: me.agent.name,
                  password,
                })
              }
            />
          ) : showCall ? (
            <CallerContext call={call} context={context} />
          ) : wrapUp ? (
            <WrapUp
              api={api}
              pending={wrapUp}
              onSaved={() => {
                setWrapUp(null);
                refreshCalls();
              }}
            />
          ) : (
            <Idle ready={state.ready} registration={state.registration} lastCall={call} />
          )}
        </section>
        <aside class="side-pane">
          <CallPanel phone={phone} state={state} />
          <CallLog calls={calls} />
        </aside>
      </div>
      {/* biome-ignore lint/a11y/useMediaCaption: a live call's audio; there is nothing to caption. */}
      <audio ref={audio} autoplay data-testid="remote-audio" />
    </div>
  );
}

function Idle(props: { ready: boolean; registration: string; lastCall: CallSnapshot | null }) {
  const waiting = props.registration === "registered" && props.ready;
  return (
    <div class="idle" data-testid="idle">
      <div class={`idle-mark ${waiting ? "on" : ""}`} aria-hidden="true" />
      <h1>
        {waiting
          ? "Waiting for calls"
          : props.registration === "registered"
            ? "You are not ready"
            : "Connecting your phone…"}
      </h1>
      <p class="muted">
        {waiting
          ? "When a caller is transferred to you, their name, reason and conversation appear here as it rings."
          : props.registration === "registered"
            ? "New calls go to your colleagues. Switch to Ready to take calls."
            : "Calls cannot reach you until your phone is connected."}
      </p>
      {props.lastCall?.endedWords && (
        <p class="last-call" data-testid="last-call">
          Last call: {props.lastCall.endedWords}
        </p>
      )}
    </div>
  );
}

async function main() {
  const root = document.getElementById("root");
  if (!root) return;
  try {
    const config = await loadConfig();
    render(<Dashboard api={new AgentApi(config.apiUrl)} />, root);
  } catch (error) {
    root.textContent = `The dashboard is not set up: ${error instanceof Error ? error.message : String(error)}`;
  }
}

void main();
