import type { AgentCall } from "../../../worker/dashboard/wire.ts";

const OUTCOME_WORDS: Record<string, string> = {
  answered: "Answered",
  missed: "Missed",
  rejected: "Declined",
};
const DISPOSITION_WORDS: Record<string, string> = {
  resolved: "Resolved",
  follow_up: "Follow-up",
  escalated: "Escalated",
  other: "Other",
};

export function CallLog({ calls }: { calls: AgentCall[] }) {
  return (
    <section class="call-log" aria-label="Recent calls">
      <h2>Recent calls</h2>
      {calls.length === 0 ? (
        <p class="muted small">No calls yet.</p>
      ) : (
        <ol data-testid="call-log">
          {calls.map((c) => (
            <li key={c.id} data-outcome={c.outcome} data-testid="call-log-entry">
              <div class="log-line">
                <strong>{c.callerName ?? c.remoteIdentity.replace(/\s*<.*>$/, "")}</strong>
                <time class="muted small">{formatTime(c.startedAt)}</time>
              </div>
              <div class="log-line small">
                <span class={`outcome ${c.outcome}`}>{OUTCOME_WORDS[c.outcome] ?? c.outcome}</span>
                {c.answeredAt && c.endedAt && (
                  <span class="muted">{formatDuration(c.endedAt - c.answeredAt)}</span>
                )}
                {c.disposition && (
                  <span class="badge small">
                    {DISPOSITION_WORDS[c.disposition] ?? c.disposition}
                  </span>
                )}
              </div>
              {c.notes && <p class="log-notes small">{c.notes}</p>}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function formatTime(ms: number): string {
  const date = new Date(ms);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], {
        month: "short",
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
      });
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
