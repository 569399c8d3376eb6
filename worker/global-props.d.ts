// `wrangler types` leaves out the main module here (its classes are re-exported from
// durable-objects/), so it is declared by hand: this types `exports` from "cloudflare:workers".
declare namespace Cloudflare {
  interface GlobalProps {
    mainModule: typeof import("./index.ts");
  }
}
