/**
 * The two sentences a human agent reads when the transfer rings: what the call was about and
 * why the caller wants a person. One short, non-streamed Claude call with a hard time limit;
 * if it fails or is late, the caller's last words stand in, so the human is never left with
 * nothing.
 */
import Anthropic from "@anthropic-ai/sdk";
import type { TranscriptEntry } from "../protocol/messages.ts";
import type { AgentConfig } from "../worker/config.ts";

/** The instructions name this marker, so logs and test fakes can tell the request apart. */
export const SUMMARY_MARKER = "HANDOVER-SUMMARY";

const SYSTEM = `${SUMMARY_MARKER}: you write handover notes for a human support agent who is about to take over a phone call from an AI assistant. In exactly two short sentences: what the caller has been doing in this call, and why they want a person. Plain text, no greeting, no lists, never invent facts.`;

/** How many of the latest transcript entries are summarised (and the fallback's source). */
const RECENT_ENTRIES = 30;

export async function summarizeForHandover(
  agent: AgentConfig | undefined,
  transcript: readonly TranscriptEntry[],
  reason: string,
): Promise<{ summary: string; source: "model" | "fallback" }> {
  const recent = transcript.filter((e) => e.role !== "system").slice(-RECENT_ENTRIES);
  const fallback = { summary: fallbackSummary(recent, reason), source: "fallback" as const };
  if (!agent) return fallback;
  const client = new Anthropic({
    apiKey: agent.apiKey,
    baseURL: agent.baseUrl,
    maxRetries: 0,
    timeout: agent.summaryTimeoutMs,
  });
  const lines = recent.map((e) => `${e.role === "user" ? "Caller" : "Assistant"}: ${e.text}`);
  try {
    const message = await client.messages.create(
      {
        model: agent.model,
        max_tokens: 160,
        system: SYSTEM,
        messages: [
          {
            role: "user",
            content: `Reason given for the transfer: ${reason}\n\nConversation so far:\n${lines.join("\n") || "(nothing yet)"}`,
          },
        ],
      },
      { signal: AbortSignal.timeout(agent.summaryTimeoutMs) },
    );
    const text = message.content
      .flatMap((b) => (b.type === "text" ? [b.text] : []))
      .join(" ")
      .trim();
    return text ? { summary: text.slice(0, 1_000), source: "model" } : fallback;
  } catch {
    return fallback;
  }
}

/** The reason and the caller's last few words, when the model cannot write the summary. */
export function fallbackSummary(transcript: readonly TranscriptEntry[], reason: string): string {
  const said = transcript
    .filter((e) => e.role === "user")
    .slice(-3)
    .map((e) => `"${e.text.slice(0, 200)}"`);
  return `Caller asked for a person: ${reason}.${said.length ? ` Their last words: ${said.join(" ")}.` : ""}`;
}
