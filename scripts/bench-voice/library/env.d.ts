// The yardstick's binding, beside the provider settings the project's own Env already declares
// (../../../worker-configuration.d.ts, whose runtime types are this Worker's too: same
// compatibility date and flags).
declare namespace Cloudflare {
  interface Env {
    LibraryAgent: DurableObjectNamespace<import("./agent.ts").LibraryAgent>;
  }
}
