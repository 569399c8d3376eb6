import type { Me } from "../../../worker/dashboard/wire.ts";

/** The SIP password is typed here and handed to the softphone; it is never stored. */
export function ConnectPhone(props: { me: Me; onConnect(password: string): void }) {
  const { me } = props;
  if (!me.sip.wssUrl) {
    return (
      <div class="idle" data-testid="not-configured">
        <h1>The phone server is not set up</h1>
        <p class="muted">Ask your administrator to set FUSIONPBX_WSS_URL for the Worker.</p>
      </div>
    );
  }
  const submit = (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget;
    if (!(form instanceof HTMLFormElement)) return;
    const field = form.elements.namedItem("sip-password");
    if (field instanceof HTMLInputElement) {
      props.onConnect(field.value);
      field.value = "";
    }
  };
  return (
    <form class="connect" onSubmit={submit} data-testid="connect">
      <h1>Connect your phone</h1>
      <p class="muted">
        Extension <strong>{me.agent.extension}</strong> on {me.sip.domain}. Your SIP password stays
        in this tab only and is asked again after a reload.
      </p>
      <label>
        SIP password
        <input
          name="sip-password"
          type="password"
          autocomplete="off"
          data-testid="sip-password"
          autofocus
        />
      </label>
      <button type="submit" class="primary" data-testid="connect-submit">
        Connect
      </button>
    </form>
  );
}
