/**
 * Builds the caller page into web/dist (served as the Worker's static assets) and the agent
 * dashboard into web/dashboard/dist (scripts/build-dashboard.ts): bundles
 * web/caller/app.ts and the styles with esbuild and copies the HTML. Run by wrangler's [build] step
 * (every `wrangler dev` start) and by `npm test`.
 *
 * Several apps may serve web/dist while one of them rebuilds it (tests run in parallel), so the
 * build goes to a folder of its own and each file is then renamed into place: a page never
 * finds web/dist empty or a file half written.
 */
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { buildDashboard } from "./build-dashboard.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = join(ROOT, "web", "caller");

const FINAL = join(ROOT, "web", "dist");
const OUT = join(ROOT, "web", `.dist-build-${process.pid}`);
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
// The styles are split by part of the page (web/caller/styles/): style.css imports them all
// and esbuild bundles them into one file.
await build({
  ...common,
  entryPoints: [join(SOURCE, "style.css")],
  outfile: join(OUT, "style.css"),
});
copyFileSync(join(SOURCE, "index.html"), join(OUT, "index.html"));

for (const entry of readdirSync(OUT, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile()) continue;
  const built = join(entry.parentPath, entry.name);
  const target = join(FINAL, relative(OUT, built));
  mkdirSync(dirname(target), { recursive: true });
  renameSync(built, target);
}
rmSync(OUT, { recursive: true, force: true });

// The agent dashboard: a static site of its own (Cloudflare Pages), built beside the caller page.
await buildDashboard();
