/**
 * A CPU profile of the Worker (scripts/cpu-profile.ts) summarised by npm package and by stage of
 * the voice pipeline, for before/after comparisons (docs/benchmarks.md).
 *
 * Source maps. Under `wrangler dev` the Worker runs as one esbuild bundle
 * (`.wrangler/tmp/dev-XXXX/index.js`, which the profile calls `index.js`) with its map next to it,
 * and that folder is deleted when the app stops. So a profile is source-mapped while the app
 * still runs — `startSourceMappedProfile(appPort)`, or `locateBundleMap(appPort)` then
 * `annotateProfile(profile, map)` — and the saved `.cpuprofile` stands on its own: every frame of
 * the bundle has its original file (`agent/graph.ts`, `node_modules/@langchain/core/src/…`),
 * line and column. A saver may add `counts` ({turns, frames, calls}) for ms per unit.
 *
 * By package: each busy sample's leaf (self time) by npm package, folder of ours, or runtime
 * bucket (`(program)`, `(garbage collector)`, natives: V8 built-ins and workerd's APIs).
 * By stage: walking up from the leaf, the first frame of ours that STAGE_RULES names decides;
 * a stack with no frame of ours (a library's own async step) goes by PACKAGE_STAGES.
 *
 * Samples are counted, not weighted by `timeDeltas` (see summarizeProfile in cpu-profile.ts).
 * Estimated ms = busy samples × the median gap between two consecutive busy samples
 * (`busyIntervalUs`, ~185 µs at a requested 100 µs under load): JavaScript time while sampled,
 * which slows the Worker. It leaves out workerd's own C++ work outside the isolate.
 *
 *   node scripts/profile-summary.ts FILE.cpuprofile [FILE2 …] [--turns N --frames N --calls N]
 *   node scripts/profile-summary.ts --capture APP_PORT --seconds 20 --out FILE.cpuprofile
 *   (--help for the rest)
 */
import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SourceMapConsumer } from "source-map-js";
import { findAppProcesses } from "./app-cpu.ts";
import type { Timeline } from "./bench-voice/runs.ts";
import { cropProfile, turnWindowUs } from "./bench-voice/turn-window.ts";
import {
  type CallFrame,
  type CpuProfile,
  openInspector,
  type ProfileNode,
  type RunningProfile,
  startCpuProfile,
} from "./cpu-profile.ts";

// ---- source mapping -------------------------------------------------------------------------

/** A profile whose bundle frames were mapped back to their sources (`annotateProfile`). */
export interface SourceMappedProfile extends CpuProfile {
  sourceMapped?: {
    /** The source map used (gone once the app stopped). */
    map: string;
    /** Frames' urls are relative to this folder (the app's root). */
    root: string;
    /** Bundle frames mapped, and those the map had no position for (left as they were). */
    mapped: number;
    unmapped: number;
  };
  /** What happened while it was taken, if the one who saved it said: ms per unit defaults to these. */
  counts?: { turns?: number; frames?: number; calls?: number };
}

/** A source map as its JSON has it (esbuild's: sources relative to `sourceRoot`). */
export interface RawSourceMap {
  sources: (string | null)[];
  sourceRoot?: string;
  file?: string;
  mappings: string;
  names?: string[];
  sourcesContent?: (string | null)[];
}

/**
 * Rewrites every callFrame of the bundle (url `index.js`, or the map's `file`) to its original
 * source: url relative to the app's root (`agent/graph.ts`, `node_modules/zod/…`), 0-based line
 * and column there. Frames with no url (V8's `(program)`, natives) or another url (`node:…`
 * built-ins of workerd) stay as they are; so do the bundle's own helpers that have no source
 * (esbuild's `__name`). Returns a new profile; the input is not changed.
 *
 * `bundleDirOrMap` is the bundle's folder (`.wrangler/tmp/dev-XXXX`) or its `.map` file. When the
 * bundle itself is next to the map, its `// node_modules/pkg/file.js` module comments correct
 * packages whose own source maps point outside the package (drizzle-orm's name `../src/…`).
 * `root` defaults to the folder that holds `.wrangler`.
 */
export function annotateProfile(
  profile: CpuProfile,
  bundleDirOrMap: string,
  options: { root?: string; bundleUrl?: string } = {},
): SourceMappedProfile {
  const mapPath = statSync(bundleDirOrMap).isDirectory()
    ? join(bundleDirOrMap, "index.js.map")
    : bundleDirOrMap;
  const raw = JSON.parse(readFileSync(mapPath, "utf8")) as RawSourceMap;
  const bundlePath = mapPath.replace(/\.map$/, "");
  const bundle = existsSync(bundlePath) ? readFileSync(bundlePath, "utf8") : undefined;
  return annotateWithMap(profile, raw, mapPath, { ...options, ...(bundle ? { bundle } : {}) });
}

/** `annotateProfile` with the map (and optionally the bundle's text) already read. */
export function annotateWithMap(
  profile: CpuProfile,
  raw: RawSourceMap,
  mapPath: string,
  options: { root?: string; bundleUrl?: string; bundle?: string } = {},
): SourceMappedProfile {
  const consumer = new SourceMapConsumer({
    version: 3,
    sources: raw.sources.map((source) => source ?? ""),
    mappings: raw.mappings,
    ...(raw.names ? { names: raw.names } : {}),
    ...(raw.sourcesContent ? { sourcesContent: raw.sourcesContent } : {}),
    ...(raw.file ? { file: raw.file } : {}),
  });
  const sourceRoot = raw.sourceRoot ? resolve(dirname(mapPath), raw.sourceRoot) : dirname(mapPath);
  const root = options.root ?? appRootOf(sourceRoot);
  const bundleUrl = options.bundleUrl ?? raw.file ?? basename(mapPath).replace(/\.map$/, "");
  const isBundle = (url: string) =>
    url === bundleUrl || url.endsWith(`/${bundleUrl}`) || url === `file://${mapPath.slice(0, -4)}`;
  const modules = options.bundle ? bundleModules(options.bundle) : [];
  // The sources' text only names anonymous functions: split a source into lines when asked.
  const sourceLines = new Map<string, string[] | undefined>();
  const linesOf = (source: string): string[] | undefined => {
    if (!sourceLines.has(source)) {
      sourceLines.set(source, consumer.sourceContentFor(source, true)?.split("\n") ?? undefined);
    }
    return sourceLines.get(source);
  };
  const sourceUrl = new Map<string, string>();
  const urlOf = (source: string): string => {
    let url = sourceUrl.get(source);
    if (url === undefined) {
      url = sourcePath(source, sourceRoot, root);
      sourceUrl.set(source, url);
    }
    return url;
  };
  let mapped = 0;
  let unmapped = 0;
  const nodes = profile.nodes.map((node): ProfileNode => {
    const frame = node.callFrame;
    if (!frame.url || !isBundle(frame.url) || frame.lineNumber < 0) return node;
    const needle = { line: frame.lineNumber + 1, column: Math.max(0, frame.columnNumber ?? 0) };
    // The mapping at or before the function's start on its line; else the line's next one.
    let position = consumer.originalPositionFor(needle);
    if (position.source === null) {
      position = consumer.originalPositionFor({
        ...needle,
        bias: SourceMapConsumer.LEAST_UPPER_BOUND,
      });
    }
    const { source, line, column } = position;
    if (source === null || line === null || column === null) {
      unmapped += 1;
      return node;
    }
    mapped += 1;
    const text = frame.functionName ? undefined : linesOf(source);
    const inferred = text ? nameFromSource(text, line - 1, column) : undefined;
    const callFrame: CallFrame = {
      ...frame,
      ...(inferred ? { functionName: inferred } : {}),
      url: withinPackage(urlOf(source), moduleAt(modules, frame.lineNumber)),
      lineNumber: line - 1,
      columnNumber: column,
    };
    return { ...node, callFrame };
  });
  return { ...profile, nodes, sourceMapped: { map: mapPath, root, mapped, unmapped } };
}

/** A source of the map as a path relative to the app's root; a package's from `node_modules/`. */
function sourcePath(source: string, sourceRoot: string, root: string): string {
  // Virtual modules (`node-built-in-modules:crypto`) keep their name.
  if (/^[a-z][a-z0-9+.-]*:/i.test(source) && !isAbsolute(source)) return source;
  const absolute = resolve(sourceRoot, source).split(sep).join("/");
  // A package wherever it is installed (node_modules may be a link to another checkout).
  const modules = absolute.indexOf("/node_modules/");
  if (modules >= 0) return absolute.slice(modules + 1);
  const rel = relative(root, absolute);
  return rel.startsWith("..") || isAbsolute(rel) ? absolute : rel.split(sep).join("/");
}

/** The bundle's module comments (`// node_modules/drizzle-orm/entity.js`): [line, path], in order. */
export function bundleModules(bundle: string): [number, string][] {
  const found: [number, string][] = [];
  let line = 0;
  let at = 0;
  while (at < bundle.length) {
    const end = bundle.indexOf("\n", at);
    const next = end < 0 ? bundle.length : end;
    if (bundle.startsWith("// ", at)) {
      const text = bundle.slice(at + 3, next).trim();
      if (!/\s/.test(text) && /\.[cm]?[jt]sx?$/.test(text)) found.push([line, text]);
    }
    line += 1;
    at = next + 1;
  }
  return found;
}

function moduleAt(modules: [number, string][], line: number): string | undefined {
  let lo = 0;
  let hi = modules.length - 1;
  let best: string | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const entry = modules[mid] as [number, string];
    if (entry[0] <= line) {
      best = entry[1];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** The package of a `…/node_modules/pkg/…` path, scoped or not. */
export function packageOf(path: string): string | undefined {
  const at = path.lastIndexOf("node_modules/");
  if (at < 0) return undefined;
  const parts = path.slice(at + "node_modules/".length).split("/");
  return parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

/**
 * A package's source map may only name files of that package: a mapped path outside it (or in
 * a "package" that is really a folder of its sources, `node_modules/src/…`) is put back under
 * the package the bundle says the code came from.
 */
function withinPackage(url: string, module: string | undefined): string {
  const owner = module ? packageOf(module) : undefined;
  if (!owner || packageOf(url) === owner) return url;
  const at = url.lastIndexOf("node_modules/");
  const rest =
    at >= 0 ? url.slice(at + "node_modules/".length) : url.split("/").slice(-2).join("/");
  return `node_modules/${owner}/${rest}`;
}

/**
 * A name for an anonymous function from the source text before it: `sendAudio` for
 * `sendAudio: (pcm) => …` or `const sendAudio = …`, `addEventListener("message") callback` for
 * a function passed as an argument. V8 leaves arrow functions in object literals unnamed.
 */
export function nameFromSource(lines: string[], line: number, column: number): string | undefined {
  const current = (lines[line] ?? "").slice(0, column);
  const before = current.trim() ? current : `${lines[line - 1] ?? ""} ${current}`;
  const text = before.replace(/\s+$/, "");
  const assigned = /(#?[\w$]+)\s*(?::|=|\?\?=|\|\|=)\s*(?:async\s*)?(?:function\s*\*?\s*)?$/.exec(
    text,
  );
  if (assigned?.[1]) return assigned[1];
  const argument =
    /([\w$]+)(?:<[^()]*>)?\(\s*(?:(["'`])([^"'`]*)\2\s*,)?[^()]*?(?:async\s*)?(?:function\s*\*?\s*)?$/.exec(
      text,
    );
  if (argument?.[1] && !/^(if|for|while|switch|catch|return)$/.test(argument[1])) {
    return `${argument[1]}(${argument[3] === undefined ? "" : JSON.stringify(argument[3])}) callback`;
  }
  return undefined;
}

/** The folder that holds `.wrangler/` (the app's root), or the folder itself. */
function appRootOf(folder: string): string {
  const at = folder.split(sep).lastIndexOf(".wrangler");
  return at > 0 ? folder.split(sep).slice(0, at).join(sep) : folder;
}

/**
 * The source map of the bundle that the app answering on `appPort` runs: its workerd's working
 * folder holds `.wrangler/tmp/dev-XXXX/index.js(.map)`. Apps started from the same folder each
 * have one (and a killed app leaves its own behind); then the script in the isolate says which
 * (wrangler appends `//# sourceURL=file:///…/dev-XXXX/index.js` to it).
 */
export async function locateBundleMap(appPort: number): Promise<string> {
  const processes = findAppProcesses(appPort);
  const cwd = readlinkSync(`/proc/${processes.workerd}/cwd`);
  const tmp = join(cwd, ".wrangler", "tmp");
  const candidates = (existsSync(tmp) ? readdirSync(tmp) : [])
    .filter((name) => name.startsWith("dev-"))
    .map((name) => join(tmp, name, "index.js"))
    .filter((file) => existsSync(file) && existsSync(`${file}.map`));
  if (candidates.length === 0) throw new Error(`no .wrangler/tmp/dev-*/index.js.map in ${cwd}`);
  if (candidates.length === 1) return `${candidates[0]}.map`;
  const loaded = await inspectorScript(processes.inspectorPort, "index.js");
  const named = /\/\/# sourceURL=(\S+)\s*$/.exec(loaded)?.[1];
  if (named) {
    const file = named.startsWith("file://") ? fileURLToPath(named) : named;
    if (existsSync(`${file}.map`)) return `${file}.map`;
  }
  const match = candidates.find((file) => loaded.startsWith(readFileSync(file, "utf8")));
  if (!match) throw new Error(`none of ${candidates.join(", ")} is the script workerd runs`);
  return `${match}.map`;
}

/** The text of the script named `url` in the isolate, through the DevTools `Debugger` domain. */
async function inspectorScript(inspectorPort: number, url: string): Promise<string> {
  const scripts: string[] = [];
  const inspector = await openInspector(inspectorPort, (method, params) => {
    if (method !== "Debugger.scriptParsed") return;
    const parsed = params as { scriptId: string; url: string };
    if (parsed.url === url || parsed.url.endsWith(`/${url}`)) scripts.push(parsed.scriptId);
  });
  try {
    // Replays scriptParsed for every script already loaded.
    await inspector.call("Debugger.enable");
    const scriptId = scripts.at(-1);
    if (!scriptId) throw new Error(`the isolate has no script ${url}`);
    const { scriptSource } = (await inspector.call("Debugger.getScriptSource", { scriptId })) as {
      scriptSource: string;
    };
    await inspector.call("Debugger.disable");
    return scriptSource;
  } finally {
    inspector.close();
  }
}

/**
 * A CPU profile of the app answering on `appPort`, source-mapped when stopped (while the app
 * still runs): what a benchmark saves. `intervalUs` as in startCpuProfile.
 */
export async function startSourceMappedProfile(
  appPort: number,
  intervalUs = 100,
): Promise<{ stop(): Promise<SourceMappedProfile> }> {
  const map = await locateBundleMap(appPort);
  const running: RunningProfile = await startCpuProfile(
    findAppProcesses(appPort).inspectorPort,
    intervalUs,
  );
  return { stop: async () => annotateProfile(await running.stop(), map) };
}

// ---- grouping -------------------------------------------------------------------------------

/** Our own code, by top folder. */
export const OWN_FOLDERS = [
  "agent",
  "durable-objects",
  "voice",
  "worker",
  "protocol",
  "transfer",
] as const;

export type GroupKind = "own" | "package" | "runtime" | "other";

export interface FrameGroup {
  /** `@langchain/core`, `agent/`, `(garbage collector)`, … */
  name: string;
  kind: GroupKind;
}

export const NATIVE = "(native: V8 built-ins, workerd APIs)";
const V8_ENTRIES = new Set(["(garbage collector)", "(program)", "(idle)", "(root)"]);

/** What a frame belongs to: an npm package, a folder of ours, or the runtime. */
export function groupOf(
  frame: Pick<CallFrame, "functionName" | "url">,
  ownFolders: readonly string[] = OWN_FOLDERS,
): FrameGroup {
  const url = frame.url;
  if (!url) {
    if (V8_ENTRIES.has(frame.functionName)) return { name: frame.functionName, kind: "runtime" };
    return { name: NATIVE, kind: "runtime" };
  }
  const path = url.replace(/^file:\/\//, "");
  const pkg = packageOf(path);
  if (pkg) return { name: pkg, kind: "package" };
  if (
    /^(node|node-internal|node-built-in-modules|cloudflare|cloudflare-internal|workerd):/.test(path)
  )
    return { name: "(workerd built-ins: node:, cloudflare:)", kind: "runtime" };
  const top = path.split("/")[0] ?? "";
  if (path.includes("/") && ownFolders.includes(top)) return { name: `${top}/`, kind: "own" };
  if (path === "index.js" || path.endsWith("/index.js"))
    return { name: "(bundle: no source position, e.g. esbuild's __name)", kind: "other" };
  if (path.includes(".wrangler/") || path.startsWith("__mf_"))
    return { name: "wrangler/miniflare (local dev glue)", kind: "other" };
  return { name: `(other: ${top || path})`, kind: "other" };
}

// ---- stages ---------------------------------------------------------------------------------

/** Our frames in `file` (and, if given, function `fn`) belong to `stage`. */
export interface StageRule {
  stage: string;
  file: RegExp;
  fn?: RegExp;
  /** Decides only when no other rule names any frame of ours on the stack (e.g. logging). */
  fallback?: boolean;
}

export const STAGES = {
  frame: "frame: caller audio in",
  stt: "stt events",
  turnStart: "turn start → model request",
  graph: "LangGraph/LangChain steps (no frame of ours)",
  model: "model request + stream",
  speech: "speech: reply out",
  turnEnd: "turn end bookkeeping",
  database: "database driver (no frame of ours)",
  callStart: "call start + sign-in",
  other: "other (our code)",
  library: "other libraries (no frame of ours)",
  native: "(native, no JS caller)",
} as const;

/** The order stages are listed in: along the pipeline, then what is not ours. */
export const STAGE_ORDER: readonly string[] = [
  STAGES.frame,
  STAGES.stt,
  STAGES.turnStart,
  STAGES.graph,
  STAGES.model,
  STAGES.speech,
  STAGES.turnEnd,
  STAGES.database,
  STAGES.callStart,
  STAGES.other,
  STAGES.library,
  STAGES.native,
  "(program)",
  "(garbage collector)",
];

export type StageUnit = "frame" | "turn" | "call";

/** What a stage is counted per (`msPerUnit`); a stage not listed is per turn. */
export const STAGE_UNITS: Record<string, StageUnit> = {
  [STAGES.frame]: "frame",
  [STAGES.callStart]: "call",
};

const CALL_SESSION = /^durable-objects\/call-session\.ts$/;
const VOICE_SESSION = /^durable-objects\/voice-session\.ts$/;

/**
 * The voice pipeline's stages, by our files and functions. Walking up a sample's stack from the
 * leaf, the first frame of ours that a rule names decides (the first rule naming it); frames of
 * ours that no rule names (helpers: session-store.ts, deadline.ts) are passed over, so a storage
 * read counts where it is read from.
 */
export const STAGE_RULES: StageRule[] = [
  // The caller's audio in: a binary WebSocket message, relayed to Deepgram.
  { stage: STAGES.frame, file: CALL_SESSION, fn: /onBinary/ },
  { stage: STAGES.frame, file: VOICE_SESSION, fn: /^acceptAudio$/ },
  { stage: STAGES.frame, file: /^voice\/stt-link\.ts$/, fn: /^(send|#sendFrame|#checkAnswered)$/ },
  { stage: STAGES.frame, file: /^voice\/deepgram\/live-stt\.ts$/, fn: /^sendAudio$/ },
  { stage: STAGES.frame, file: /^voice\/unheard-audio\.ts$/ },
  { stage: STAGES.frame, file: /^protocol\/audio-frame\.ts$/, fn: /^decode/ },
  // Deepgram's transcripts and events in.
  { stage: STAGES.stt, file: /^voice\/deepgram\/live-stt\.ts$/ },
  { stage: STAGES.stt, file: /^voice\/stt-link\.ts$/ },
  {
    stage: STAGES.stt,
    file: VOICE_SESSION,
    fn: /onStt|BargeIn|Backchannel|isListening|Draft|hearing/i,
  },
  { stage: STAGES.stt, file: CALL_SESSION, fn: /^#activity$/ },
  // Assistant speech out: sentences to Aura, its audio to the caller.
  { stage: STAGES.speech, file: /^voice\/(speech-output|sentence-chunker|held-output)\.ts$/ },
  { stage: STAGES.speech, file: /^voice\/deepgram\/aura-(socket|tts)\.ts$/ },
  { stage: STAGES.speech, file: /^voice\/apology-clip\.ts$/ },
  {
    stage: STAGES.speech,
    file: /^durable-objects\/voice-turn\.ts$/,
    fn: /^(write|end|stop|cleared|aside)$/,
  },
  { stage: STAGES.speech, file: /^durable-objects\/session-sockets\.ts$/, fn: /Audio/ },
  { stage: STAGES.speech, file: /^protocol\/audio-frame\.ts$/, fn: /^encode/ },
  { stage: STAGES.speech, file: /^voice\/turn-metrics\.ts$/, fn: /^sent$/ },
  // The model: request and stream.
  { stage: STAGES.model, file: /^agent\/llm\// },
  // After the reply: checkpoints written, transcript and figures recorded.
  { stage: STAGES.turnEnd, file: /^agent\/checkpointer\.ts$/, fn: /put|prune|deleteThread/i },
  { stage: STAGES.turnEnd, file: /^worker\/db\/transcripts\.ts$/ },
  { stage: STAGES.turnEnd, file: /^durable-objects\/conversation\.ts$/, fn: /persist|correct/i },
  { stage: STAGES.turnEnd, file: VOICE_SESSION, fn: /reportMetrics/ },
  {
    stage: STAGES.turnEnd,
    file: /^durable-objects\/voice-turn\.ts$/,
    fn: /summary|metrics|heard|playback/i,
  },
  { stage: STAGES.turnEnd, file: /^voice\/turn-metrics\.ts$/ },
  // A call's start: the Worker's upgrade, the socket, sign-in, greeting.
  { stage: STAGES.callStart, file: /^worker\/app\.ts$/ },
  { stage: STAGES.callStart, file: CALL_SESSION, fn: /^CallSession$/ },
  {
    stage: STAGES.callStart,
    file: CALL_SESSION,
    fn: /^(fetch|#greet|#dueToday|#resume|#admit)$/,
  },
  { stage: STAGES.callStart, file: /^durable-objects\/pin-sign-in\.ts$/ },
  { stage: STAGES.callStart, file: /^worker\/(pin-hash|client-address)\.ts$/ },
  { stage: STAGES.callStart, file: /^worker\/db\/(users|today)\.ts$/, fn: /User|CallSession/ },
  {
    stage: STAGES.callStart,
    file: /^durable-objects\/(pin-throttle|sign-in-limits|attempt-window|greeting)\.ts$/,
  },
  // A finished utterance to the model's request: the turn, its history, the graph's nodes.
  { stage: STAGES.turnStart, file: VOICE_SESSION, fn: /endTurn|newTurn|runTurn/i },
  { stage: STAGES.turnStart, file: CALL_SESSION, fn: /runTurn|onUserText/i },
  { stage: STAGES.turnStart, file: /^durable-objects\/conversation\.ts$/ },
  { stage: STAGES.turnStart, file: /^agent\// },
  // Only when nothing else on the stack says what it was for.
  { stage: STAGES.frame, file: CALL_SESSION, fn: /^webSocketMessage$/, fallback: true },
  { stage: STAGES.turnEnd, file: /^worker\/log\.ts$/, fallback: true },
  // withIdleDeadline's own callbacks (speech-output.ts and apology-clip.ts use it).
  {
    stage: STAGES.speech,
    file: /^voice\/deadline\.ts$/,
    fn: /^(withIdleDeadline|onAbort|check|take|stopWaiting|(finally|setTimeout|Promise)\(\) callback)$/,
    fallback: true,
  },
];

/** The stage of a stack with no frame of ours, by the nearest package (walking up) listed. */
export const PACKAGE_STAGES: Record<string, string> = {
  "@anthropic-ai/sdk": STAGES.model,
  "@langchain/langgraph": STAGES.graph,
  "@langchain/core": STAGES.graph,
  "@langchain/langgraph-checkpoint": STAGES.graph,
  langsmith: STAGES.graph,
  "drizzle-orm": STAGES.database,
  "@neondatabase/serverless": STAGES.database,
};

export interface StageOptions {
  ownFolders?: readonly string[];
  rules?: readonly StageRule[];
  packageStages?: Record<string, string>;
}

export interface StageAttribution {
  stage: string;
  /** The frames that decided: `decider › our frame nearest the leaf › leaf`. */
  by: string;
}

/** The stage of one sample, from its stack (leaf first). */
export function stageOfStack(
  stack: readonly CallFrame[],
  options: StageOptions = {},
): StageAttribution {
  const ownFolders = options.ownFolders ?? OWN_FOLDERS;
  const rules = options.rules ?? STAGE_RULES;
  const packageStages = options.packageStages ?? PACKAGE_STAGES;
  const groups = stack.map((frame) => groupOf(frame, ownFolders));
  const leaf = stack[0];
  const leafGroup = groups[0];
  if (!leaf || !leafGroup) return { stage: STAGES.native, by: "(empty stack)" };
  // V8's own time (the collector, `(program)`) has no caller to charge it to.
  if (V8_ENTRIES.has(leafGroup.name)) return { stage: leafGroup.name, by: leafGroup.name };
  const own = stack.filter((_, i) => groups[i]?.kind === "own");
  const describe = (decider: CallFrame) => {
    const parts = [label(decider)];
    const nearest = own[0];
    if (nearest && nearest !== decider) parts.push(shortFrame(nearest));
    if (leafGroup.kind !== "own") parts.push(shortLeaf(leaf, leafGroup));
    return parts.join(" › ");
  };
  for (const fallback of [false, true]) {
    for (const frame of own) {
      const rule = rules.find(
        (r) =>
          Boolean(r.fallback) === fallback &&
          r.file.test(frame.url) &&
          (!r.fn || r.fn.test(frame.functionName)),
      );
      if (rule) return { stage: rule.stage, by: describe(frame) };
    }
  }
  const nearestOwn = own[0];
  if (nearestOwn) return { stage: STAGES.other, by: describe(nearestOwn) };
  // No frame of ours: an async step of a library (its continuation has only its own frames).
  for (let i = 0; i < stack.length; i++) {
    const group = groups[i];
    const stage = group?.kind === "package" ? packageStages[group.name] : undefined;
    if (stage) return { stage, by: entryOf(stack, groups) };
  }
  if (groups.some((g) => g.kind === "package" || g.kind === "other"))
    return { stage: STAGES.library, by: entryOf(stack, groups) };
  return { stage: STAGES.native, by: shortLeaf(leaf, leafGroup) };
}

/** The outermost frame with a source: where an async step entered. */
function entryOf(stack: readonly CallFrame[], groups: FrameGroup[]): string {
  for (let i = stack.length - 1; i >= 0; i--) {
    const frame = stack[i];
    if (frame?.url && groups[i]?.kind !== "runtime") return label(frame);
  }
  return label(stack[0] as CallFrame);
}

/** `function (file)`, the file without its folders. */
function shortFrame(frame: CallFrame): string {
  const file = frame.url.slice(frame.url.lastIndexOf("/") + 1);
  return `${frame.functionName || "(anonymous)"} (${file})`;
}

function shortLeaf(leaf: CallFrame, group: FrameGroup): string {
  const name = leaf.functionName || "(anonymous)";
  if (group.name === NATIVE) return `${name} [native]`;
  if (group.kind === "runtime") return `${name} [workerd built-in]`;
  if (group.kind === "own") return shortFrame(leaf);
  return `${name} [${group.name}]`;
}

// ---- the summary ----------------------------------------------------------------------------

export interface TopFunction {
  /** `function (file:line)` (line 1-based), or for a stage the frames that decided it. */
  name: string;
  samples: number;
  /** % of the row's samples. */
  pct: number;
}

export interface BreakdownRow {
  name: string;
  kind?: GroupKind;
  samples: number;
  /** % of busy samples. */
  pct: number;
  /** Estimated JavaScript ms: samples × busyIntervalUs. */
  ms: number;
  /** ms per audio frame, turn or call (see STAGE_UNITS), when that count was given. */
  msPerUnit?: number;
  unit?: StageUnit;
  /** Most sampled: leaf functions for a package, deciding frames for a stage. */
  top: TopFunction[];
}

export interface ProfileBreakdown {
  samples: number;
  /** Samples not `(idle)`. */
  busySamples: number;
  /** What one busy sample stands for, µs: the median gap between consecutive busy samples. */
  busyIntervalUs: number;
  /** busySamples × busyIntervalUs, ms. */
  estimatedBusyMs: number;
  /** Wall time profiled, ms. */
  wallMs: number;
  sourceMapped: boolean;
  turns?: number;
  frames?: number;
  calls?: number;
  /** estimatedBusyMs / turns: all JavaScript per turn, frames and sign-ins included. */
  busyMsPerTurn?: number;
  packages: BreakdownRow[];
  stages: BreakdownRow[];
}

export interface BreakdownOptions extends StageOptions {
  /** Turns, audio frames and calls during the profile: adds ms per turn / frame / call. */
  turns?: number;
  frames?: number;
  calls?: number;
  /** Functions listed per row (default 5). */
  top?: number;
}

const IDLE = "(idle)";

/**
 * Busy samples by npm package / folder of ours / runtime bucket (self: the leaf's), and by stage
 * of the voice pipeline (stageOfStack), with estimated ms and, given counts, ms per unit.
 */
export function summarizeByPackageAndStage(
  profile: CpuProfile,
  options: BreakdownOptions = {},
): ProfileBreakdown {
  const ownFolders = options.ownFolders ?? OWN_FOLDERS;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const stackOf = (leaf: ProfileNode): CallFrame[] => {
    const frames: CallFrame[] = [];
    for (let at: ProfileNode | undefined = leaf; at; at = byId.get(parent.get(at.id) ?? -1)) {
      if (at.callFrame.functionName !== "(root)" || at.callFrame.url) frames.push(at.callFrame);
    }
    return frames;
  };
  // Per node, not per sample: samples share nodes.
  const perNode = new Map<number, { group: FrameGroup; leaf: string; stage: StageAttribution }>();
  const describe = (node: ProfileNode) => {
    let known = perNode.get(node.id);
    if (!known) {
      const stack = stackOf(node);
      const group = groupOf(node.callFrame, ownFolders);
      let leaf = label(node.callFrame);
      if (group.name === NATIVE) {
        const caller = stack.find((f) => f.url);
        if (caller) leaf += ` ← ${label(caller)}`;
      }
      known = { group, leaf, stage: stageOfStack(stack, options) };
      perNode.set(node.id, known);
    }
    return known;
  };

  const packages = new Tally();
  const stages = new Tally();
  let busy = 0;
  let previousBusy = false;
  const busyGaps: number[] = [];
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const isBusy = node.callFrame.functionName !== IDLE;
    if (isBusy && previousBusy) busyGaps.push(profile.timeDeltas[i] ?? 0);
    previousBusy = isBusy;
    if (!isBusy) return;
    busy += 1;
    const { group, leaf, stage } = describe(node);
    packages.add(group.name, leaf, group.kind);
    stages.add(stage.stage, stage.by);
  });

  const busyIntervalUs = median(busyGaps);
  const ms = (n: number) => (n * busyIntervalUs) / 1000;
  const counts: Record<StageUnit, number | undefined> = {
    frame: options.frames,
    turn: options.turns,
    call: options.calls,
  };
  const perUnit = (name: string, samples: number) => {
    const unit = STAGE_UNITS[name] ?? "turn";
    const count = counts[unit];
    return count ? { unit, msPerUnit: ms(samples) / count } : {};
  };
  const top = options.top ?? 5;
  const rows = (tally: Tally, withUnit: boolean): BreakdownRow[] =>
    tally.rows(top).map((row) => ({
      ...row,
      pct: (100 * row.samples) / Math.max(1, busy),
      ms: ms(row.samples),
      ...(withUnit ? perUnit(row.name, row.samples) : {}),
    }));
  return {
    samples: profile.samples.length,
    busySamples: busy,
    busyIntervalUs,
    estimatedBusyMs: ms(busy),
    wallMs: (profile.endTime - profile.startTime) / 1000,
    sourceMapped: Boolean((profile as SourceMappedProfile).sourceMapped),
    ...(options.turns ? { turns: options.turns, busyMsPerTurn: ms(busy) / options.turns } : {}),
    ...(options.frames ? { frames: options.frames } : {}),
    ...(options.calls ? { calls: options.calls } : {}),
    packages: rows(packages, false),
    stages: rows(stages, true).sort((a, b) => stageRank(a.name) - stageRank(b.name)),
  };
}

function stageRank(stage: string): number {
  const at = STAGE_ORDER.indexOf(stage);
  return at < 0 ? STAGE_ORDER.length : at;
}

class Tally {
  readonly #rows = new Map<
    string,
    { samples: number; kind?: GroupKind; functions: Map<string, number> }
  >();

  add(row: string, fn: string, kind?: GroupKind) {
    let entry = this.#rows.get(row);
    if (!entry) {
      entry = { samples: 0, ...(kind ? { kind } : {}), functions: new Map() };
      this.#rows.set(row, entry);
    }
    entry.samples += 1;
    entry.functions.set(fn, (entry.functions.get(fn) ?? 0) + 1);
  }

  rows(top: number) {
    return [...this.#rows.entries()]
      .sort((a, b) => b[1].samples - a[1].samples)
      .map(([name, entry]) => ({
        name,
        ...(entry.kind ? { kind: entry.kind } : {}),
        samples: entry.samples,
        top: [...entry.functions.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, top)
          .map(([fn, samples]) => ({ name: fn, samples, pct: (100 * samples) / entry.samples })),
      }));
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** `function (file:line)`, a package's file from its name on. */
function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const modules = frame.url.lastIndexOf("node_modules/");
  const file = modules >= 0 ? frame.url.slice(modules + "node_modules/".length) : frame.url;
  return `${name} (${file}:${frame.lineNumber + 1})`;
}

// ---- formatting -----------------------------------------------------------------------------

export interface FormatOptions {
  /** Markdown tables (default) or aligned plain text. */
  markdown?: boolean;
  /** Functions shown per row (default 3; 0 for none). */
  top?: number;
}

const fixed = (n: number, digits: number) => n.toFixed(digits);
const perUnitText = (row: BreakdownRow) =>
  row.msPerUnit === undefined
    ? ""
    : `${fixed(row.msPerUnit, row.unit === "frame" ? 3 : 2)} ms/${row.unit}`;

/** How the ms were estimated, and the counts they are divided by. */
export function describeEstimate(b: ProfileBreakdown): string {
  const counts = [
    b.turns ? `${b.turns} turns` : "",
    b.frames ? `${b.frames} audio frames` : "",
    b.calls ? `${b.calls} calls` : "",
  ].filter(Boolean);
  return (
    `${b.busySamples} of ${b.samples} samples busy (not idle) in ${fixed(b.wallMs / 1000, 1)} s. ` +
    `Estimated ms = busy samples × ${fixed(b.busyIntervalUs, 0)} µs, the median gap between two ` +
    `consecutive busy samples: ≈ ${fixed(b.estimatedBusyMs, 0)} ms of JavaScript` +
    (b.busyMsPerTurn !== undefined ? `, ${fixed(b.busyMsPerTurn, 2)} ms per turn` : "") +
    (counts.length ? ` (${counts.join(", ")})` : "") +
    ". Measured while sampling, which slows the Worker." +
    (b.sourceMapped ? "" : " NOT source-mapped: the bundle's frames are not attributed.")
  );
}

/** The breakdown as two tables, by package and by stage, with the estimate's basis stated. */
export function formatBreakdown(b: ProfileBreakdown, options: FormatOptions = {}): string {
  const markdown = options.markdown ?? true;
  const top = options.top ?? 3;
  const out = [describeEstimate(b)];
  const withUnit = b.stages.some((r) => r.msPerUnit !== undefined);
  const table = (title: string, rows: BreakdownRow[], unitColumn: boolean) => {
    const header = [title, "samples", "% busy", "est. ms", ...(unitColumn ? ["per unit"] : [])];
    if (top > 0) header.push("most sampled (% of the row)");
    const body = rows.map((r) => {
      const cells = [r.name, String(r.samples), fixed(r.pct, 1), fixed(r.ms, 1)];
      if (unitColumn) cells.push(perUnitText(r));
      if (top > 0) {
        const names = r.top.slice(0, top).map((f) => `${f.name} ${fixed(f.pct, 0)}%`);
        cells.push(names.join(markdown ? "<br>" : "; "));
      }
      return cells;
    });
    out.push("", renderTable(header, body, markdown));
  };
  table("package / folder (self)", b.packages, false);
  table("stage", b.stages, withUnit);
  return out.join("\n");
}

/** Several profiles side by side (before/after): % of busy, est. ms and ms per unit each. */
export function formatComparison(
  runs: { label: string; breakdown: ProfileBreakdown }[],
  options: { markdown?: boolean } = {},
): string {
  const markdown = options.markdown ?? true;
  const out: string[] = [];
  const cell = (row: BreakdownRow | undefined) => {
    if (!row) return "–";
    const unit = perUnitText(row);
    return `${fixed(row.pct, 1)}% · ${fixed(row.ms, 0)} ms${unit ? ` · ${unit}` : ""}`;
  };
  for (const key of ["stages", "packages"] as const) {
    const names = [...new Set(runs.flatMap((r) => r.breakdown[key].map((row) => row.name)))];
    const header = [
      key === "packages" ? "package / folder (self)" : "stage",
      ...runs.map((r) => r.label),
    ];
    const body = names.map((name) => [
      name,
      ...runs.map((r) => cell(r.breakdown[key].find((row) => row.name === name))),
    ]);
    out.push(renderTable(header, body, markdown), "");
  }
  const total = (b: ProfileBreakdown) =>
    `${fixed(b.estimatedBusyMs, 0)} ms` +
    (b.busyMsPerTurn !== undefined ? ` · ${fixed(b.busyMsPerTurn, 2)} ms/turn` : "");
  out.push(
    renderTable(
      ["", ...runs.map((r) => r.label)],
      [["all JavaScript", ...runs.map((r) => total(r.breakdown))]],
      markdown,
    ),
  );
  return out.join("\n");
}

function renderTable(header: string[], body: string[][], markdown: boolean): string {
  if (markdown) {
    const escapeCell = (s: string) => s.replaceAll("|", "\\|");
    const line = (cells: string[]) => `| ${cells.map(escapeCell).join(" | ")} |`;
    const numeric = (i: number) =>
      !header[i]?.startsWith("most sampled") &&
      body.every((row) => /^[\d.–]*$|ms|%/.test(row[i] ?? "")) &&
      i > 0;
    const align = header.map((_, i) => (numeric(i) ? "---:" : "---"));
    return [line(header), `|${align.join("|")}|`, ...body.map(line)].join("\n");
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === 0 || i === cells.length - 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0),
      )
      .join("  ")
      .trimEnd();
  return [line(header), ...body.map(line)].join("\n");
}

// ---- command line ---------------------------------------------------------------------------

const USAGE = `usage:
  node scripts/profile-summary.ts FILE.cpuprofile [FILE …] [--turns N] [--frames N] [--calls N]
      [--map .wrangler/tmp/dev-XXXX/index.js.map] [--plain] [--top N] [--json]
      [--turn-window N]
    Counts default to the profile's own "counts" (set by whoever saved it). Two or more files
    are also compared side by side. --turn-window N reads each profile only over turn N of its
    run (0: the burst's first turn), from the first final transcript to the last first reply
    frame, as the timeline saved beside it (FILE.timeline.json, npm run bench -- --profile) has
    them (scripts/bench-voice/turn-window.ts).
  node scripts/profile-summary.ts --capture APP_PORT [--seconds 20] [--out FILE.cpuprofile]
    Profiles the running app answering on APP_PORT (npm start, a benchmark), source-mapped.`;

async function main() {
  const { values: args, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      turns: { type: "string" },
      frames: { type: "string" },
      calls: { type: "string" },
      map: { type: "string" },
      plain: { type: "boolean", default: false },
      top: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
      capture: { type: "string" },
      seconds: { type: "string", default: "20" },
      out: { type: "string" },
      "turn-window": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (args.help) {
    console.log(USAGE);
    return;
  }
  if (args.capture) {
    const port = Number(args.capture);
    const out = args.out ?? `profile-${port}-${Date.now()}.cpuprofile`;
    const running = await startSourceMappedProfile(port);
    console.error(`[profile] sampling the app on port ${port} for ${args.seconds} s …`);
    await new Promise((done) => setTimeout(done, Number(args.seconds) * 1000));
    writeFileSync(out, JSON.stringify(await running.stop()));
    console.error(`[profile] wrote ${out}`);
    positionals.push(out);
  }
  if (positionals.length === 0) {
    console.error(USAGE);
    process.exit(2);
  }
  const top = Number(args.top);
  const runs = positionals.map((file) => {
    let profile = JSON.parse(readFileSync(file, "utf8")) as SourceMappedProfile;
    if (!profile.sourceMapped && args.map) profile = annotateProfile(profile, args.map);
    if (args["turn-window"] !== undefined) {
      const timelineFile = file.replace(/\.cpuprofile$/, ".timeline.json");
      const timeline = JSON.parse(readFileSync(timelineFile, "utf8")) as Timeline;
      const window = turnWindowUs(timeline, Number(args["turn-window"]));
      // Per-unit figures would divide the window's samples by the whole run's counts.
      profile = { ...cropProfile(profile, window), counts: {} };
      console.error(
        `[profile] ${basename(file)}: turn ${args["turn-window"]}'s window, ${Math.round((window.toUs - window.fromUs) / 1000)} ms`,
      );
    }
    const counts = profile.counts ?? {};
    const count = (flag: string | undefined, saved: number | undefined) =>
      flag ? Number(flag) : saved;
    const options: BreakdownOptions = { top: Math.max(top, 5) };
    const turns = count(args.turns, counts.turns);
    const frames = count(args.frames, counts.frames);
    const calls = count(args.calls, counts.calls);
    if (turns) options.turns = turns;
    if (frames) options.frames = frames;
    if (calls) options.calls = calls;
    return {
      label: basename(file).replace(/\.cpuprofile$/, ""),
      breakdown: summarizeByPackageAndStage(profile, options),
    };
  });
  if (args.json) {
    console.log(JSON.stringify(runs, null, 2));
    return;
  }
  const markdown = !args.plain;
  const heading = markdown ? "### " : "== ";
  for (const run of runs) {
    console.log(`${heading}${run.label}\n\n${formatBreakdown(run.breakdown, { markdown, top })}\n`);
  }
  if (runs.length > 1) {
    console.log(`${heading}side by side\n\n${formatComparison(runs, { markdown })}`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
