/**
 * Where the Worker's API is. A static site cannot read the Worker's settings, so the build
 * (and `npm start`'s dashboard server) writes `config.json` next to the page.
 */
import * as z from "zod/mini";

const config = z.object({ apiUrl: z.url() });
export type DashboardConfig = z.infer<typeof config>;

export async function loadConfig(): Promise<DashboardConfig> {
  const res = await fetch(new URL("config.json", document.baseURI), { cache: "no-store" });
  const parsed = config.safeParse(await res.json().catch(() => null));
  if (!res.ok || !parsed.success) throw new Error("config.json is missing or has no apiUrl.");
  return parsed.data;
}
