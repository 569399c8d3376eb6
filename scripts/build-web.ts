/**
 * Builds the caller page into web/dist (served as the Worker's static assets): bundles
 * web/caller/app.ts with esbuild and copies the HTML and CSS. Run by wrangler's [build] step
 * and by `npm test`.
 */
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = join(ROOT, "web", "caller");
const OUT = join(ROOT, "web", "dist");

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
if (existsSync(join(SOURCE, "app.ts"))) {
  await build({
    entryPoints: [join(SOURCE, "app.ts")],
    outfile: join(OUT, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: "linked",
    logLevel: "warning",
  });
}
for (const file of ["index.html", "style.css"]) {
  if (existsSync(join(SOURCE, file))) copyFileSync(join(SOURCE, file), join(OUT, file));
}
