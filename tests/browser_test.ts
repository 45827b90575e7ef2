/**
 * @module
 * End-to-end test of the bundled test client (static/) in a real headless
 * Chromium driven by playwright-core: two pages (patient and doctor) sign in
 * through the UI, join the visit room, page through history, see each other's
 * typing and messages, survive a server-side disconnect by resuming with
 * `since`, and reload history. Hostile message text must stay literal text.
 * A second test drives static/client.js directly in the page: refused token,
 * queued-request timeout, refreshToken, refusals as acks, close.
 *
 * Uses the system's /usr/bin/chromium (never downloads one). Skipped where it
 * is missing, except in CI (CI=true), which installs it and must run this.
 * Needs `deno test -A`: Playwright under Deno reads /proc/sys at import.
 */

import assert from "node:assert/strict";
import type { BrowserContext, Page } from "playwright-core";
import { appendMessage } from "../store/messages.ts";
import { startServer, type TestServer } from "./harness.ts";

const CHROMIUM = "/usr/bin/chromium";
const ROOM = "visit:visit-123";
const PAGE_SIZE = 20; // static/app.js PAGE_SIZE
const SEEDED = 25;
const HOSTILE = "Look: <img src=x onerror=alert(1)> & <b>bold</b>";
const WAIT_MS = 10_000;
const SCREENSHOT = "/tmp/telehealth_browser_test.png";

function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}
const hasChromium = chromiumInstalled();

/** Errors a page reports on its own: uncaught exceptions, console errors (CSP too), dialogs. */
function watch(page: Page, name: string, problems: string[]): void {
  page.on("pageerror", (err) => problems.push(`${name} pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${name} console: ${msg.text()}`);
  });
  page.on("dialog", (dialog) => {
    problems.push(`${name} dialog: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
}

async function signIn(page: Page, srv: TestServer, email: string): Promise<void> {
  if (page.url() !== `${srv.url}/`) await page.goto(srv.url);
  // A background tab gets no animation frames, which Playwright's "stable" check waits on.
  await page.bringToFront();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("password123");
  await page.getByRole("button", { name: "Sign in and connect" }).click();
  await page.locator("#status", { hasText: /^Connected$/ }).waitFor();
}

/** Waits until exactly `n` messages are listed (a page of history renders in one task). */
async function messageCount(page: Page, n: number): Promise<void> {
  const items = page.locator("#messages > li");
  await items.nth(n - 1).waitFor({ state: "attached" });
  await items.nth(n).waitFor({ state: "detached" });
}

async function joinVisit(page: Page): Promise<void> {
  await page.bringToFront();
  assert.equal(await page.getByLabel("Room id").inputValue(), ROOM);
  await page.getByRole("button", { name: "Join", exact: true }).click();
  await page.locator("#room-info", { hasText: `In ${ROOM}.` }).waitFor();
}

/** Seq numbers of the rendered messages, top to bottom. */
function seqs(page: Page): Promise<number[]> {
  return page.$$eval("#messages > li", (lis) => lis.map((li) => Number(li.dataset.seq)));
}

/** The part of static/client.js the library test drives (the page's types are not loaded here). */
interface BrowserClient {
  on(event: string, fn: (data: unknown) => void): () => void;
  request(
    event: string,
    data?: unknown,
    opts?: { timeoutMs?: number },
  ): Promise<Record<string, unknown>>;
  refreshToken(token: string): Promise<Record<string, unknown>>;
  close(): void;
}

const LAUNCH_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Loaded on use, not at the top, so a skipped run never loads Playwright: under Deno it reads
 * /proc/sys and OS details at import time, which only --allow-all permits.
 */
async function loadPlaywright(): Promise<typeof import("playwright-core")> {
  try {
    return await import("playwright-core");
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

/** Runs `fn` against the demo server in Chromium with a fresh profile; closes both after. */
async function withBrowser(
  fn: (context: BrowserContext, srv: TestServer) => Promise<void>,
): Promise<void> {
  const { chromium } = await loadPlaywright();
  const srv = await startServer();
  const profile = await Deno.makeTempDir({ prefix: "telehealth_chromium_" });
  try {
    // A persistent context is how Playwright takes a --user-data-dir: a fresh one per run.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: LAUNCH_ARGS,
      viewport: { width: 1280, height: 860 },
    });
    try {
      context.setDefaultTimeout(WAIT_MS);
      await fn(context, srv);
    } finally {
      await context.close();
    }
  } finally {
    await srv.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "browser client: sign in, join, history, typing, hostile text, resume, reload",
  ignore: !hasChromium && Deno.env.get("CI") !== "true",
  fn: () =>
    withBrowser(async (context, srv) => {
      const problems: string[] = [];
      for (let i = 1; i <= SEEDED; i++) {
        await appendMessage(srv.kv, {
          roomId: ROOM,
          visitId: "visit-123",
          senderId: i % 2 ? "patient-1" : "doctor-1",
          message: `Earlier message ${i}`,
        }, { id: `msg_seed_${i}`, now: new Date(Date.UTC(2025, 0, 1, 9, i)) });
      }

      const patient = context.pages()[0] ?? await context.newPage();
      const doctor = await context.newPage();
      watch(patient, "patient", problems);
      watch(doctor, "doctor", problems);

      await signIn(patient, srv, "patient@example.com");
      await signIn(doctor, srv, "doctor@example.com");
      assert.match(await doctor.locator("#who").innerText(), /doctor-1, doctor/);

      // Join shows the newest page; "Load older" brings the rest and then hides.
      await joinVisit(patient);
      await joinVisit(doctor);
      await messageCount(doctor, PAGE_SIZE);
      await doctor.locator("#room-info", { hasText: "patient-1 (patient)" }).waitFor();
      await doctor.getByRole("button", { name: "Load older messages" }).click();
      await messageCount(doctor, SEEDED);
      await doctor.getByRole("button", { name: "Load older messages" }).waitFor({
        state: "hidden",
      });
      assert.deepEqual(await seqs(doctor), Array.from({ length: SEEDED }, (_, i) => i + 1));

      // Typing reaches the other page; sending clears it.
      const input = patient.getByLabel("Message", { exact: true });
      await patient.bringToFront();
      await input.fill(HOSTILE);
      await doctor.locator("#typing", { hasText: "patient-1 is typing..." }).waitFor();
      await input.press("Enter");
      // Found by seq, not by text: a page that parsed the text as HTML must fail the asserts
      // below, not time out here.
      const hostileSeq = SEEDED + 1;
      const received = doctor.locator(`#messages > li[data-seq="${hostileSeq}"]`);
      await received.waitFor();
      await doctor.locator("#typing:empty").waitFor({ state: "attached" });
      await patient.locator(`#messages > li.own[data-seq="${hostileSeq}"]`).waitFor();
      assert.equal(await input.inputValue(), "");

      // Hostile text is shown literally: no element was parsed out of it.
      assert.equal(await received.locator(".text").textContent(), HOSTILE, "shown literally");
      assert.equal(await received.locator("img, b").count(), 0);
      assert.equal(await doctor.locator("img").count(), 0);
      assert.equal(await patient.locator("img").count(), 0);
      assert.equal(await received.locator(".sender").textContent(), "patient-1");

      // Resume: a message stored with no live delivery reaches both pages only through the
      // re-join with `since` after the server drops every socket.
      await appendMessage(srv.kv, {
        roomId: ROOM,
        visitId: "visit-123",
        senderId: "doctor-1",
        message: "Sent while you were away",
      }, { id: "msg_missed", now: new Date() });
      srv.app.hub.closeAll(1001, "Server restarting");
      for (const page of [patient, doctor]) {
        await page.locator("#messages > li", { hasText: "Sent while you were away" }).waitFor();
        await page.locator("#log li", { hasText: `"since":${hostileSeq}` }).first().waitFor();
        await page.locator("#status", { hasText: /^Connected$/ }).waitFor();
      }
      await doctor.screenshot({ path: SCREENSHOT, fullPage: true });

      // A reload signs out (the token lives in memory); history comes back after signing in.
      await patient.reload();
      await patient.getByRole("heading", { name: "Sign in" }).waitFor();
      await signIn(patient, srv, "patient@example.com");
      await joinVisit(patient);
      await messageCount(patient, PAGE_SIZE);
      const reloaded = patient.locator(`#messages > li[data-seq="${hostileSeq}"] .text`);
      assert.equal(await reloaded.textContent(), HOSTILE, "history shows it literally");
      assert.deepEqual(
        await seqs(patient),
        Array.from({ length: PAGE_SIZE }, (_, i) => SEEDED + 2 - PAGE_SIZE + 1 + i),
      );
      assert.equal(await patient.locator("img").count(), 0);

      assert.deepEqual(problems, []);
    }),
});

Deno.test({
  name: "browser client library: refused token, queued timeout, refreshToken, refusals, close",
  ignore: !hasChromium && Deno.env.get("CI") !== "true",
  fn: () =>
    withBrowser(async (context, srv) => {
      const problems: string[] = [];
      const page = context.pages()[0] ?? await context.newPage();
      watch(page, "page", problems);
      await page.goto(srv.url);
      const token = await srv.login("patient2@example.com");
      const result = await page.evaluate(async ({ url, token }) => {
        const lib = await import(url) as {
          connect(url: string, opts: { token: string }): BrowserClient;
        };
        const until = (c: BrowserClient, status: string) =>
          new Promise<void>((resolve) => {
            const off = c.on("status", (s) => s === status && (off(), resolve()));
          });
        const codeOf = (p: Promise<unknown>) =>
          p.then(() => "resolved", (e) => (e as { code: string }).code);

        const client = lib.connect("/ws", { token: "not-a-jwt" });
        const statuses: unknown[] = [];
        client.on("status", (s) => statuses.push(s));
        const refusal = new Promise((resolve) => client.on("connect_error", resolve));
        await until(client, "unauthorized");
        // Stopped, not looping: a request waits in the queue and times out there.
        const queued = await codeOf(client.request("ping", {}, { timeoutMs: 50 }));
        const open = until(client, "open");
        const deferred = await client.refreshToken(token);
        await open;
        const ping = await client.request("ping");
        const refreshed = await client.refreshToken(token);
        const forbidden = await client.request("room:join", { roomId: "visit:visit-123" });
        client.close();
        const afterClose = await codeOf(client.request("ping"));
        return {
          refusal: await refusal,
          statuses,
          queued,
          deferred,
          ping,
          refreshed,
          forbidden,
          afterClose,
        };
      }, { url: `${srv.url}/static/client.js`, token });

      assert.deepEqual(result.refusal, { message: "Authentication error: Invalid token" });
      assert.deepEqual(result.statuses, [
        "connecting",
        "unauthorized",
        "connecting",
        "open",
        "closed",
      ]);
      assert.equal(result.queued, "TIMEOUT");
      assert.deepEqual(result.deferred, { success: true, deferred: true });
      assert.equal(result.ping.success, true);
      assert.equal(result.refreshed.success, true);
      assert.ok(!Number.isNaN(Date.parse(String(result.refreshed.expiresAt))));
      // A refusal resolves with the ack (success: false); only a missing ack rejects.
      assert.equal(result.forbidden.success, false);
      assert.equal(result.forbidden.code, "FORBIDDEN");
      assert.equal(result.afterClose, "CLOSED");
      assert.deepEqual(problems, []);
    }),
});
