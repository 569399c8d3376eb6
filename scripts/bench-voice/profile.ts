/** `npm run bench -- --profile DIR`: a CPU profile of one extra run, summarised when it can be. */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type CpuProfile, startCpuProfile } from "../cpu-profile.ts";
import { args } from "./settings.ts";

/**
 * scripts/profile-summary.ts, when there: it source-maps a profile while the app still runs (the
 * bundle's folder goes with it) and sums it by npm package and by stage of the voice pipeline.
 * Loaded by name and used only for what it offers, so the benchmark runs without it.
 */
export interface Summariser {
  startSourceMappedProfile?: (appPort: number) => Promise<{ stop(): Promise<CpuProfile> }>;
  summarizeByPackageAndStage?: (
    profile: CpuProfile,
    options: { turns?: number; frames?: number; calls?: number },
  ) => unknown;
  formatBreakdown?: (breakdown: unknown, options: { markdown?: boolean }) => string;
}

export let summariser: Promise<Summariser | undefined> | undefined;
export function loadSummariser(): Promise<Summariser | undefined> {
  const file = join(import.meta.dirname, "..", "profile-summary.ts");
  summariser ??= existsSync(file)
    ? (import(pathToFileURL(file).href) as Promise<Summariser>).catch((error: unknown) => {
        process.stderr.write(`[bench] profile-summary.ts: ${(error as Error).message}\n`);
        return undefined;
      })
    : Promise.resolve(undefined);
  return summariser;
}

export interface Profiler {
  stop(): Promise<CpuProfile>;
}

/** Source-mapped by the summariser if it can, else a plain profile (cpu-profile.ts). */
export async function startProfile(appPort: number, inspectorPort: number): Promise<Profiler> {
  const mod = await loadSummariser();
  if (mod?.startSourceMappedProfile) {
    try {
      return await mod.startSourceMappedProfile(appPort);
    } catch (error) {
      process.stderr.write(
        `[bench] source-mapped profile unavailable (${(error as Error).message}): a plain one\n`,
      );
    }
  }
  return startCpuProfile(inspectorPort);
}

export async function writeProfile(
  profile: CpuProfile,
  name: string,
  counts: { turns: number; frames: number; calls: number },
) {
  const dir = args.profile;
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const mod = await loadSummariser();
  let text: string | undefined;
  let breakdown: unknown;
  try {
    breakdown = mod?.summarizeByPackageAndStage?.(profile, counts);
    if (breakdown !== undefined && mod?.formatBreakdown)
      text = mod.formatBreakdown(breakdown, { markdown: false });
  } catch (error) {
    text = `profile-summary.ts failed: ${(error as Error).message}`;
  }
  return { file, breakdown, text };
}
