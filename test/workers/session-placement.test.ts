import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../worker/app.ts";

/**
 * The real CallSession namespace, except that `get()` records the options it was asked with and
 * answers for the object: where an object runs cannot be seen under workerd, what it was asked
 * for can.
 */
function recordingNamespace() {
  const asked: (DurableObjectNamespaceGetDurableObjectOptions | undefined)[] = [];
  const real = env.CALL_SESSION;
  const namespace = {
    newUniqueId: () => real.newUniqueId(),
    idFromString: (id: string) => real.idFromString(id),
    get: (_id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions) => {
      asked.push(options);
      return { fetch: async () => new Response("reached") };
    },
  };
  return { asked, namespace };
}

async function openSocket(vars: Record<string, string>, query = "") {
  const { asked, namespace } = recordingNamespace();
  const response = await app.request(
    `http://convonet.test/ws${query}`,
    { headers: { upgrade: "websocket" } },
    // Only what /ws reads of the namespace is there.
    { ...env, ...vars, CALL_SESSION: namespace } as unknown as Env,
  );
  expect(await response.text()).toBe("reached");
  return asked;
}

describe("where a call's session object is asked to run", () => {
  it("a new call's: near the providers by default (SESSION_LOCATION_HINT)", async () => {
    expect(await openSocket({})).toEqual([{ locationHint: "enam" }]);
    expect(await openSocket({ SESSION_LOCATION_HINT: "weur" })).toEqual([{ locationHint: "weur" }]);
  });

  it("no hint with `none`: Cloudflare places it near the caller", async () => {
    expect(await openSocket({ SESSION_LOCATION_HINT: "none" })).toEqual([undefined]);
  });

  it("a resumed call's object already runs somewhere: no hint", async () => {
    const id = env.CALL_SESSION.newUniqueId().toString();
    expect(await openSocket({}, `?session=${id}`)).toEqual([undefined]);
  });
});
