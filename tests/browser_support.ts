// deno-lint-ignore-file no-import-prefix -- test tools stay out of the import map: `deno task`
// installs every package there, and `deno task dev` must not download them (tests/dx_test.ts).
/**
 * @module
 * What the Chromium tests share: finding the system's Chromium (never a
 * download), launching it with a fake camera and microphone, one browser
 * context per page (one person per context: the session is a cookie),
 * signing in through the page, waiting on the page's own state attributes,
 * accessibility checks with axe-core, and a folder for screenshots.
 */

import assert from "node:assert/strict";
import type { BrowserContext, Page } from "npm:playwright-core@1.65.1";
import { startServer, type TestServer } from "./harness.ts";

/** Debian's Chromium (never a download); CHROMIUM_PATH points elsewhere (or nowhere, to try). */
export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
export const ROOM = "visit:visit-123";
export const WAIT_MS = 10_000;

function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}
export const hasChromium = chromiumInstalled();

/**
 * Browser tests run where Chromium is. `.ci/run` installs it and sets BROWSER_TESTS=required, so
 * there a missing browser fails instead of skipping (a generic CI=true does not: many CI
 * systems set it on machines without Chromium).
 */
export const noBrowser = !hasChromium && Deno.env.get("BROWSER_TESTS") !== "required";

/** The one line a run without Chromium prints (tests/browser_test.ts prints it, once). */
export const SKIP_LINE = `browser tests skipped: no Chromium at ${CHROMIUM} ` +
  "(install it with `sudo apt-get install chromium`, or set CHROMIUM_PATH); " +
  "tests/browser*_test.ts did not run";

/** Errors a page reports on its own: uncaught exceptions, console errors (CSP too), dialogs. */
export function watch(page: Page, name: string, problems: string[]): void {
  page.on("pageerror", (err) => problems.push(`${name} pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${name} console: ${msg.text()}`);
  });
  page.on("dialog", (dialog) => {
    problems.push(`${name} dialog: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
}

export async function signIn(page: Page, srv: TestServer, email: string): Promise<void> {
  if (page.url() !== `${srv.url}/`) await page.goto(srv.url);
  // A background tab gets no animation frames, which Playwright's "stable" check waits on.
  await page.bringToFront();
  // The pages of one test share cookies: a page may have signed in with another page's session.
  await page.locator("html[data-session-checked]").waitFor({ state: "attached" });
  if (await page.locator("#login-panel").isHidden()) {
    await page.getByRole("button", { name: "Sign out" }).click();
  }
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("password123");
  await page.getByRole("button", { name: "Sign in and connect" }).click();
  await page.locator("#status", { hasText: /^Connected$/ }).waitFor();
}

export async function joinVisit(page: Page): Promise<void> {
  await page.bringToFront();
  assert.equal(await page.getByLabel("Room id").inputValue(), ROOM);
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await page.locator("#room-info", { hasText: `In Visit visit-123.` }).waitFor();
}

/** Waits until `page` shows `userId` with presence `status` (data-status of the row). */
export async function presenceOf(page: Page, userId: string, status: string): Promise<void> {
  await page.locator(`#presence-list li[data-user-id="${userId}"][data-status="${status}"]`)
    .waitFor();
}

/** Waits for the call panel's state (data-state of #call-state). */
export async function callState(page: Page, state: string): Promise<void> {
  await page.locator(`#call-state[data-state="${state}"]`).waitFor();
}

/** What the page callbacks read of a <video> (tests type-check without the DOM library). */
export interface VideoElement {
  srcObject: { getTracks(): { kind: string; readyState: string }[] } | null;
  videoWidth: number;
  muted: boolean;
}

/** Waits until the remote <video> plays a MediaStream with live audio and video from the peer. */
export async function remoteMediaFlows(page: Page): Promise<void> {
  const handle = await page.locator("#remote-video").elementHandle();
  try {
    await page.waitForFunction((el) => {
      const video = el as unknown as VideoElement;
      const tracks = video.srcObject?.getTracks() ?? [];
      const live = tracks.filter((t) => t.readyState === "live").map((t) => t.kind);
      // videoWidth > 0: frames were decoded, not only negotiated.
      return live.includes("audio") && live.includes("video") && video.videoWidth > 0;
    }, handle);
  } finally {
    await handle?.dispose();
  }
}

/** The srcObject of each <video> of the call panel: null, or the number of its tracks. */
export function videoTracks(page: Page): Promise<(number | null)[]> {
  return page.$$eval(
    "#call-panel video",
    (els) => els.map((el) => (el as unknown as VideoElement).srcObject?.getTracks().length ?? null),
  );
}

export const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  // getUserMedia without a prompt, fed by a generated test pattern and tone.
  "--use-fake-ui-for-media-stream",
  "--use-fake-device-for-media-stream",
];

/**
 * Loaded on use, not at the top, so a skipped run never loads Playwright: under Deno it reads
 * /proc/sys and OS details at import time, which only --allow-all permits.
 */
export async function loadPlaywright(): Promise<typeof import("npm:playwright-core@1.65.1")> {
  try {
    return await import("npm:playwright-core@1.65.1");
  } catch (err) {
    if (!(err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied)) {
      throw err;
    }
    throw new Error(
      "tests/browser_test.ts needs --allow-all (Playwright reads /proc/sys and OS details): " +
        "run `deno test -A tests/browser_test.ts`",
      { cause: err },
    );
  }
}

/** Opens pages; each page is its own browser context (its own cookies: its own session). */
export interface Pages {
  pages(): Page[];
  newPage(opts?: PageOptions): Promise<Page>;
}

/** What a test may ask of a new page: its size (a phone), touch, a URL to start at. */
export interface PageOptions {
  viewport?: { width: number; height: number };
  isMobile?: boolean;
  hasTouch?: boolean;
}

/**
 * Runs `fn` in Chromium; every page it opens gets a context of its own, as two people on two
 * computers have (the session is a cookie). Closes everything after.
 */
export async function withChromium(fn: (browser: Pages) => Promise<void>): Promise<void> {
  const { chromium } = await loadPlaywright();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: LAUNCH_ARGS,
  });
  const contexts: BrowserContext[] = [];
  try {
    await fn({
      pages: () => [],
      async newPage(opts: PageOptions = {}) {
        const context = await browser.newContext({
          viewport: opts.viewport ?? { width: 1280, height: 860 },
          isMobile: opts.isMobile,
          hasTouch: opts.hasTouch,
        });
        context.setDefaultTimeout(WAIT_MS);
        contexts.push(context);
        return await context.newPage();
      },
    });
  } finally {
    for (const c of contexts) await c.close().catch(() => {});
    await browser.close();
  }
}

/**
 * Runs `fn` against a test server (the demo accounts; demo mode unless `env` says otherwise, so
 * the page shows its event log) in Chromium.
 */
export async function withBrowser(
  fn: (browser: Pages, srv: TestServer) => Promise<void>,
  env: Record<string, string> = { DEMO_DATA: "true" },
): Promise<void> {
  const srv = await startServer({ env });
  try {
    await withChromium((browser) => fn(browser, srv));
  } finally {
    await srv.close();
  }
}

/**
 * Where tests keep what a person should look at afterwards (screenshots): TEST_ARTIFACTS, or
 * test-artifacts/ at the project's root (ignored by git).
 */
export function artifactPath(name: string): string {
  const dir = Deno.env.get("TEST_ARTIFACTS") ??
    new URL("../test-artifacts/", import.meta.url).pathname;
  Deno.mkdirSync(dir, { recursive: true });
  return `${dir.replace(/\/$/, "")}/${name}`;
}

/** An axe-core finding, as much of it as a failing assert needs to say. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core (WCAG 2 A and AA rules) on the page as it is and returns the serious and
 * critical violations. The script goes in through the DevTools protocol, which the page's CSP
 * does not govern, so the page keeps its own policy.
 */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  const { default: axe } = await import("npm:axe-core@4.14.1");
  await page.evaluate(axe.source);
  const found = await page.evaluate(async () => {
    const run = (globalThis as unknown as {
      axe: {
        run(
          ctx: unknown,
          opts: unknown,
        ): Promise<
          {
            violations: {
              id: string;
              impact: string | null;
              help: string;
              nodes: { target: unknown[] }[];
            }[];
          }
        >;
      };
    }).axe.run;
    const doc = (globalThis as unknown as { document: unknown }).document;
    const result = await run(doc, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  return found.filter((v) => v.impact === "serious" || v.impact === "critical");
}
