/** Cloudflare's voice library under wrangler dev, for the benchmark (../yardstick.ts). */
import { serveYardstick } from "../yardstick.ts";

await serveYardstick("library");
