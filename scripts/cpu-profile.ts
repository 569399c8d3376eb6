/**
 * A CPU profile of the Worker under `wrangler dev`, through its inspector port (the Chrome
 * DevTools protocol: `GET /json` lists the target, then `Profiler.enable`,
 * `Profiler.setSamplingInterval`, `Profiler.start` and `Profiler.stop` over its WebSocket), and
 * the functions that cost the most in it. Sampling slows the Worker down: figures measured while
 * profiling are not the benchmark's.
 */
import { WebSocket } from "ws";

export interface CallFrame {
  functionName: string;
  url: string;
  /** 0-based; -1 for V8's own entries such as `(program)`. */
  lineNumber: number;
  /** 0-based. */
  columnNumber?: number;
  scriptId?: string;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The `.cpuprofile` format (what DevTools loads). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  /** `function (file:line)`, or a V8 bucket such as `(garbage collector)`. */
  name: string;
  /** Samples in this function itself, % of the non-idle samples. */
  selfPct: number;
  /** Samples with this function anywhere on the stack, % of the non-idle samples. */
  totalPct: number;
}

export interface ProfileSummary {
  samples: number;
  /** Samples not `(idle)`. */
  busySamples: number;
  hotSpots: HotSpot[];
}

export interface RunningProfile {
  stop(): Promise<CpuProfile>;
}

/** A DevTools protocol session with the isolate behind `wrangler dev`'s inspector port. */
export interface InspectorSession {
  /** Sends `method` and resolves with its result. */
  call(method: string, params?: object): Promise<unknown>;
  close(): void;
}

/**
 * Opens a session with the first target on `inspectorPort` (`GET /json` lists it); `onEvent`
 * hears the protocol's events (messages with a `method` and no `id`).
 */
export async function openInspector(
  inspectorPort: number,
  onEvent: (method: string, params: unknown) => void = () => undefined,
): Promise<InspectorSession> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as {
    webSocketDebuggerUrl?: string;
  }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${inspectorPort}`);
  // wrangler's inspector proxy wants an Origin it allows (as DevTools on localhost sends).
  const ws = new WebSocket(url, { headers: { Origin: "http://localhost" } });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", (error) => reject(new Error(`inspector ${url}: ${error.message}`)));
  });
  let nextId = 0;
  const pending = new Map<number, (result: unknown) => void>();
  ws.on("message", (data) => {
    const message = JSON.parse(String(data)) as {
      id?: number;
      method?: string;
      params?: unknown;
      result?: unknown;
    };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
    else if (message.method) onEvent(message.method, message.params);
  });
  return {
    call: (method, params = {}) =>
      new Promise<unknown>((resolve) => {
        const id = ++nextId;
        pending.set(id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Starts sampling the Worker every `intervalUs` (100 µs works with workerd). */
export async function startCpuProfile(
  inspectorPort: number,
  intervalUs = 100,
): Promise<RunningProfile> {
  const inspector = await openInspector(inspectorPort);
  await inspector.call("Profiler.enable");
  await inspector.call("Profiler.setSamplingInterval", { interval: intervalUs });
  await inspector.call("Profiler.start");
  return {
    async stop() {
      const result = (await inspector.call("Profiler.stop")) as { profile: CpuProfile };
      inspector.close();
      return result.profile;
    },
  };
}

const IDLE = "(idle)";

/**
 * The functions with the most samples. Counted, not weighted by `timeDeltas`: under workerd the
 * samples come far apart when the isolate has nothing to run (a median 1.7 ms apart at a 100 µs
 * interval, under the bridge benchmark), so a delta can span the idle time after a handler
 * returned and would charge it to whatever was sampled last.
 */
export function summarizeProfile(profile: CpuProfile, count = 12): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples) {
    const node = byId.get(id);
    if (!node) continue;
    const name = label(node.callFrame);
    self.set(name, (self.get(name) ?? 0) + 1);
    if (name !== IDLE) busy += 1;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (!frame) break;
      const key = label(frame.callFrame);
      if (seen.has(key)) continue; // recursion: once per sample
      seen.add(key);
      total.set(key, (total.get(key) ?? 0) + 1);
    }
  }
  const pct = (n: number) => Math.round((1000 * n) / Math.max(1, busy)) / 10;
  const hotSpots = [...self.entries()]
    .filter(([name]) => name !== IDLE && name !== "(root)")
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, n]) => ({ name, selfPct: pct(n), totalPct: pct(total.get(name) ?? 0) }));
  return { samples: profile.samples.length, busySamples: busy, hotSpots };
}

function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const file = frame.url.replace(/^.*\//, "");
  return `${name} (${file}:${frame.lineNumber + 1})`;
}
