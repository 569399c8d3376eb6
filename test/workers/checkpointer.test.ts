import "../../agent/runtime.ts";
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Annotation, START, StateGraph } from "@langchain/langgraph";
import { describe, expect, it } from "vitest";
import {
  CHECKPOINTS_KEPT,
  DurableObjectSqliteSaver,
  PRUNE_EVERY,
} from "../../agent/checkpointer.ts";
import { SessionStore } from "../../durable-objects/session-store.ts";
import { WriteBehind } from "../../durable-objects/write-behind.ts";

const State = Annotation.Root({
  said: Annotation<string[]>({ reducer: (a, b) => a.concat(b), default: () => [] }),
});

function echoGraph(saver: DurableObjectSqliteSaver) {
  return new StateGraph(State)
    .addNode("echo", (state: typeof State.State) => ({ said: [`echo ${state.said.length}`] }))
    .addEdge(START, "echo")
    .compile({ checkpointer: saver });
}

/** The object's real KV storage, with some of its methods replaced (counted, or failing). */
function kvWith(kv: SyncKvStorage, replaced: Partial<SyncKvStorage>): SyncKvStorage {
  return {
    ...kv,
    get: kv.get.bind(kv),
    put: kv.put.bind(kv),
    delete: kv.delete.bind(kv),
    list: kv.list.bind(kv),
    ...replaced,
  } as SyncKvStorage;
}

/** A Durable Object of our own, used only for its SQLite storage. */
function freshObject() {
  return env.CALL_SESSION.get(env.CALL_SESSION.idFromName(`checkpointer-${crypto.randomUUID()}`));
}

describe("DurableObjectSqliteSaver", () => {
  it("while writes are held: the tables are untouched, the latest state is read from memory, a read from the tables writes first", async () => {
    await runInDurableObject(freshObject(), async (_instance, state) => {
      const writes = new WriteBehind((error) => {
        throw error;
      });
      const saver = new DurableObjectSqliteSaver(state.storage.sql, writes);
      const config = { configurable: { thread_id: "held" } };
      const rows = () =>
        state.storage.sql.exec("SELECT count(*) AS n FROM lg_checkpoints").one().n as number;
      await echoGraph(saver).invoke({ said: ["first"] }, config);
      const before = rows();
      const release = writes.hold();
      const result = await echoGraph(saver).invoke({ said: ["second"] }, config);
      expect(result.said).toEqual(["first", "echo 1", "second", "echo 3"]);
      expect(rows()).toBe(before);
      // The next turn starts from memory, without writing what is held.
      expect((await saver.getTuple(config))?.checkpoint.channel_values).toMatchObject({
        said: ["first", "echo 1", "second", "echo 3"],
      });
      expect(rows()).toBe(before);
      // Listing reads the tables: what is held is written first.
      const listed = [];
      for await (const tuple of saver.list(config)) listed.push(tuple);
      expect(rows()).toBeGreaterThan(before);
      expect(listed[0]?.checkpoint.channel_values).toMatchObject({
        said: ["first", "echo 1", "second", "echo 3"],
      });
      release();
      // A new saver (a woken object) finds it all in the tables.
      const again = await echoGraph(new DurableObjectSqliteSaver(state.storage.sql)).invoke(
        { said: ["third"] },
        config,
      );
      expect(again.said).toHaveLength(6);
    });
  });

  it("SessionStore: a held value is read back before it is stored, and stored on release", async () => {
    await runInDurableObject(freshObject(), async (_instance, state) => {
      const writes = new WriteBehind((error) => {
        throw error;
      });
      const store = new SessionStore(state.storage.kv, writes);
      expect(store.nextTurnSeq(1)).toBe(1);
      const release = writes.hold();
      expect(store.nextTurnSeq(1)).toBe(2);
      store.turnInFlight = { turnId: "t2", texts: ["hello"], at: 1 };
      store.appendTranscript({ id: "e1", role: "user", text: "hello", at: 1 });
      expect(store.nextTurnSeq(1)).toBe(3);
      expect(store.turnInFlight?.turnId).toBe("t2");
      expect(state.storage.kv.get("turnSeq")).toBe(1);
      expect(state.storage.kv.get("turnInFlight")).toBeUndefined();
      release();
      expect(state.storage.kv.get("turnSeq")).toBe(3);
      expect(state.storage.kv.get("turnInFlight")).toMatchObject({ turnId: "t2" });
      expect(store.transcript.map((e) => e.text)).toEqual(["hello"]);
      // Cleared while held: read as gone at once, deleted on release.
      const again = writes.hold();
      store.turnInFlight = undefined;
      expect(store.turnInFlight).toBeUndefined();
      expect(state.storage.kv.get("turnInFlight")).toBeDefined();
      again();
      expect(state.storage.kv.get("turnInFlight")).toBeUndefined();
    });
  });

  it("SessionStore: a value read once is kept, frozen, until written; a failed write leaves storage's", async () => {
    await runInDurableObject(freshObject(), async (_instance, state) => {
      const failures: unknown[] = [];
      const writes = new WriteBehind((error) => failures.push(error));
      const store = new SessionStore(state.storage.kv, writes);
      const record = {
        sessionId: "s1",
        user: { id: "u1", name: "Alice", timezone: "UTC", teams: [] },
        signedInAt: 1,
        resumeTokenHash: "aa",
        disconnectedAt: null,
      };
      store.saveSession(record);
      const first = store.session;
      expect(first).toEqual(record);
      // Kept: the same object, not deserialised again; shared, so frozen all the way down.
      expect(store.session).toBe(first);
      expect(Object.isFrozen(first?.user)).toBe(true);
      // Written behind the store's back (never in the product): the kept copy still answers.
      state.storage.kv.put("session", { ...record, sessionId: "elsewhere" });
      expect(store.session?.sessionId).toBe("s1");
      // Written through the store: kept as written, frozen, not read back from storage.
      store.saveSession({ ...record, disconnectedAt: 5 });
      expect(store.session?.disconnectedAt).toBe(5);
      expect(Object.isFrozen(store.session?.user)).toBe(true);
      let reads = 0;
      const counted = new SessionStore(
        kvWith(state.storage.kv, {
          get: (key: string) => {
            reads += 1;
            return state.storage.kv.get(key);
          },
        }),
        writes,
      );
      expect(counted.nextTurnSeq(1)).toBe(1);
      expect(counted.nextTurnSeq(1)).toBe(2);
      counted.turnInFlight = { turnId: "t2", texts: ["hi"], at: 1 };
      expect(counted.turnInFlight?.turnId).toBe("t2");
      expect(reads).toBe(1);
      expect(state.storage.kv.get("turnSeq")).toBe(2);
      // A held write that fails: storage's value is what is read, not the lost one.
      const release = writes.hold();
      const kv = state.storage.kv;
      const failing = new SessionStore(
        kvWith(kv, {
          put: () => {
            throw new Error("disk full");
          },
        }),
        writes,
      );
      expect(failing.session?.disconnectedAt).toBe(5);
      failing.saveSession({ ...record, disconnectedAt: 9 });
      expect(failing.session?.disconnectedAt).toBe(9);
      release();
      expect(failures).toHaveLength(1);
      expect(failing.session?.disconnectedAt).toBe(5);
    });
  });

  it("keeps a thread's state across runs and across saver instances", async () => {
    await runInDurableObject(freshObject(), async (_instance, state) => {
      const config = { configurable: { thread_id: "t1" } };
      await echoGraph(new DurableObjectSqliteSaver(state.storage.sql)).invoke(
        { said: ["hi"] },
        config,
      );
      // A new saver on the same storage: what a woken or re-created object sees.
      const again = echoGraph(new DurableObjectSqliteSaver(state.storage.sql));
      const result = await again.invoke({ said: ["again"] }, config);
      expect(result.said).toEqual(["hi", "echo 1", "again", "echo 3"]);
      // Threads are separate.
      const other = await again.invoke({ said: ["x"] }, { configurable: { thread_id: "t2" } });
      expect(other.said).toEqual(["x", "echo 1"]);
    });
  });

  it("lists newest first, honours limit and before, and prunes old checkpoints", async () => {
    await runInDurableObject(freshObject(), async (_instance, state) => {
      const saver = new DurableObjectSqliteSaver(state.storage.sql);
      const graph = echoGraph(saver);
      const config = { configurable: { thread_id: "t" } };
      const rows = () =>
        state.storage.sql.exec("SELECT count(*) AS n FROM lg_checkpoints").one().n as number;
      const first = [];
      let most = 0;
      for (let i = 0; i < 12; i++) {
        await graph.invoke({ said: [`m${i}`] }, config);
        if (i === 0) for await (const tuple of saver.list(config)) first.push(tuple.checkpoint.id);
        most = Math.max(most, rows());
      }
      // Pruned every PRUNE_EVERY checkpoints, down to CHECKPOINTS_KEPT: the oldest are gone.
      expect(most).toBeGreaterThan(CHECKPOINTS_KEPT);
      expect(most).toBeLessThan(CHECKPOINTS_KEPT + PRUNE_EVERY);
      const all = [];
      for await (const tuple of saver.list(config)) all.push(tuple);
      expect(all.length).toBeGreaterThanOrEqual(CHECKPOINTS_KEPT);
      for (const id of first) expect(all.map((t) => t.checkpoint.id)).not.toContain(id);
      // The pruned checkpoints' writes went with them; the kept ones' stayed.
      const writesOf = (sql: string) => state.storage.sql.exec(sql).one().n as number;
      expect(
        writesOf(
          "SELECT count(*) AS n FROM lg_writes WHERE checkpoint_id NOT IN (SELECT id FROM lg_checkpoints)",
        ),
      ).toBe(0);
      expect(writesOf("SELECT count(*) AS n FROM lg_writes")).toBeGreaterThan(0);
      const ids = all.map((t) => t.checkpoint.id);
      expect([...ids].sort().reverse()).toEqual(ids);
      const limited = [];
      for await (const tuple of saver.list(config, { limit: 2, before: all[0]?.config }))
        limited.push(tuple);
      expect(limited.map((t) => t.checkpoint.id)).toEqual(ids.slice(1, 3));
      const latest = await saver.getTuple(config);
      expect(latest?.checkpoint.id).toBe(ids[0]);
      expect(latest?.parentConfig?.configurable?.checkpoint_id).toBe(ids[1]);
      // A woken object's saver prunes at its first checkpoint, whatever its last life left.
      if (rows() === CHECKPOINTS_KEPT) await graph.invoke({ said: ["one more"] }, config);
      expect(rows()).toBeGreaterThan(CHECKPOINTS_KEPT);
      const woken = new DurableObjectSqliteSaver(state.storage.sql);
      await echoGraph(woken).invoke({ said: ["woken"] }, config);
      expect(rows()).toBeLessThan(CHECKPOINTS_KEPT + 3);
      await saver.deleteThread("t");
      expect(await saver.getTuple(config)).toBeUndefined();
    });
  });

  it("hands out the latest checkpoint from memory exactly as the tables hold it", async () => {
    await runInDurableObject(freshObject(), async (_instance, state) => {
      const saver = new DurableObjectSqliteSaver(state.storage.sql);
      const graph = echoGraph(saver);
      const config = { configurable: { thread_id: "m" } };
      for (let i = 0; i < 3; i++) await graph.invoke({ said: [`m${i}`] }, config);
      await graph.updateState(config, { said: ["note"] });
      const fromMemory = await saver.getTuple(config);
      const fromTables = await new DurableObjectSqliteSaver(state.storage.sql).getTuple(config);
      expect(fromMemory).toEqual(fromTables);
      expect(fromMemory?.checkpoint.channel_values.said).toEqual([
        "m0",
        "echo 1",
        "m1",
        "echo 3",
        "m2",
        "echo 5",
        "note",
      ]);
      // A run changes neither copy it was given: the next read is the same again.
      await graph.invoke({ said: ["m3"] }, config);
      expect(await saver.getTuple(config)).toEqual(
        await new DurableObjectSqliteSaver(state.storage.sql).getTuple(config),
      );
    });
  });

  it("a thread with no checkpoint yet reads as none until its first is written, then as that one", async () => {
    await runInDurableObject(freshObject(), async (_instance, state) => {
      const saver = new DurableObjectSqliteSaver(state.storage.sql);
      const config = { configurable: { thread_id: "new" } };
      expect(await saver.getTuple(config)).toBeUndefined();
      expect(await saver.getTuple(config)).toBeUndefined();
      const result = await echoGraph(saver).invoke({ said: ["hello"] }, config);
      expect(result.said).toEqual(["hello", "echo 1"]);
      const fromMemory = await saver.getTuple(config);
      expect(fromMemory?.checkpoint.channel_values.said).toEqual(["hello", "echo 1"]);
      expect(fromMemory).toEqual(
        await new DurableObjectSqliteSaver(state.storage.sql).getTuple(config),
      );
      // A thread deleted and begun again: none, then its new first checkpoint.
      await saver.deleteThread("new");
      expect(await saver.getTuple(config)).toBeUndefined();
      await echoGraph(saver).invoke({ said: ["again"] }, config);
      expect((await saver.getTuple(config))?.checkpoint.channel_values.said).toEqual([
        "again",
        "echo 1",
      ]);
    });
  });

  it("refuses a config without a thread id", async () => {
    await runInDurableObject(freshObject(), async (_instance, state) => {
      const saver = new DurableObjectSqliteSaver(state.storage.sql);
      await expect(echoGraph(saver).invoke({ said: [] }, {})).rejects.toThrow(/thread_id/);
    });
  });
});
