/**
 * Serves Neon's HTTP query protocol (what `neon()` from @neondatabase/serverless speaks) in
 * front of a local Postgres (sql-backends.ts), so the Worker uses the production driver
 * unchanged against the embedded Postgres or a plain one. Written by hand because no library
 * serves this protocol; it is small: POST {query, params} or {queries: [...]}, answer rows as
 * arrays of text values. (pglite-socket is not used: it returned wrong results under
 * concurrency.) Tests can make it fail on purpose: `POST /_fault` (see QueryFault).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { QueryData, SqlBackend, TextResult } from "./sql-backends.ts";

interface NeonResult extends TextResult {
  command: string;
  rowAsArray: true;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface NeonHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface NeonHttpServerOptions {
  backend: SqlBackend;
  /** Password every connection string must carry, so only our Worker can query. */
  password: string;
  port?: number;
  host?: string;
}

export async function startNeonHttpServer(options: NeonHttpServerOptions): Promise<NeonHttpServer> {
  const { backend, password } = options;
  const faults: QueryFault[] = [];
  const server: Server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method === "POST" && req.url === "/_fault") {
        if (!connectionStringMatches(req.headers["neon-connection-string"], password))
          return reply(401, { message: "password authentication failed" });
        const fault = parseFault(JSON.parse(await readBody(req)));
        if (!fault) return reply(400, { message: "Body must be {param: string, times: number}" });
        faults.push(fault);
        return reply(200, { ok: true });
      }
      if (req.method !== "POST" || !req.url?.startsWith("/sql")) {
        return reply(404, { message: "Not found: POST /sql" });
      }
      if (!connectionStringMatches(req.headers["neon-connection-string"], password)) {
        return reply(401, { message: "password authentication failed" });
      }
      const body = JSON.parse(await readBody(req)) as unknown;
      // An unreachable Postgres, as the driver sees one: the connection dies with no answer.
      if (takeFault(faults, body)) return req.socket.destroy();
      if (isBatch(body)) {
        const setup: string[] = [];
        const level = req.headers["neon-batch-isolation-level"];
        if (typeof level === "string" && /^[A-Za-z ]+$/.test(level)) {
          setup.push(
            `SET TRANSACTION ISOLATION LEVEL ${level.replace(/([a-z])([A-Z])/g, "$1 $2")}`,
          );
        }
        if (req.headers["neon-batch-read-only"] === "true") setup.push("SET TRANSACTION READ ONLY");
        const results = await backend.transaction(setup, async (run) => {
          const out: NeonResult[] = [];
          for (const q of body.queries) out.push(withCommand(q, await run(q)));
          return out;
        });
        return reply(200, { results });
      }
      if (!isQuery(body))
        return reply(400, { message: "Body must be {query, params} or {queries}" });
      return reply(200, withCommand(body, await backend.query(body)));
    } catch (error) {
      return reply(400, toNeonError(error));
    }
  });
  // Node closes an idle keep-alive connection after 5 s by default; a client reusing it at
  // that moment gets "Network connection lost". The clients here are ours: keep them open.
  server.keepAliveTimeout = 0;
  // A test run (or `npm start`) ends on its own terms; an idle server must not keep it alive.
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sql`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The connection string the Worker passes to `neon()` for a local server. */
export function localConnectionString(password: string, port: number): string {
  return `postgresql://convonet:${encodeURIComponent(password)}@127.0.0.1:${port}/convonet`;
}

/**
 * A test's fault (`POST /_fault`, with the server's password): the next `times` requests that
 * carry `param` among their queries' parameters get no answer. Keyed on a parameter (a session
 * id, a PIN hash) so one test's fault never reaches another test's queries.
 */
interface QueryFault {
  param: string;
  times: number;
}

function parseFault(body: unknown): QueryFault | undefined {
  const { param, times } = (body ?? {}) as Partial<Record<keyof QueryFault, unknown>>;
  if (typeof param !== "string" || !param) return undefined;
  if (typeof times !== "number" || !Number.isInteger(times) || times < 1) return undefined;
  return { param, times };
}

function takeFault(faults: QueryFault[], body: unknown): boolean {
  const queries = isBatch(body) ? body.queries : isQuery(body) ? [body] : [];
  const params = queries.flatMap((q) => (q.params ?? []).map(String));
  const index = faults.findIndex((f) => params.includes(f.param));
  const fault = faults[index];
  if (!fault) return false;
  fault.times -= 1;
  if (fault.times === 0) faults.splice(index, 1);
  return true;
}

function withCommand(q: QueryData, result: TextResult): NeonResult {
  const command = q.query.trim().split(/\s+/, 1)[0]?.toUpperCase() ?? "";
  return { ...result, command, rowAsArray: true };
}

function connectionStringMatches(header: string | string[] | undefined, password: string): boolean {
  if (typeof header !== "string") return false;
  try {
    return decodeURIComponent(new URL(header).password) === password;
  } catch {
    return false;
  }
}

function isQuery(body: unknown): body is QueryData {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as QueryData).query === "string" &&
    ((body as QueryData).params === undefined || Array.isArray((body as QueryData).params))
  );
}

function isBatch(body: unknown): body is { queries: QueryData[] } {
  const queries = (body as { queries?: unknown } | null)?.queries;
  return Array.isArray(queries) && queries.every(isQuery);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Postgres error fields, named as Neon names them, so the driver rebuilds a NeonDbError. */
function toNeonError(error: unknown): Record<string, unknown> {
  if (typeof error !== "object" || error === null) return { message: String(error) };
  const e = error as Record<string, unknown>;
  const fields = [
    "code",
    "severity",
    "detail",
    "hint",
    "position",
    "schema",
    "table",
    "column",
    "constraint",
  ];
  const out: Record<string, unknown> = {
    message: typeof e.message === "string" ? e.message : "query failed",
  };
  for (const f of fields) if (e[f] !== undefined) out[f] = e[f];
  return out;
}
