/**
 * Builds the agent dashboard (web/dashboard) into web/dashboard/dist, the folder Cloudflare
 * Pages serves: one minified ES module, the HTML, the CSS and `config.json` naming the
 * Worker's API (`DASHBOARD_API_URL`, by default the local `npm start` one).
 *
 * Like the caller page, it builds into a folder of its own and renames each file into place,
 * so a dashboard being served never sees a half-written file.
 */
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = join(ROOT, "web", "dashboard");
export const DASHBOARD_DIST = join(SOURCE, "dist");

/** What the Worker's API is called from the dashboard when the build is not told otherwise. */
export const DEFAULT_API_URL = "http://127.0.0.1:8787";

export async function buildDashboard(apiUrl = process.env.DASHBOARD_API_URL || DEFAULT_API_URL) {
  const out = join(ROOT, "web", `.dist-build-dashboard-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(SOURCE, "app.tsx")],
    outfile: join(out, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: "linked",
    logLevel: "warning",
    jsx: "automatic",
    jsxImportSource: "hono/jsx/dom",
    // JsSIP logs through `debug`, which reads process.env in some builds.
    define: { "process.env.NODE_ENV": '"production"' },
  });
  for (const file of ["index.html", "style.css"]) copyFileSync(join(SOURCE, file), join(out, file));
  writeFileSync(
    join(out, "config.json"),
    `${JSON.stringify({ apiUrl: new URL(apiUrl).origin })}\n`,
  );
  for (const entry of readdirSync(out, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const built = join(entry.parentPath, entry.name);
    const target = join(DASHBOARD_DIST, relative(out, built));
    mkdirSync(dirname(target), { recursive: true });
    renameSync(built, target);
  }
  rmSync(out, { recursive: true, force: true });
}

if (import.meta.url === `file://${process.argv[1]}`) await buildDashboard();
