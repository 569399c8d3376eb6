/**
 * Serves Neon's HTTP query protocol (what `neon()` from @neondatabase/serverless speaks) in
 * front of an in-process PGlite, so the Worker uses the production driver unchanged against
 * the embedded Postgres. Written by hand because no library serves this protocol; it is
 * small: POST {query, params} or {queries: [...]}, answer rows as arrays of text values.
 *
 * PGlite is one connection. Its own mutex serialises queries, and a batch runs inside
 * `transaction()`, which holds that mutex, so concurrent requests never interleave inside a
 * transaction. (pglite-socket is not used: it returned wrong results under concurrency.)
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { PGlite, Transaction } from "@electric-sql/pglite";

interface QueryData {
  query: string;
  params?: unknown[];
}

interface NeonResult {
  fields: { name: string; dataTypeID: number }[];
  rows: (string | null)[][];
  command: string;
  rowCount: number;
  rowAsArray: true;
}

const MAX_BODY_BYTES = 8 * 1024 * 1024;

type Converters = Record<number, (value: string) => string>;

/**
 * Neon already sends every parameter as text and expects every value back as text, so
 * PGlite's type conversion is switched off in both directions: an identity function for every
 * type PGlite would otherwise convert (it looks them up by OID in its own maps, which also
 * hold the array types found at start-up).
 */
function textMode(db: PGlite): { parsers: Converters; serializers: Converters } {
  const identity = (value: string) => value;
  const idFor = (oids: object) =>
    Object.fromEntries(Object.keys(oids).map((oid) => [Number(oid), identity])) as Converters;
  return { parsers: idFor(db.parsers), serializers: idFor(db.serializers) };
}

export interface NeonHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface NeonHttpServerOptions {
  db: PGlite;
  /** Password every connection string must carry, so only our Worker can query. */
  password: string;
  port?: number;
  host?: string;
}

export async function startNeonHttpServer(options: NeonHttpServerOptions): Promise<NeonHttpServer> {
  const { db, password } = options;
  const asText = textMode(db);
  const server: Server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method !== "POST" || !req.url?.startsWith("/sql")) {
        return reply(404, { message: "Not found: POST /sql" });
      }
      if (!connectionStringMatches(req.headers["neon-connection-string"], password)) {
        return reply(401, { message: "password authentication failed" });
      }
      const body = JSON.parse(await readBody(req)) as unknown;
      if (isBatch(body)) {
        const results = await db.transaction(async (tx) => {
          const level = req.headers["neon-batch-isolation-level"];
          if (typeof level === "string" && /^[A-Za-z ]+$/.test(level)) {
            await tx.query(
              `SET TRANSACTION ISOLATION LEVEL ${level.replace(/([a-z])([A-Z])/g, "$1 $2")}`,
            );
          }
          if (req.headers["neon-batch-read-only"] === "true")
            await tx.query("SET TRANSACTION READ ONLY");
          const out: NeonResult[] = [];
          for (const q of body.queries) out.push(await runQuery(tx, q, asText));
          return out;
        });
        return reply(200, { results });
      }
      if (!isQuery(body))
        return reply(400, { message: "Body must be {query, params} or {queries}" });
      return reply(200, await runQuery(db, body, asText));
    } catch (error) {
      return reply(400, toNeonError(error));
    }
  });
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

async function runQuery(
  db: PGlite | Transaction,
  q: QueryData,
  asText: ReturnType<typeof textMode>,
): Promise<NeonResult> {
  const result = await db.query<(string | null)[]>(q.query, q.params ?? [], {
    rowMode: "array",
    ...asText,
  });
  return {
    fields: result.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
    rows: result.rows,
    command: q.query.trim().split(/\s+/, 1)[0]?.toUpperCase() ?? "",
    rowCount: result.affectedRows ?? result.rows.length,
    rowAsArray: true,
  };
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
