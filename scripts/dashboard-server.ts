/**
 * `npm start`'s stand-in for Cloudflare Pages: serves the built dashboard (web/dashboard/dist)
 * on its own origin, with a `config.json` that points it at this run's Worker.
 */
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { extname, join, normalize } from "node:path";
import { DASHBOARD_DIST } from "./build-dashboard.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
};

export interface DashboardServer {
  url: string;
  close(): Promise<void>;
}

export async function serveDashboard(options: {
  port: number;
  apiUrl: string;
}): Promise<DashboardServer> {
  const config = JSON.stringify({ apiUrl: options.apiUrl });
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const headers = { "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" };
    if (path === "/config.json") {
      res.writeHead(200, { ...headers, "Content-Type": TYPES[".json"] }).end(config);
      return;
    }
    const file = normalize(join(DASHBOARD_DIST, path === "/" ? "index.html" : path));
    if (!file.startsWith(DASHBOARD_DIST)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) =>
        res
          .writeHead(200, {
            ...headers,
            "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
          })
          .end(body),
      () => res.writeHead(404, headers).end("Not found"),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
