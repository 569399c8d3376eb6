/**
 * `npm run bench -- --repeat N`: every row run N times, each on a freshly started app, and
 * reported as the median of the N runs, figure by figure, with the spread of the main ones.
 * One run of a row moves by ±15 % between sittings on this 2-core machine; a goal's verdict read
 * from the median of several runs is not a coin toss.
 */
import type { RunFigures } from "./figures.ts";

/** The figures the spread is reported for: path in RunFigures → label. */
const SPREAD: [string, string][] = [
  ["final_to_audio_ms.p50", "final→audio p50"],
  ["final_to_audio_ms.p95", "final→audio p95"],
  ["overhead_ms.p50", "overhead p50"],
  ["first_turn_final_to_audio_ms.p50", "1st turn p50"],
  ["cpu.turns.workerd_ms_per_turn", "workerd/turn"],
];

export interface RepeatSpread {
  runs: number;
  /** label → every run's value, in the order run. */
  values: Record<string, number[]>;
  /** Runs that failed, left out of the median. */
  failed?: string;
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const value =
    sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return Math.round(value * 100) / 100;
};

/** Every numeric leaf the median of the runs' (arrays element by element), the rest the first's. */
function medianOf(values: unknown[]): unknown {
  const [first] = values;
  if (typeof first === "number") {
    const numbers = values.filter((v): v is number => typeof v === "number");
    return numbers.length === values.length ? median(numbers) : first;
  }
  if (Array.isArray(first)) {
    const arrays = values.filter(Array.isArray) as unknown[][];
    const length = Math.min(...arrays.map((a) => a.length));
    return Array.from({ length }, (_, i) => medianOf(arrays.map((a) => a[i])));
  }
  if (first && typeof first === "object") {
    const objects = values.filter((v) => v && typeof v === "object") as Record<string, unknown>[];
    return Object.fromEntries(
      Object.keys(first).map((key) => [key, medianOf(objects.map((o) => o[key]))]),
    );
  }
  return first;
}

const at = (figures: RunFigures, path: string): number | undefined => {
  let value: unknown = figures;
  for (const key of path.split(".")) value = (value as Record<string, unknown> | undefined)?.[key];
  return typeof value === "number" ? value : undefined;
};

/**
 * Why a run cannot count: its error, or no turn measured (its figures would be NaN and make the
 * median NaN: say, an app that reloaded under it, or a fake that saw nothing).
 */
function failureOf(run: RunFigures): string | undefined {
  if (run.error) return run.error;
  if (run.turns_measured === 0)
    return `no turn was measured${run.missing?.length ? ` (${run.missing[0]})` : ""}`;
  return undefined;
}

/** One row's runs as one: the median figures, and each run's main figures. */
export function combineRuns(runs: RunFigures[]): RunFigures {
  const ok = runs.filter((r) => failureOf(r) === undefined);
  if (runs.length === 1 || ok.length === 0) return runs[0] as RunFigures;
  const combined = medianOf(ok) as RunFigures;
  const values: Record<string, number[]> = {};
  for (const [path, label] of SPREAD) values[label] = ok.flatMap((r) => at(r, path) ?? []);
  combined.repeat = {
    runs: ok.length,
    values,
    ...(ok.length < runs.length
      ? {
          failed: `${runs.length - ok.length} of ${runs.length} runs failed: ${runs.map(failureOf).find(Boolean)}`,
        }
      : {}),
  };
  return combined;
}

/** "median of 3 runs: final→audio p50 38 / 43.2 / 48.2, …" */
export function describeRepeat(repeat: RepeatSpread): string {
  const parts = Object.entries(repeat.values).map(
    ([label, values]) => `${label} ${values.join(" / ")}`,
  );
  const failed = repeat.failed ? ` (${repeat.failed})` : "";
  return `median of ${repeat.runs} runs${failed}, each run's: ${parts.join("; ")}`;
}
