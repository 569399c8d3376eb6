/** `npm run bench`: what the provider fakes saw, by the tag of the session or call it came from. */
import type { AnthropicEvent } from "../../test/fakes/anthropic/server.ts";
import type { DeepgramEvent } from "../../test/fakes/deepgram/server.ts";

export class Observed {
  readonly stt = new Map<string, DeepgramEvent[]>();
  readonly tts = new Map<string, DeepgramEvent[]>();
  readonly model = new Map<string, AnthropicEvent[]>();
  readonly deepgram = (event: DeepgramEvent) => {
    if (event.tag === undefined) return; // the apology clip, prepared untagged
    const into = event.kind.startsWith("stt_") ? this.stt : this.tts;
    push(into, event.tag, event);
  };

  readonly anthropic = (event: AnthropicEvent) => push(this.model, event.tag, event);
}

export function push<T>(map: Map<string, T[]>, key: string, value: T) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
