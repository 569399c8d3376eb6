/**
 * A LangGraph checkpointer on a Durable Object's own SQLite storage, so a conversation survives
 * a reconnect, hibernation or eviction without any outside store. Written by hand: LangGraph's
 * SQLite saver needs better-sqlite3 (native, not in workerd) and no maintained saver targets
 * `ctx.storage.sql`. It follows MemorySaver's semantics (checkpoint ids sort by time; writes
 * keyed by task id and index; special channels via WRITES_IDX_MAP).
 *
 * All calls are synchronous SQL inside the object, so no two of them interleave. Its writes go
 * through the object's `StorageWrites`, which may hold them while a reply starts
 * (durable-objects/write-behind.ts); a read from the tables first writes what is held.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  compareWritesSortKeys,
  copyCheckpoint,
  getCheckpointId,
  type PendingWrite,
  WRITES_IDX_MAP,
  writesSortKey,
} from "@langchain/langgraph-checkpoint";
import { type StorageWrites, WRITE_AT_ONCE } from "../durable-objects/write-behind.ts";

/** Older checkpoints of a thread beyond this many are deleted: only the latest is ever read. */
export const CHECKPOINTS_KEPT = 8;
/**
 * Old checkpoints are deleted every this many checkpoints of a thread, all at once, so a thread
 * holds at most CHECKPOINTS_KEPT + PRUNE_EVERY. Pruning on every checkpoint (a SELECT and two
 * DELETEs) was the largest piece of SQL a turn ran: about 0.4 ms of a one-call turn's JavaScript in
 * the profile, eight times the checkpoint's own INSERT.
 */
export const PRUNE_EVERY = 8;

interface CheckpointRow extends Record<string, SqlStorageValue> {
  thread_id: string;
  ns: string;
  id: string;
  parent_id: string | null;
  type: string;
  checkpoint: ArrayBuffer;
  metadata: ArrayBuffer;
}

interface WriteRow extends Record<string, SqlStorageValue> {
  task_id: string;
  idx: number;
  channel: string;
  type: string;
  value: ArrayBuffer;
  task_path: string;
}

export class DurableObjectSqliteSaver extends BaseCheckpointSaver {
  readonly #sql: SqlStorage;
  readonly #writes: StorageWrites;
  /** This saver's writes still held: a read from the tables writes them first. */
  #held = 0;
  /**
   * The latest checkpoint of each thread and namespace, as last written or read. A turn starts by
   * loading it, and reading and deserialising the whole history again sat on the path to the
   * model request. This saver is its tables' only writer, so the copy cannot go stale; LangGraph
   * copies what it loads before changing it (pregel/loop.ts `copyCheckpoint`). `null` is a thread
   * known to have none yet: a new caller's first turn reads it twice (its early model call, then
   * the graph), and the second read would find the same nothing.
   */
  readonly #latest = new Map<string, CheckpointTuple | null>();
  /**
   * Checkpoints written per thread and namespace since its last prune. None known (a new object,
   * or one woken after eviction) prunes at the first write, whatever an earlier life left.
   */
  readonly #sincePrune = new Map<string, number>();

  constructor(sql: SqlStorage, writes: StorageWrites = WRITE_AT_ONCE) {
    super();
    this.#sql = sql;
    this.#writes = writes;
    sql.exec(`CREATE TABLE IF NOT EXISTS lg_checkpoints (
      thread_id TEXT NOT NULL, ns TEXT NOT NULL, id TEXT NOT NULL, parent_id TEXT,
      type TEXT NOT NULL, checkpoint BLOB NOT NULL, metadata BLOB NOT NULL,
      PRIMARY KEY (thread_id, ns, id))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS lg_writes (
      thread_id TEXT NOT NULL, ns TEXT NOT NULL, checkpoint_id TEXT NOT NULL,
      task_id TEXT NOT NULL, idx INTEGER NOT NULL, channel TEXT NOT NULL,
      type TEXT NOT NULL, value BLOB NOT NULL, task_path TEXT NOT NULL DEFAULT '',
      PRIMARY KEY (thread_id, ns, checkpoint_id, task_id, idx))`);
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const threadId = threadIdOf(config);
    const ns = nsOf(config);
    const id = getCheckpointId(config);
    const cached = id ? undefined : this.#latest.get(latestKey(threadId, ns));
    if (cached === null) return undefined;
    if (cached) return { ...cached, pendingWrites: [...(cached.pendingWrites ?? [])] };
    this.#flush();
    const row = id
      ? this.#sql
          .exec<CheckpointRow>(
            "SELECT * FROM lg_checkpoints WHERE thread_id = ? AND ns = ? AND id = ?",
            threadId,
            ns,
            id,
          )
          .toArray()[0]
      : this.#sql
          .exec<CheckpointRow>(
            "SELECT * FROM lg_checkpoints WHERE thread_id = ? AND ns = ? ORDER BY id DESC LIMIT 1",
            threadId,
            ns,
          )
          .toArray()[0];
    if (!row) {
      if (!id) this.#latest.set(latestKey(threadId, ns), null);
      return undefined;
    }
    const tuple = await this.#toTuple(row);
    if (!id) this.#latest.set(latestKey(threadId, ns), tuple);
    return { ...tuple, pendingWrites: [...(tuple.pendingWrites ?? [])] };
  }

  async *list(
    config: RunnableConfig,
    options?: CheckpointListOptions,
  ): AsyncGenerator<CheckpointTuple> {
    const threadId = config.configurable?.thread_id;
    const ns = config.configurable?.checkpoint_ns;
    const before = options?.before ? getCheckpointId(options.before) : undefined;
    this.#flush();
    const where: string[] = [];
    const params: SqlStorageValue[] = [];
    if (typeof threadId === "string") {
      where.push("thread_id = ?");
      params.push(threadId);
    }
    if (typeof ns === "string") {
      where.push("ns = ?");
      params.push(ns);
    }
    if (before) {
      where.push("id < ?");
      params.push(before);
    }
    const rows = this.#sql
      .exec<CheckpointRow>(
        `SELECT * FROM lg_checkpoints ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC`,
        ...params,
      )
      .toArray();
    let remaining = options?.limit ?? Number.POSITIVE_INFINITY;
    for (const row of rows) {
      if (remaining <= 0) return;
      const tuple = await this.#toTuple(row);
      const filter = options?.filter;
      const metadata = (tuple.metadata ?? {}) as Record<string, unknown>;
      if (filter && !Object.entries(filter).every(([k, v]) => metadata[k] === v)) continue;
      remaining -= 1;
      yield tuple;
    }
  }

  async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    _newVersions: ChannelVersions,
  ): Promise<RunnableConfig> {
    const threadId = threadIdOf(config);
    const ns = nsOf(config);
    const copy = copyCheckpoint(checkpoint);
    const [type, serialized] = await this.serde.dumpsTyped(copy);
    const [, serializedMetadata] = await this.serde.dumpsTyped(metadata);
    const parentId = getCheckpointId(config) || null;
    this.#write(
      () => {
        this.#sql.exec(
          "INSERT OR REPLACE INTO lg_checkpoints (thread_id, ns, id, parent_id, type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
          threadId,
          ns,
          checkpoint.id,
          parentId,
          type,
          toBlob(serialized),
          toBlob(serializedMetadata),
        );
        this.#checkpointWritten(threadId, ns);
      },
      latestKey(threadId, ns),
    );
    const saved = {
      configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: checkpoint.id },
    };
    const latest: CheckpointTuple = {
      config: saved,
      checkpoint: copy,
      metadata,
      pendingWrites: [],
    };
    if (parentId) {
      latest.parentConfig = {
        configurable: { thread_id: threadId, checkpoint_ns: ns, checkpoint_id: parentId },
      };
    }
    this.#latest.set(latestKey(threadId, ns), latest);
    return saved;
  }

  async putWrites(
    config: RunnableConfig,
    writes: PendingWrite[],
    taskId: string,
    taskPath?: string,
  ): Promise<void> {
    const threadId = threadIdOf(config);
    const ns = nsOf(config);
    const checkpointId = getCheckpointId(config);
    if (!checkpointId) throw new Error("putWrites needs a checkpoint_id in the config.");
    // Its pending writes change: read again from the tables next time.
    const key = latestKey(threadId, ns);
    const latest = this.#latest.get(key);
    if (latest === null || latest?.checkpoint.id === checkpointId) this.#latest.delete(key);
    for (const [index, [channel, value]] of writes.entries()) {
      const [type, serialized] = await this.serde.dumpsTyped(value);
      const idx = WRITES_IDX_MAP[channel] ?? index;
      // Regular writes are written once (a retried task must not duplicate them); special
      // channels (negative idx) are overwritten, as in MemorySaver.
      this.#write(
        () =>
          void this.#sql.exec(
            `INSERT OR ${idx >= 0 ? "IGNORE" : "REPLACE"} INTO lg_writes
              (thread_id, ns, checkpoint_id, task_id, idx, channel, type, value, task_path)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            threadId,
            ns,
            checkpointId,
            taskId,
            idx,
            channel,
            type,
            toBlob(serialized),
            taskPath ?? "",
          ),
        key,
      );
    }
  }

  async deleteThread(threadId: string): Promise<void> {
    // What is known of the thread in memory, in every namespace.
    const thread = latestKey(threadId, "");
    for (const known of [this.#latest, this.#sincePrune]) {
      for (const key of known.keys()) if (key.startsWith(thread)) known.delete(key);
    }
    this.#write(() => {
      this.#sql.exec("DELETE FROM lg_checkpoints WHERE thread_id = ?", threadId);
      this.#sql.exec("DELETE FROM lg_writes WHERE thread_id = ?", threadId);
    }, thread);
  }

  /**
   * Writes to the tables now or when the object's writes are released. One that fails then
   * also drops the thread's latest from memory: the next turn reads what the tables really hold.
   */
  #write(write: () => void, latest: string) {
    this.#held += 1;
    this.#writes.write(() => {
      this.#held -= 1;
      try {
        write();
      } catch (error) {
        this.#latest.delete(latest);
        throw error;
      }
    });
  }

  #flush() {
    if (this.#held > 0) this.#writes.flush();
  }

  async #toTuple(row: CheckpointRow): Promise<CheckpointTuple> {
    const writes = this.#sql
      .exec<WriteRow>(
        "SELECT task_id, idx, channel, type, value, task_path FROM lg_writes WHERE thread_id = ? AND ns = ? AND checkpoint_id = ?",
        row.thread_id,
        row.ns,
        row.id,
      )
      .toArray()
      .sort((a, b) =>
        compareWritesSortKeys(
          writesSortKey(a.task_path, a.task_id, a.idx),
          writesSortKey(b.task_path, b.task_id, b.idx),
        ),
      );
    const pendingWrites: CheckpointPendingWrite[] = [];
    for (const w of writes) {
      pendingWrites.push([
        w.task_id,
        w.channel,
        await this.serde.loadsTyped(w.type, fromBlob(w.value)),
      ]);
    }
    const tuple: CheckpointTuple = {
      config: {
        configurable: { thread_id: row.thread_id, checkpoint_ns: row.ns, checkpoint_id: row.id },
      },
      checkpoint: (await this.serde.loadsTyped(row.type, fromBlob(row.checkpoint))) as Checkpoint,
      metadata: (await this.serde.loadsTyped("json", fromBlob(row.metadata))) as CheckpointMetadata,
      pendingWrites,
    };
    if (row.parent_id) {
      tuple.parentConfig = {
        configurable: {
          thread_id: row.thread_id,
          checkpoint_ns: row.ns,
          checkpoint_id: row.parent_id,
        },
      };
    }
    return tuple;
  }

  /** Counts a checkpoint written, and prunes the thread's old ones every PRUNE_EVERY. */
  #checkpointWritten(threadId: string, ns: string) {
    const key = latestKey(threadId, ns);
    const since = this.#sincePrune.get(key);
    if (since !== undefined && since + 1 < PRUNE_EVERY) {
      this.#sincePrune.set(key, since + 1);
      return;
    }
    const stale = `SELECT id FROM lg_checkpoints WHERE thread_id = ? AND ns = ?
      ORDER BY id DESC LIMIT -1 OFFSET ?`;
    // The writes first: they are found through the checkpoints about to go.
    this.#sql.exec(
      `DELETE FROM lg_writes WHERE thread_id = ? AND ns = ? AND checkpoint_id IN (${stale})`,
      threadId,
      ns,
      threadId,
      ns,
      CHECKPOINTS_KEPT,
    );
    this.#sql.exec(
      `DELETE FROM lg_checkpoints WHERE thread_id = ? AND ns = ? AND id IN (${stale})`,
      threadId,
      ns,
      threadId,
      ns,
      CHECKPOINTS_KEPT,
    );
    this.#sincePrune.set(key, 0);
  }
}

function latestKey(threadId: string, ns: string): string {
  return `${threadId}\u0000${ns}`;
}

function threadIdOf(config: RunnableConfig): string {
  const threadId = config.configurable?.thread_id;
  if (typeof threadId !== "string" || threadId === "") {
    throw new Error("A checkpoint needs a string thread_id in the config.");
  }
  return threadId;
}

function nsOf(config: RunnableConfig): string {
  const ns = config.configurable?.checkpoint_ns;
  return typeof ns === "string" ? ns : "";
}

function toBlob(data: Uint8Array | string): ArrayBuffer {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return bytes.slice().buffer;
}

function fromBlob(data: ArrayBuffer): Uint8Array {
  return new Uint8Array(data);
}
