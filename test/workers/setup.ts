/**
 * Loads the Worker (and with it LangGraph and the SDKs) once before the tests, so the first
 * test of a file does not pay several seconds of module start-up inside its own time limits.
 */
import { exports } from "cloudflare:workers";
import { beforeAll } from "vitest";

beforeAll(async () => {
  await exports.default.fetch("http://warm-up.test/api/health");
}, 60_000);
