import { useState } from "hono/jsx/dom";
import type { Me } from "../../../worker/dashboard/wire.ts";
import type { AgentApi } from "../api-client.ts";

export function SignIn(props: { api: AgentApi; message?: string; onSignedIn(me: Me): void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget;
    if (!(form instanceof HTMLFormElement)) return;
    const data = new FormData(form);
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(
        await props.api.login(String(data.get("login") ?? ""), String(data.get("password") ?? "")),
      );
    } catch (e) {
      setError(e instanceof Error ? e.message : "Sign-in failed.");
      setBusy(false);
    }
  };
  return (
    <main class="center">
      <form class="card signin" onSubmit={submit} data-testid="signin">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          Convonet · Agent
        </div>
        <h1>Sign in</h1>
        {props.message && !error && (
          <p class="muted" data-testid="signin-note">
            {props.message}
          </p>
        )}
        <label>
          Login
          <input name="login" autocomplete="username" required data-testid="login" autofocus />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            data-testid="password"
          />
        </label>
        {error && (
          <p class="error" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy} data-testid="signin-submit">
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
