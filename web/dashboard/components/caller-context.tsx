import type { TransferContext } from "../../../worker/dashboard/wire.ts";
import type { CallSnapshot } from "../softphone.ts";

export type ContextState =
  | { kind: "none" }
  | { kind: "loading" }
  | { kind: "loaded"; context: TransferContext }
  | { kind: "error"; message: string };

const STATUS_WORDS: Record<TransferContext["status"], string> = {
  requested: "Transfer requested",
  dialing: "Transfer dialing",
  ringing: "Transfer ringing",
  connected: "Transfer connected",
  ended: "Transfer ended",
  failed: "Transfer failed",
};

const ROLE_WORDS: Record<string, string> = { user: "Caller", assistant: "Assistant" };

/** Who is calling and why: the transfer's context when the call has one, else what SIP says. */
export function CallerContext({ call, context }: { call: CallSnapshot; context: ContextState }) {
  const loaded = context.kind === "loaded" ? context.context : null;
  const name = loaded?.caller?.name ?? call.headerCallerName ?? call.remoteName;
  return (
    <article class="context" data-testid="caller-context" data-phase={call.phase}>
      <header class="context-head">
        <span class="avatar" aria-hidden="true">
          {initials(name)}
        </span>
        <div>
          <p class="eyebrow">
            {call.phase === "ringing" || call.phase === "answering"
              ? "Incoming call"
              : "On the call with"}
          </p>
          <h1 data-testid="caller-name">{name}</h1>
          {loaded?.caller?.email && (
            <p class="muted" data-testid="caller-email">
              {loaded.caller.email}
            </p>
          )}
        </div>
        {loaded && (
          <span class="badge" data-testid="transfer-status">
            {STATUS_WORDS[loaded.status]}
          </span>
        )}
      </header>
      {loaded?.caller?.teams?.length ? (
        <ul class="chips" data-testid="caller-teams" aria-label="Teams">
          {loaded.caller.teams.map((t) => (
            <li key={t.name}>
              {t.name} · {t.role}
            </li>
          ))}
        </ul>
      ) : null}
      {context.kind === "loading" && (
        <p class="muted" data-testid="context-loading">
          Looking up the caller…
        </p>
      )}
      {context.kind === "error" && (
        <p class="warning" data-testid="context-error">
          {context.message} Showing what the phone system says.
        </p>
      )}
      {loaded ? (
        <>
          <section class="reason">
            <h2>Reason</h2>
            <p data-testid="caller-reason">{loaded.reason ?? "Not given."}</p>
          </section>
          <section class="summary">
            <h2>Summary</h2>
            <p data-testid="caller-summary">{loaded.summary ?? "No summary yet."}</p>
          </section>
          <section class="transcript">
            <h2>Conversation with the assistant</h2>
            {loaded.transcript.length === 0 ? (
              <p class="muted">No conversation recorded.</p>
            ) : (
              <ol data-testid="caller-transcript">
                {loaded.transcript.map((turn, i) => (
                  <li key={String(i)} class={`turn ${turn.role}`}>
                    <span class="who">{ROLE_WORDS[turn.role] ?? turn.role}</span>
                    <span>{turn.text}</span>
                  </li>
                ))}
              </ol>
            )}
          </section>
        </>
      ) : (
        context.kind !== "loading" && (
          <section class="sip-only" data-testid="sip-only">
            <h2>From the phone system</h2>
            <dl>
              <dt>Caller</dt>
              <dd>{call.remoteName}</dd>
              <dt>Address</dt>
              <dd>{call.remoteUri}</dd>
              {call.headerCallerName && (
                <>
                  <dt>Name given</dt>
                  <dd>{call.headerCallerName}</dd>
                </>
              )}
              {call.sessionId && (
                <>
                  <dt>Session</dt>
                  <dd class="mono">{call.sessionId.slice(0, 12)}…</dd>
                </>
              )}
            </dl>
            {!call.sessionId && (
              <p class="muted">
                This call came without a Convonet session, so there is no conversation to show.
              </p>
            )}
          </section>
        )
      )}
    </article>
  );
}

function initials(name: string): string {
  return (
    name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0]?.toUpperCase() ?? "")
      .join("") || "?"
  );
}
