/**
 * The little of TwiML the fake acts on, read with regular expressions (no XML dependency):
 * `<Connect><Stream url="…"><Parameter name="…" value="…"/></Stream></Connect>` opens a
 * bidirectional Media Stream; `<Hangup/>` ends the call. Attribute order, quoting and
 * whitespace are free; entities are decoded.
 */

export interface StreamInstruction {
  url: string;
  /** The `<Parameter>`s, which Twilio hands to the WebSocket in `start.customParameters`. */
  parameters: Record<string, string>;
}

export type Instructions =
  | { kind: "stream"; stream: StreamInstruction }
  | { kind: "hangup" }
  /** Anything else: Twilio runs it and, with nothing left to do, hangs up. */
  | { kind: "other" }
  | { kind: "invalid"; error: string };

const CONNECT = /<Connect\b[^>]*>([\s\S]*?)<\/Connect\s*>/;
const STREAM = /<Stream\b((?:[^>"']|"[^"]*"|'[^']*')*?)(?:\/>|>([\s\S]*?)<\/Stream\s*>)/;
const PARAMETER = /<Parameter\b((?:[^>"']|"[^"]*"|'[^']*')*?)\/?>/g;
const ATTRIBUTE = /([A-Za-z_][-\w.:]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

export function readInstructions(twiml: string): Instructions {
  if (!/<Response\b[^>]*(?:\/>|>[\s\S]*<\/Response\s*>)/.test(twiml)) {
    return { kind: "invalid", error: "12100 Document parse failure: no <Response>" };
  }
  const connect = CONNECT.exec(twiml);
  const stream = connect?.[1] === undefined ? null : STREAM.exec(connect[1]);
  if (stream) {
    const attributes = readAttributes(stream[1] ?? "");
    const url = attributes.url;
    if (!url) return { kind: "invalid", error: "<Stream> has no url attribute" };
    const parameters: Record<string, string> = {};
    for (const match of (stream[2] ?? "").matchAll(PARAMETER)) {
      const { name, value } = readAttributes(match[1] ?? "");
      if (name) parameters[name] = value ?? "";
    }
    return { kind: "stream", stream: { url, parameters } };
  }
  if (/<Hangup\b/.test(twiml)) return { kind: "hangup" };
  return { kind: "other" };
}

function readAttributes(source: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of source.matchAll(ATTRIBUTE)) {
    const name = match[1];
    if (name) attributes[name] = decodeEntities(match[2] ?? match[3] ?? "");
  }
  return attributes;
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith("#x")) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith("#")) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[entity] ?? "";
  });
}
