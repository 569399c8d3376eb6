import { describe, expect, it } from "vitest";
import { parseConfig } from "../../worker/config.ts";

const hintOf = (value: string | undefined) =>
  parseConfig({ SESSION_LOCATION_HINT: value }).sessionLocationHint;

describe("where a new call's session object is placed (SESSION_LOCATION_HINT)", () => {
  it("is near the providers, in the eastern US, unless told otherwise", () => {
    expect(hintOf(undefined)).toBe("enam");
    expect(hintOf("")).toBe("enam");
  });

  it("takes any of Cloudflare's location hints", () => {
    for (const hint of ["wnam", "weur", "apac-se", "oc", "me"]) expect(hintOf(hint)).toBe(hint);
    expect(hintOf(" weur ")).toBe("weur");
    expect(hintOf("WEUR")).toBe("weur");
  });

  it("gives no hint for `none`: the object is placed near the caller's first request", () => {
    expect(hintOf("none")).toBeUndefined();
  });

  it("keeps the default for a value that is no hint", () => {
    for (const value of ["mars", "EU", "weur,enam", "none please"])
      expect(hintOf(value)).toBe("enam");
  });
});
