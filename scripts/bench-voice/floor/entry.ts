import { fileURLToPath } from "node:url";

/** The floor relay's start script, for `startAppProcess`'s `entry` (`--compare floor`, its test). */
export const FLOOR_START = fileURLToPath(new URL("./start.ts", import.meta.url));
