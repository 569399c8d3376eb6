/**
 * Scripting the fake Anthropic API from a test, in Node or inside workerd (plain fetch, no
 * node:* imports).
 */
import type { RecordedRequest, Step } from "./script.ts";

export type { RecordedRequest, Step };

/**
 * Queues answers for the requests whose system prompt or messages contain `match` (say, a
 * test's unique user name); each request takes the next step.
 */
export async function scriptClaude(baseUrl: string, match: string, steps: Step[]): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/scripts`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ match, steps }),
  });
  if (!res.ok) throw new Error(`scripting the fake failed: ${res.status} ${await res.text()}`);
}

/** Every request the script for `match` served, in order. */
export async function claudeRequests(baseUrl: string, match: string): Promise<RecordedRequest[]> {
  const res = await fetch(`${baseUrl}/_fake/requests?match=${encodeURIComponent(match)}`);
  if (!res.ok) throw new Error(`reading the fake's requests failed: ${res.status}`);
  return (await res.json()) as RecordedRequest[];
}

/** Forgets the script for `match`, with its steps left and the requests it served. */
export async function dropScript(baseUrl: string, match: string): Promise<void> {
  const res = await fetch(`${baseUrl}/_fake/scripts?match=${encodeURIComponent(match)}`, {
    method: "DELETE",
  });
  if (!res.ok) throw new Error(`dropping the script failed: ${res.status}`);
  await res.body?.cancel();
}
