/**
 * The Messages API's server-sent events, read from the response body one network read at a
 * time: the events of a read are parsed together (eventsource-parser, the spec's parser) and
 * handed over as one batch. The SDK's own Stream passes every event through four nested async
 * generators (body → lines → SSE messages → JSON); a profile of one call's turns put that at
 * about half of the thread's work between Claude's first token and the TTS request, and in a
 * burst every turn's events wait behind every other turn's. The request is made in anthropic.ts;
 * what is read here is what the SDK's Stream reads: `ping` and unnamed events skipped, an `error`
 * event thrown as the SDK's APIError.
 */
import { AnthropicError, APIError } from "@anthropic-ai/sdk";
import type { RawMessageStreamEvent } from "@anthropic-ai/sdk/resources/messages";
import { createParser } from "eventsource-parser";

export async function* messageEventBatches(
  response: Response,
): AsyncGenerator<RawMessageStreamEvent[], void, undefined> {
  if (!response.body) throw new AnthropicError("Attempted to iterate over a response with no body");
  let batch: RawMessageStreamEvent[] = [];
  let failure: Error | undefined;
  const parser = createParser({
    onEvent({ event, data }) {
      if (failure || event === undefined || event === "ping") return;
      if (event === "error") {
        const body = parseJson(data) ?? data;
        const type = (body as { error?: { type?: string } } | undefined)?.error?.type;
        failure = new APIError(
          undefined,
          body,
          undefined,
          response.headers,
          type as ConstructorParameters<typeof APIError>[4],
        );
        return;
      }
      if (!data) return;
      try {
        batch.push(JSON.parse(data) as RawMessageStreamEvent);
      } catch (error) {
        failure = error as Error;
      }
    },
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      // At the end, an event the body left without its blank line still counts (as in the SDK).
      parser.feed(done ? `${decoder.decode()}\n\n` : decoder.decode(value, { stream: true }));
      if (batch.length > 0) {
        const events = batch;
        batch = [];
        yield events;
      }
      if (failure) throw failure;
      if (done) {
        ended = true;
        return;
      }
    }
  } finally {
    // Left early (an error, or the reader stopped): the connection is let go, not left open.
    if (!ended) reader.cancel().catch(() => {});
  }
}

/** `text` as JSON, or undefined when it is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
