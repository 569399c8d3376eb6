/** The floor relay under wrangler dev, for the benchmark (../yardstick.ts). */
import { serveYardstick } from "../yardstick.ts";

await serveYardstick("floor");
