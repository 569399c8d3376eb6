/**
 * Builds the caller page into web/dist (served as the Worker's static assets): bundles
 * web/caller/app.ts with esbuild and copies the HTML and CSS. Run by wrangler's [build] step
 * and by `npm test`.
 */
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = join(ROOT, "web", "caller");
const OUT = join(ROOT, "web", "dist");

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const common = {
  bundle: true,
  target: "es2022",
  minify: true,
  sourcemap: "linked",
  logLevel: "warning",
} as const;
await build({
  ...common,
  entryPoints: [join(SOURCE, "app.ts")],
  outfile: join(OUT, "app.js"),
  format: "esm",
});
// AudioWorklet processors load as modules of their own, on the audio thread.
await build({
  ...common,
  entryPoints: [
    join(SOURCE, "audio", "mic-processor.ts"),
    join(SOURCE, "audio", "player-processor.ts"),
  ],
  outdir: join(OUT, "audio"),
  format: "esm",
});
for (const file of ["index.html", "style.css"]) copyFileSync(join(SOURCE, file), join(OUT, file));
