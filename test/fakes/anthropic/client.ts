/**
 * Scripting the fake Anthropic API from a test, in Node or inside workerd (plain fetch).
 */
import type { RecordedRequest, Step } from "./script.ts";

export type { RecordedRequest, Step };

/** Queues answers for the requests whose JSON contains `match` (a test's unique user name). */
export async function scriptClaude(baseUrl: string, match: string, steps: Step[]): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/scripts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ match, steps }),
  });
  if (!res.ok) throw new Error(`scripting the fake failed: ${res.status} ${await res.text()}`);
}

/** Every request a script served, in order. */
export async function claudeRequests(baseUrl: string, match: string): Promise<RecordedRequest[]> {
  const res = await fetch(`${baseUrl}/_fake/requests?match=${encodeURIComponent(match)}`);
  if (!res.ok) throw new Error(`reading the fake's requests failed: ${res.status}`);
  return (await res.json()) as RecordedRequest[];
}
