/**
 * Serves the test caller (caller-ua.js, bundled with esbuild) on a loopback port of its own.
 */
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** `window.callerUa` in the test caller's page. */
export interface CallerUa {
  /** In order: "progress", "confirmed", "hold:…", "unhold:…", "dtmf:1", "refer:URI", "ended:ORIGINATOR:CAUSE". */
  events: string[];
  connect(wsUrl: string): Promise<void>;
  call(target: string, headers: string[], displayName: string): void;
  /** Bytes of audio received from the agent so far. */
  bytesReceived(): Promise<number>;
  hangUp(): void;
}

export async function serveCallerUa(): Promise<{ url: string; close(): Promise<void> }> {
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL("caller-ua.js", import.meta.url))],
    bundle: true,
    write: false,
    format: "esm",
    target: "es2022",
    logLevel: "warning",
  });
  const script = bundle.outputFiles[0]?.text ?? "";
  const html = `<!doctype html><meta charset="utf-8"><title>Test caller</title><script type="module" src="/caller-ua.js"></script>`;
  const server = createServer((req, res) => {
    if (req.url === "/caller-ua.js")
      res.writeHead(200, { "Content-Type": "text/javascript" }).end(script);
    else res.writeHead(200, { "Content-Type": "text/html" }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
