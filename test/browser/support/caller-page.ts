/**
 * Steps on the caller page shared by the browser tests, whichever driver runs the browser
 * (Playwright for Chromium, puppeteer for Firefox): both offer these two calls.
 */
export interface DrivenPage {
  click(selector: string): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
}

/** Where the page keeps the session it can resume (sessionStorage). */
export const STORAGE_KEY = "convonet.session";

/** Types the PIN on the page's keypad and submits it. */
export async function enterPin(page: DrivenPage, pin: string) {
  for (const digit of pin) await page.click(`[data-key="${digit}"]`);
  await page.click("[data-testid=pin-submit]");
}

/** The session the page stored for resuming, `{}` when there is none. */
export async function storedSession(
  page: DrivenPage,
): Promise<{ sessionId?: string; token?: string }> {
  const raw = await page.evaluate(`sessionStorage.getItem(${JSON.stringify(STORAGE_KEY)})`);
  return typeof raw === "string" ? (JSON.parse(raw) as { sessionId?: string; token?: string }) : {};
}
