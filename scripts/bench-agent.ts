/**
 * `npm run bench`: the agent's own overhead. Starts the whole app (`scripts/start.ts`, fresh
 * embedded Postgres) with the fake Anthropic API answering instantly, then runs text turns
 * from a WebSocket client and reports time to first token — measured by the server (turn
 * start → first reply text) and by the client (message sent → first reply text received) —
 * for a plain reply and for a turn with one tool call (a real Postgres write).
 *
 *   npm run bench               a table
 *   npm run bench -- --json     the same figures as one JSON object
 */
import { parseArgs } from "node:util";
import { parseServerMessage, type ServerMessage } from "../protocol/messages.ts";
import { scriptClaude } from "../test/fakes/anthropic/client.ts";
import { startFakeAnthropic } from "../test/fakes/anthropic/server.ts";
import { startAppProcess, stopAppsOnSignal } from "./app-process.ts";
import { summary } from "./percentiles.ts";

const { values: args } = parseArgs({
  options: { json: { type: "boolean", default: false }, turns: { type: "string", default: "40" } },
});
const TURNS = Number(args.turns);

class Client {
  readonly #ws: WebSocket;
  readonly #queue: ServerMessage[] = [];
  #wake: (() => void) | undefined;

  constructor(url: string) {
    this.#ws = new WebSocket(url);
    this.#ws.addEventListener("message", (event) => {
      const parsed = parseServerMessage(String(event.data));
      if (parsed.ok) this.#queue.push(parsed.message);
      this.#wake?.();
    });
  }

  opened() {
    return new Promise((resolve) => this.#ws.addEventListener("open", resolve, { once: true }));
  }

  send(message: object) {
    this.#ws.send(JSON.stringify(message));
  }

  async next(): Promise<ServerMessage> {
    while (this.#queue.length === 0) await new Promise<void>((resolve) => (this.#wake = resolve));
    const message = this.#queue.shift();
    if (!message) throw new Error("empty");
    return message;
  }

  close() {
    this.#ws.close();
  }
}

async function main() {
  stopAppsOnSignal();
  const fake = await startFakeAnthropic();
  const app = await startAppProcess({
    ANTHROPIC_API_KEY: "test-anthropic-key",
    ANTHROPIC_BASE_URL: fake.url,
  });

  const client = new Client(`${app.url.replace("http", "ws")}ws`);
  await client.opened();
  await client.next(); // hello
  client.send({ type: "sign_in", pin: "1234" });
  while ((await client.next()).type !== "signed_in") {
    // wait
  }

  const results: Record<string, { server: number[]; client: number[] }> = {
    text: { server: [], client: [] },
    tool: { server: [], client: [] },
  };
  for (const kind of ["text", "tool"] as const) {
    // Two warm-up turns are not counted.
    for (let i = 0; i < TURNS + 2; i++) {
      await scriptClaude(
        fake.url,
        "Alice Nguyen",
        kind === "text"
          ? [{ kind: "text", text: "Sure, here you go." }]
          : [
              {
                kind: "tool_use",
                calls: [{ name: "create_todo", input: { title: `Bench todo ${i}` } }],
              },
              { kind: "text", text: "Added it." },
            ],
      );
      const sent = performance.now();
      client.send({ type: "user_text", id: `b${kind}${i}`, text: "benchmark turn" });
      let firstClient: number | undefined;
      for (;;) {
        const message = await client.next();
        if (message.type === "assistant_delta") firstClient ??= performance.now() - sent;
        if (message.type === "assistant_done") {
          if (i >= 2 && message.metrics.firstTextMs !== null && firstClient !== undefined) {
            results[kind]?.server.push(message.metrics.firstTextMs);
            results[kind]?.client.push(firstClient);
          }
          break;
        }
      }
    }
  }
  client.close();

  const figures = {
    conditions: {
      turns_per_kind: TURNS,
      provider_latency_ms: 0,
      runtime:
        "wrangler dev (workerd) on 127.0.0.1, embedded Postgres behind Neon's HTTP protocol, fake Anthropic SSE",
      machine: "2 cores",
    },
    ttft_server_ms: {
      text: summary(results.text?.server ?? []),
      tool: summary(results.tool?.server ?? []),
    },
    ttft_client_ms: {
      text: summary(results.text?.client ?? []),
      tool: summary(results.tool?.client ?? []),
    },
  };
  if (args.json) console.log(JSON.stringify(figures));
  else {
    console.log(`Agent time to first token, fake Claude answering instantly, ${TURNS} turns each:`);
    console.log("                     p50      p95      p99   (ms)");
    const rows = [
      ["server, plain reply", figures.ttft_server_ms.text],
      ["server, 1 tool call", figures.ttft_server_ms.tool],
      ["client, plain reply", figures.ttft_client_ms.text],
      ["client, 1 tool call", figures.ttft_client_ms.tool],
    ] as const;
    for (const [label, s] of rows) {
      console.log(
        `${label.padEnd(20)} ${String(s.p50).padStart(6)} ${String(s.p95).padStart(8)} ${String(s.p99).padStart(8)}`,
      );
    }
  }
  await app.stop();
  await fake.close();
}

await main();
