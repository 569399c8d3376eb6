import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SourceMapGenerator } from "source-map-js";
import { afterAll, describe, expect, it } from "vitest";
import type { CallFrame, CpuProfile } from "../../scripts/cpu-profile.ts";
import {
  annotateProfile,
  annotateWithMap,
  bundleModules,
  formatBreakdown,
  formatComparison,
  groupOf,
  nameFromSource,
  packageOf,
  type RawSourceMap,
  STAGES,
  stageOfStack,
  summarizeByPackageAndStage,
} from "../../scripts/profile-summary.ts";

// A tiny bundle as esbuild writes it under `wrangler dev`: a module comment before each module's
// code, and a map whose sources are relative to the bundle's folder (its sourceRoot).
const BUNDLE = [
  "// durable-objects/call-session.ts", // 0
  "  webSocketMessage(ws, data) {", // 1
  "  #onBinary(ws, a, data) {", // 2
  "// durable-objects/session-store.ts", // 3
  "  get session() {", // 4
  "// node_modules/@anthropic-ai/sdk/core/streaming.js", // 5
  "  async *iterator() {", // 6
  "// node_modules/drizzle-orm/entity.js", // 7
  "function is(value, type) {", // 8
  "var __name = (target, value) => target;", // 9: esbuild's helper, no source
  "// voice/deepgram/live-stt.ts", // 10
  "    sendAudio: (pcm) => {", // 11
];
const ROOT = "/app";
const SOURCE_ROOT = "/app/.wrangler/tmp/dev-abc";

function bundleMap() {
  const map = new SourceMapGenerator({ file: "index.js", sourceRoot: SOURCE_ROOT });
  const add = (line: number, column: number, source: string, original: [number, number]) =>
    map.addMapping({
      generated: { line: line + 1, column },
      original: { line: original[0] + 1, column: original[1] },
      source,
    });
  add(1, 2, "../../../durable-objects/call-session.ts", [182, 2]);
  add(2, 2, "../../../durable-objects/call-session.ts", [311, 2]);
  add(4, 2, "../../../durable-objects/session-store.ts", [57, 2]);
  add(6, 2, "../../../node_modules/@anthropic-ai/sdk/src/core/streaming.ts", [59, 2]);
  // drizzle-orm's own maps name `../src/…`, which lands outside the package.
  add(8, 0, "../../../node_modules/src/entity.ts", [11, 0]);
  add(11, 15, "../../../voice/deepgram/live-stt.ts", [1, 15]);
  map.setSourceContent(
    "../../../voice/deepgram/live-stt.ts",
    "  return {\n    sendAudio: (pcm) => {\n",
  );
  return JSON.parse(map.toString()) as RawSourceMap;
}

const frame = (functionName: string, url = "", lineNumber = -1, columnNumber = -1): CallFrame => ({
  functionName,
  url,
  lineNumber,
  columnNumber,
});

/** (root) › idle, program, GC; webSocketMessage › #onBinary › get session › get [native]; … */
function bundleProfile(): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 3, 4, 5, 10, 12, 14] },
      { id: 2, callFrame: frame("(idle)") },
      { id: 3, callFrame: frame("(program)") },
      { id: 4, callFrame: frame("(garbage collector)") },
      { id: 5, callFrame: frame("webSocketMessage", "index.js", 1, 2), children: [6] },
      { id: 6, callFrame: frame("#onBinary", "index.js", 2, 2), children: [7] },
      { id: 7, callFrame: frame("get session", "index.js", 4, 2), children: [8] },
      { id: 8, callFrame: frame("get") },
      { id: 10, callFrame: frame("iterator", "index.js", 6, 2), children: [11] },
      { id: 11, callFrame: frame("next") },
      { id: 12, callFrame: frame("is", "index.js", 8, 0), children: [13] },
      { id: 13, callFrame: frame("__name", "index.js", 9, 14) },
      { id: 14, callFrame: frame("", "index.js", 11, 15) },
    ],
    startTime: 0,
    endTime: 10_000,
    samples: [2, 8, 8, 3, 2, 11, 4, 8, 13, 14],
    timeDeltas: [0, 100, 200, 100, 5000, 100, 300, 100, 100, 100],
  };
}

describe("annotateWithMap", () => {
  const annotated = annotateWithMap(bundleProfile(), bundleMap(), `${SOURCE_ROOT}/index.js.map`, {
    bundle: BUNDLE.join("\n"),
  });
  const at = (id: number) => annotated.nodes.find((n) => n.id === id)?.callFrame;

  it("maps bundle frames to their sources, relative to the app's root, 0-based", () => {
    expect(at(5)).toMatchObject({
      functionName: "webSocketMessage",
      url: "durable-objects/call-session.ts",
      lineNumber: 182,
      columnNumber: 2,
    });
    expect(at(7)).toMatchObject({ url: "durable-objects/session-store.ts", lineNumber: 57 });
    expect(at(10)?.url).toBe("node_modules/@anthropic-ai/sdk/src/core/streaming.ts");
    expect(annotated.sourceMapped).toEqual({
      map: `${SOURCE_ROOT}/index.js.map`,
      root: ROOT,
      mapped: 6,
      unmapped: 1,
    });
  });

  it("leaves V8's entries, natives and code with no source as they were", () => {
    expect(at(3)).toEqual(frame("(program)"));
    expect(at(8)).toEqual(frame("get"));
    expect(at(13)).toEqual(frame("__name", "index.js", 9, 14));
  });

  it("puts a package's stray source back under the package the bundle says it is", () => {
    expect(at(12)?.url).toBe("node_modules/drizzle-orm/src/entity.ts");
  });

  it("names an anonymous function from its source", () => {
    expect(at(14)).toMatchObject({ functionName: "sendAudio", url: "voice/deepgram/live-stt.ts" });
  });

  it("does not change the profile it was given", () => {
    const profile = bundleProfile();
    annotateWithMap(profile, bundleMap(), `${SOURCE_ROOT}/index.js.map`);
    expect(profile).toEqual(bundleProfile());
  });
});

describe("annotateProfile", () => {
  const dir = mkdtempSync(join(tmpdir(), "profile-summary-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the map and the bundle from the bundle's folder", () => {
    writeFileSync(join(dir, "index.js.map"), JSON.stringify(bundleMap()));
    writeFileSync(join(dir, "index.js"), BUNDLE.join("\n"));
    const annotated = annotateProfile(bundleProfile(), dir);
    const urls = annotated.nodes.map((n) => n.callFrame.url);
    expect(urls).toContain("durable-objects/call-session.ts");
    expect(urls).toContain("node_modules/drizzle-orm/src/entity.ts");
  });
});

describe("source helpers", () => {
  it("names functions assigned, passed as arguments, or given to a generic constructor", () => {
    expect(nameFromSource(["  sendAudio: (pcm) => {"], 0, 13)).toBe("sendAudio");
    expect(nameFromSource(["  const onAbort = () => {"], 0, 18)).toBe("onAbort");
    expect(nameFromSource(['  ws.addEventListener("message", (event) => {'], 0, 33)).toBe(
      'addEventListener("message") callback',
    );
    expect(nameFromSource(['  const t = new Promise<"timeout">((resolve) => {'], 0, 35)).toBe(
      "Promise() callback",
    );
    expect(nameFromSource(["  return items.map(", "    (item) => item.id,"], 1, 4)).toBe(
      "map() callback",
    );
    expect(nameFromSource(["  if (x) {"], 0, 2)).toBeUndefined();
  });

  it("finds the bundle's module comments", () => {
    expect(bundleModules(BUNDLE.join("\n"))).toEqual([
      [0, "durable-objects/call-session.ts"],
      [3, "durable-objects/session-store.ts"],
      [5, "node_modules/@anthropic-ai/sdk/core/streaming.js"],
      [7, "node_modules/drizzle-orm/entity.js"],
      [10, "voice/deepgram/live-stt.ts"],
    ]);
  });

  it("names packages, scoped and nested", () => {
    expect(packageOf("node_modules/@langchain/core/dist/x.js")).toBe("@langchain/core");
    expect(packageOf("node_modules/wrangler/node_modules/unenv/x.mjs")).toBe("unenv");
    expect(packageOf("agent/graph.ts")).toBeUndefined();
  });
});

describe("groupOf", () => {
  it("tells packages, our folders and the runtime apart", () => {
    const g = (functionName: string, url: string) => groupOf({ functionName, url });
    expect(g("invoke", "node_modules/@langchain/core/src/runnables/base.ts")).toEqual({
      name: "@langchain/core",
      kind: "package",
    });
    expect(g("parse", "node_modules/zod/v4/core/schemas.js").name).toBe("zod");
    expect(g("modelNode", "agent/graph.ts")).toEqual({ name: "agent/", kind: "own" });
    expect(g("#onBinary", "durable-objects/call-session.ts").name).toBe("durable-objects/");
    expect(g("(garbage collector)", "")).toEqual({ name: "(garbage collector)", kind: "runtime" });
    expect(g("send", "").kind).toBe("runtime");
    expect(g("setTimeout", "node-internal:internal_timers").kind).toBe("runtime");
    expect(g("__name", "index.js").kind).toBe("other");
    expect(g("fetch", ".wrangler/tmp/bundle-x/middleware-loader.entry.ts").kind).toBe("other");
  });
});

describe("stageOfStack", () => {
  const own = (fn: string, url: string) => frame(fn, url, 10, 0);
  const pkg = (fn: string, name: string) => frame(fn, `node_modules/${name}/dist/x.js`, 10, 0);

  it("passes over helpers of ours to the nearest frame a rule names", () => {
    const stage = stageOfStack([
      frame("get"),
      own("get session", "durable-objects/session-store.ts"),
      own("#onBinary", "durable-objects/call-session.ts"),
      own("webSocketMessage", "durable-objects/call-session.ts"),
    ]);
    expect(stage.stage).toBe(STAGES.frame);
    expect(stage.by).toBe(
      "#onBinary (durable-objects/call-session.ts:11) › get session (session-store.ts) › get [native]",
    );
  });

  it("uses a fallback rule only when no other rule names a frame of the stack", () => {
    const log = own("write", "worker/log.ts");
    expect(stageOfStack([log]).stage).toBe(STAGES.turnEnd);
    expect(stageOfStack([log, own("check", "durable-objects/pin-sign-in.ts")]).stage).toBe(
      STAGES.callStart,
    );
  });

  it("charges a library's async step with no frame of ours by its package", () => {
    expect(stageOfStack([frame("next"), pkg("iterator", "@anthropic-ai/sdk")]).stage).toBe(
      STAGES.model,
    );
    expect(stageOfStack([pkg("parse", "zod"), pkg("tick", "@langchain/langgraph")])).toEqual({
      stage: STAGES.graph,
      by: "tick (@langchain/langgraph/dist/x.js:11)",
    });
    expect(stageOfStack([pkg("parse", "zod")]).stage).toBe(STAGES.library);
  });

  it("keeps V8's own time apart, and our unnamed code as other", () => {
    expect(stageOfStack([frame("(garbage collector)")]).stage).toBe("(garbage collector)");
    expect(stageOfStack([frame("(anonymous)")]).stage).toBe(STAGES.native);
    expect(stageOfStack([own("hashResumeToken", "durable-objects/session-store.ts")]).stage).toBe(
      STAGES.other,
    );
  });
});

describe("summarizeByPackageAndStage", () => {
  const profile = annotateWithMap(bundleProfile(), bundleMap(), `${SOURCE_ROOT}/index.js.map`, {
    bundle: BUNDLE.join("\n"),
  });
  const b = summarizeByPackageAndStage(profile, { frames: 9, turns: 2, calls: 1 });

  it("counts busy samples and estimates ms from the gap between consecutive busy ones", () => {
    expect(b.samples).toBe(10);
    expect(b.busySamples).toBe(8);
    // Busy after busy: 200, 100, 300, 100, 100, 100 µs → median 100.
    expect(b.busyIntervalUs).toBe(100);
    expect(b.estimatedBusyMs).toBeCloseTo(0.8);
    expect(b.busyMsPerTurn).toBeCloseTo(0.4);
    expect(b.sourceMapped).toBe(true);
  });

  it("groups self samples by package, folder or runtime bucket", () => {
    const row = (name: string) => b.packages.find((r) => r.name === name);
    expect(row("(native: V8 built-ins, workerd APIs)")?.samples).toBe(4);
    expect(row("(native: V8 built-ins, workerd APIs)")?.top[0]?.name).toBe(
      "get ← get session (durable-objects/session-store.ts:58)",
    );
    expect(row("(program)")?.pct).toBeCloseTo(12.5);
    expect(row("voice/")?.samples).toBe(1);
    expect(b.packages.reduce((n, r) => n + r.samples, 0)).toBe(8);
  });

  it("attributes samples to stages, in pipeline order, with ms per frame, turn and call", () => {
    expect(b.stages.map((r) => [r.name, r.samples])).toEqual([
      [STAGES.frame, 4],
      [STAGES.model, 1],
      [STAGES.database, 1],
      ["(program)", 1],
      ["(garbage collector)", 1],
    ]);
    const frameRow = b.stages[0];
    expect(frameRow?.unit).toBe("frame");
    expect(frameRow?.msPerUnit).toBeCloseTo((4 * 0.1) / 9);
    expect(b.stages[1]).toMatchObject({ unit: "turn", msPerUnit: 0.05 });
  });

  it("formats tables and a side-by-side comparison", () => {
    const text = formatBreakdown(b);
    expect(text).toContain("| stage | samples | % busy | est. ms | per unit |");
    expect(text).toContain("| frame: caller audio in | 4 | 50.0 | 0.4 | 0.044 ms/frame |");
    expect(text).toContain("× 100 µs");
    const plain = formatBreakdown(b, { markdown: false, top: 0 });
    expect(plain).not.toContain("|");
    const compared = formatComparison([
      { label: "before", breakdown: b },
      { label: "after", breakdown: summarizeByPackageAndStage(profile) },
    ]);
    expect(compared).toContain("| stage | before | after |");
    expect(compared).toContain("50.0% · 0 ms · 0.044 ms/frame | 50.0% · 0 ms |");
  });
});
