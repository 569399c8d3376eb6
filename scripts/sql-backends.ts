/**
 * The Postgres behind the local Neon-protocol server (neon-http-server.ts): the embedded PGlite
 * or a real Postgres through node-postgres. Both answer in text, as Neon's HTTP API does.
 */
import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { Pool, PoolClient } from "pg";

export interface QueryData {
  query: string;
  params?: unknown[];
}

export interface TextResult {
  fields: { name: string; dataTypeID: number }[];
  rows: (string | null)[][];
  rowCount: number;
}

export type RunQuery = (q: QueryData) => Promise<TextResult>;

export interface SqlBackend {
  query: RunQuery;
  /** Runs `work` in one transaction; `setup` statements (isolation, read only) come first. */
  transaction<T>(setup: string[], work: (run: RunQuery) => Promise<T>): Promise<T>;
}

type Converters = Record<number, (value: string) => string>;

/**
 * PGlite is one connection: its own mutex serialises queries, and `transaction()` holds that
 * mutex, so concurrent requests never interleave inside a transaction. Its type conversion is
 * switched off both ways (Neon sends parameters as text and expects text back): an identity
 * function for every type it would convert, including the array types found at start-up.
 */
export function pgliteBackend(db: PGlite): SqlBackend {
  const identity = (value: string) => value;
  const idFor = (oids: object) =>
    Object.fromEntries(Object.keys(oids).map((oid) => [Number(oid), identity])) as Converters;
  const asText = { parsers: idFor(db.parsers), serializers: idFor(db.serializers) };
  const runOn =
    (target: PGlite | Transaction): RunQuery =>
    async (q) => {
      const result = await target.query<(string | null)[]>(q.query, q.params ?? [], {
        rowMode: "array",
        ...asText,
      });
      return {
        fields: result.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
        rows: result.rows,
        rowCount: result.affectedRows ?? result.rows.length,
      };
    };
  return {
    query: runOn(db),
    transaction: (setup, work) =>
      db.transaction(async (tx) => {
        for (const statement of setup) await tx.query(statement);
        return work(runOn(tx));
      }),
  };
}

/** A real Postgres (Debian's, or any other) through a node-postgres pool. */
export function postgresBackend(pool: Pool): SqlBackend {
  const textTypes = { getTypeParser: () => (value: string) => value };
  const runOn =
    (client: Pool | PoolClient): RunQuery =>
    async (q) => {
      const result = await client.query<(string | null)[]>({
        text: q.query,
        values: q.params ?? [],
        rowMode: "array",
        types: textTypes,
      });
      return {
        fields: result.fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
        rows: result.rows,
        rowCount: result.rowCount ?? result.rows.length,
      };
    };
  return {
    query: runOn(pool),
    async transaction(setup, work) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        for (const statement of setup) await client.query(statement);
        const out = await work(runOn(client));
        await client.query("COMMIT");
        return out;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
  };
}
