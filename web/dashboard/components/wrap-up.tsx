import { useState } from "hono/jsx/dom";
import { type Disposition, dispositions } from "../../../worker/dashboard/wire.ts";
import type { AgentApi } from "../api-client.ts";
import type { PendingWrapUp } from "../app.tsx";

const WORDS: Record<Disposition, string> = {
  resolved: "Resolved",
  follow_up: "Needs follow-up",
  escalated: "Escalated",
  other: "Other",
};

/** After an answered call: a disposition and notes, saved to the call log in Postgres. */
export function WrapUp(props: { api: AgentApi; pending: PendingWrapUp; onSaved(): void }) {
  const [disposition, setDisposition] = useState<Disposition>("resolved");
  const [notes, setNotes] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { call, context } = props.pending;
  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await props.api.saveNotes(props.pending.callId, { disposition, notes: notes.trim() });
      props.onSaved();
    } catch (e) {
      setError(e instanceof Error ? e.message : "The notes could not be saved.");
      setBusy(false);
    }
  };
  return (
    <form class="wrap-up" onSubmit={save} data-testid="wrap-up">
      <p class="eyebrow">After the call</p>
      <h1>{context?.caller?.name ?? call.headerCallerName ?? call.remoteName}</h1>
      <p class="muted">{call.endedWords}</p>
      {context?.reason && <p class="muted">Reason: {context.reason}</p>}
      <fieldset class="dispositions">
        <legend>Outcome</legend>
        {dispositions.map((d) => (
          <label key={d} class={disposition === d ? "chip on" : "chip"}>
            <input
              type="radio"
              name="disposition"
              value={d}
              checked={disposition === d}
              onChange={() => setDisposition(d)}
              data-testid={`disposition-${d}`}
            />
            {WORDS[d]}
          </label>
        ))}
      </fieldset>
      <label>
        Notes
        <textarea
          rows={5}
          maxlength={4000}
          value={notes}
          onInput={(e: Event) =>
            e.target instanceof HTMLTextAreaElement && setNotes(e.target.value)
          }
          placeholder="What was agreed, what happens next…"
          data-testid="notes"
        />
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" class="primary" disabled={busy} data-testid="save-notes">
        {busy ? "Saving…" : "Save notes"}
      </button>
    </form>
  );
}
