/**
 * What a test scripts the fake Anthropic API to answer. No node:* imports: the client half of
 * this folder also runs inside workerd.
 */
import { z } from "zod";

const Latency = z
  .object({
    /** Delay before the first byte of the answer. */
    firstTokenMs: z.number().nonnegative().optional(),
    /** Delay between streamed chunks. */
    chunkMs: z.number().nonnegative().optional(),
  })
  .optional();

export const StepSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("text"), text: z.string(), latency: Latency }),
  z.object({
    kind: z.literal("tool_use"),
    text: z.string().optional(),
    calls: z
      .array(
        z.object({
          name: z.string(),
          input: z.record(z.string(), z.unknown()),
          id: z.string().optional(),
        }),
      )
      .min(1),
    latency: Latency,
  }),
  z.object({
    kind: z.literal("error"),
    status: z.union([z.literal(429), z.literal(500), z.literal(529)]),
    retryAfterSeconds: z.number().nonnegative().optional(),
    latency: Latency,
  }),
  /** Starts answering, then drops the connection after `afterChunks` text deltas. */
  z.object({
    kind: z.literal("cut"),
    text: z.string(),
    afterChunks: z.number().int().nonnegative(),
    latency: Latency,
  }),
  /** Some text, then an SSE `error` event (as Anthropic sends when it overloads mid-stream). */
  z.object({ kind: z.literal("stream_error"), text: z.string().optional(), latency: Latency }),
]);
export type Step = z.infer<typeof StepSchema>;

export const ScriptSchema = z.object({ match: z.string().min(1), steps: z.array(StepSchema) });

export interface RecordedRequest {
  body: unknown;
  /** The client went away before the answer ended. */
  aborted: boolean;
}

/** Splits text into word-sized chunks, each keeping its trailing space. */
export function chunkText(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}
