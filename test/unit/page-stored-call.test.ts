/**
 * The call a browser can pick up again (stored-call.ts): kept for the origin, offered to
 * another tab or a reopened one within the resume window, resumed at once by its own tab.
 */
import { describe, expect, it } from "vitest";
import { CallStore, type KeyValueStorage, STORAGE_KEY } from "../../web/caller/stored-call.ts";

class MemoryStorage implements KeyValueStorage {
  readonly items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

const SESSION = "a".repeat(64);
const TOKEN = "t".repeat(43);

function browser(start = 1_000_000) {
  const local = new MemoryStorage();
  let now = start;
  /** A tab: its own sessionStorage, the origin's localStorage. */
  const tab = () => {
    const own = new MemoryStorage();
    return new CallStore(
      () => local,
      () => own,
      () => now,
    );
  };
  return { local, tab, advance: (ms: number) => (now += ms) };
}

describe("the stored call", () => {
  it("resumes in its own tab, and is offered to another while the window lasts", () => {
    const b = browser();
    const first = b.tab();
    expect(first.opening()).toEqual({ kind: "none" });
    first.save(SESSION, TOKEN, 600);
    expect(first.opening().kind).toBe("resume");
    b.advance(599_000);
    expect(b.tab().opening()).toMatchObject({ kind: "offer", call: { sessionId: SESSION } });
  });

  it("past the window, asks for a new sign-in and forgets the call", () => {
    const b = browser();
    b.tab().save(SESSION, TOKEN, 600);
    b.advance(601_000);
    expect(b.tab().opening()).toEqual({ kind: "none" });
    expect(b.local.items.has(STORAGE_KEY)).toBe(false);
  });

  it("counts the window from the last moment the page knew the call alive", () => {
    const b = browser();
    const first = b.tab();
    first.save(SESSION, TOKEN, 600);
    b.advance(500_000);
    first.touch();
    b.advance(500_000);
    expect(b.tab().opening().kind).toBe("offer");
  });

  it("keeps the caller's mute across a new token, but not into another session", () => {
    const b = browser();
    const store = b.tab();
    store.save(SESSION, TOKEN, 600);
    store.setMuted(true);
    store.save(SESSION, "u".repeat(43), 600);
    expect(store.call).toMatchObject({ token: "u".repeat(43), muted: true });
    store.save("b".repeat(64), TOKEN, 600);
    expect(store.call?.muted).toBe(false);
  });

  it("keeps the token and never a PIN; ignores what it did not write", () => {
    const b = browser();
    b.tab().save(SESSION, TOKEN, 600);
    expect(Object.keys(JSON.parse(b.local.items.get(STORAGE_KEY) ?? "{}")).sort()).toEqual([
      "muted",
      "savedAt",
      "sessionId",
      "token",
      "windowSeconds",
    ]);
    b.local.setItem(STORAGE_KEY, JSON.stringify({ sessionId: "not-hex", token: TOKEN }));
    expect(b.tab().opening()).toEqual({ kind: "none" });
    b.local.setItem(STORAGE_KEY, "{not json");
    expect(b.tab().call).toBeUndefined();
  });

  it("a tab whose call another tab took over leaves that tab's token alone", () => {
    const b = browser();
    const first = b.tab();
    first.save(SESSION, TOKEN, 600);
    const second = b.tab();
    expect(second.opening().kind).toBe("offer");
    second.save(SESSION, "u".repeat(43), 600);
    // The first tab hears "continued elsewhere" and lets go of the call: the second keeps it.
    first.forget();
    expect(second.call?.token).toBe("u".repeat(43));
    // Declining the offer in a third tab drops the old call.
    b.tab().forget();
    expect(b.local.items.has(STORAGE_KEY)).toBe(false);
  });

  it("goes on without storage (blocked cookies): nothing kept, nothing thrown", () => {
    const broken = () => {
      throw new Error("SecurityError");
    };
    const store = new CallStore(broken, broken);
    store.save(SESSION, TOKEN, 600);
    expect(store.opening()).toEqual({ kind: "none" });
  });
});
