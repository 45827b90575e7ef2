// deno-lint-ignore-file no-import-prefix -- test tools stay out of the import map: `deno task`
// installs every package there, and `deno task dev` must not download them (tests/dx_test.ts).
/**
 * @module
 * A whole visit in Chromium, as a clinic would live it: a patient and a
 * doctor (two browser contexts) on a server whose access tokens live 5
 * seconds. A video call outlives three token lifetimes because the client
 * renews the token on the live socket; a message sent while the server
 * restarts waits, then is stored once; a refused send shows next to the
 * message with Retry; a reload keeps the session; a revoked session ends
 * every live control (the call too). Then the phone layout (tabs, an
 * incoming call, screenshots kept in test-artifacts/), axe-core on each
 * screen, the plain (non-demo) page, and the client library loaded by a
 * blank page of another origin.
 */

import assert from "node:assert/strict";
import type { Page } from "npm:playwright-core@1.65.1";
import { ALLOWED_ORIGIN, startServer, type TestServer } from "./harness.ts";
import {
  artifactPath,
  callState,
  joinVisit,
  noBrowser,
  remoteMediaFlows,
  seriousA11yViolations,
  signIn,
  watch,
  withBrowser,
  withChromium,
} from "./browser_support.ts";
import { MAX_MESSAGE_BYTES } from "../realtime/handlers/messages.ts";

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
/** Three 5-second token lifetimes and some: the waits below allow for that. */
const LONG_WAIT = 25_000;

/** Seconds shown by the call timer ("m:ss"). */
async function timerSeconds(page: Page): Promise<number> {
  const [m, s] = (await page.locator("#call-timer").innerText()).split(":").map(Number);
  return m * 60 + s;
}

/** The doctor video-calls the patient, who accepts; resolves when media flows both ways. */
async function videoCall(doctor: Page, patient: Page): Promise<void> {
  await doctor.bringToFront();
  await doctor.getByRole("button", { name: "Video call" }).click();
  await patient.getByRole("alertdialog").waitFor();
  await patient.bringToFront();
  await patient.getByRole("button", { name: "Accept" }).click();
  for (const page of [doctor, patient]) {
    await page.locator('#call-panel[data-rtc="connected"]').waitFor();
    await callState(page, "in_progress");
    await remoteMediaFlows(page);
  }
}

/** Fails with the list when axe-core finds serious or critical violations. */
async function assertAccessible(page: Page, where: string): Promise<void> {
  const found = await seriousA11yViolations(page);
  assert.deepEqual(found, [], `${where}: ${JSON.stringify(found, null, 2)}`);
}

Deno.test({
  name: "browser visit: a call outlives 3 token lifetimes, a send survives a restart, reload, " +
    "a revoked session stops everything",
  ignore: noBrowser,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "telehealth_visit_" });
    const kvPath = `${dir}/kv.sqlite`;
    const env = { DEMO_DATA: "true", JWT_TTL: "5" };
    let srv: TestServer = await startServer({ env, kvPath });
    const port = Number(new URL(srv.url).port);
    try {
      await withChromium(async (browser) => {
        const problems: string[] = [];
        const patient = await browser.newPage();
        const doctor = await browser.newPage();
        watch(patient, "patient", problems);
        watch(doctor, "doctor", problems);
        await signIn(patient, srv, "patient@example.com");
        await signIn(doctor, srv, "doctor@example.com");
        await joinVisit(patient);
        await joinVisit(doctor);

        // The call goes on through three renewals on each side, without a socket closing.
        await videoCall(doctor, patient);
        for (const page of [doctor, patient]) {
          await page.locator("#log li", { hasText: "→ auth:refresh" }).nth(2).waitFor({
            timeout: LONG_WAIT,
          });
        }
        for (const page of [doctor, patient]) {
          assert.equal(await page.locator("#log li", { hasText: "socket closed" }).count(), 0);
          await callState(page, "in_progress");
          assert.equal(await page.locator("#call-panel").getAttribute("data-rtc"), "connected");
          assert.ok(await timerSeconds(page) >= 8, "the timer runs past two token lifetimes");
          assert.equal(await page.locator("#status").innerText(), "Connected");
        }

        // Mute and camera: the local tracks stop sending, the call goes on.
        await doctor.bringToFront();
        await doctor.getByRole("button", { name: "Mute" }).click();
        await doctor.getByRole("button", { name: "Turn camera off" }).click();
        assert.equal(await doctor.locator("#mute").getAttribute("aria-pressed"), "true");
        assert.equal(await doctor.locator("#local-caption").innerText(), "You (muted, camera off)");
        const enabled = await doctor.locator("#local-video").evaluate((v) =>
          (v as unknown as {
            srcObject: { getTracks(): { kind: string; enabled: boolean }[] };
          }).srcObject.getTracks().map((t) => `${t.kind}:${t.enabled}`).sort()
        );
        assert.deepEqual(enabled, ["audio:false", "video:false"]);
        await assertAccessible(doctor, "desktop, in a call");
        await doctor.screenshot({ path: artifactPath("desktop-call.png"), fullPage: true });
        await doctor.getByRole("button", { name: "Hang up" }).click();
        for (const page of [doctor, patient]) await callState(page, "ended");

        // A send during a restart: shown at once, waits for the server, stored once.
        await srv.close();
        await patient.bringToFront();
        await patient.locator("#status", { hasText: "Reconnecting" }).waitFor();
        const input = patient.getByLabel("Message", { exact: true });
        await input.fill("Sent during the restart");
        await input.press("Enter");
        const waiting = patient.locator("#messages > li[data-send]", {
          hasText: "Sent during the restart",
        });
        await waiting.locator(".send-state", { hasText: "Waiting for the connection" }).waitFor();
        srv = await startServer({ env, kvPath, port });
        await patient.locator("#messages > li.own[data-seq]", {
          hasText: "Sent during the restart",
        }).waitFor({ timeout: LONG_WAIT });
        assert.equal(await patient.locator("#messages > li[data-send]").count(), 0);
        await doctor.locator("#messages > li", { hasText: "Sent during the restart" }).waitFor({
          timeout: LONG_WAIT,
        });
        for (const page of [patient, doctor]) {
          assert.equal(
            await page.locator("#messages > li", { hasText: "Sent during the restart" }).count(),
            1,
            "stored and shown once",
          );
        }

        // A refused send stays next to the message with Retry and Discard.
        await patient.bringToFront();
        await input.fill("x".repeat(MAX_MESSAGE_BYTES + 1));
        await input.press("Enter");
        const failed = patient.locator('#messages > li[data-send="failed"]');
        await failed.locator(".send-state", { hasText: "Not sent:" }).waitFor();
        await failed.getByRole("button", { name: "Retry" }).waitFor();
        await failed.getByRole("button", { name: "Discard" }).click();
        await failed.waitFor({ state: "detached" });

        // A reload keeps the session (the refresh cookie).
        await patient.reload();
        await patient.locator("#status", { hasText: /^Connected$/ }).waitFor();
        assert.equal(await patient.locator("#who").innerText(), "Pat Patient (patient)");
        await joinVisit(patient);

        // The doctor's session is revoked (signed out elsewhere) in the middle of a call: the
        // next renewal fails, the page says so, and nothing stays live, the call included.
        await videoCall(doctor, patient);
        const cookies = await doctor.context().cookies();
        const session = cookies.find((c) => c.name === "th_refresh");
        assert.ok(session, "the refresh cookie is set");
        assert.equal(session.httpOnly, true);
        assert.equal(session.sameSite, "Strict");
        const res = await fetch(`${srv.url}/api/v1/auth/refresh`, {
          method: "DELETE",
          headers: { cookie: `th_refresh=${session.value}`, origin: srv.url },
        });
        await res.body?.cancel();
        assert.ok(res.ok, `logout answered ${res.status}`);
        await doctor.locator("#error", { hasText: "Your session has ended" }).waitFor({
          timeout: LONG_WAIT,
        });
        await doctor.locator("#login-panel").waitFor();
        assert.equal(await doctor.locator("#call-panel").isHidden(), true);
        assert.equal(await doctor.locator("#chat-panel").isHidden(), true);
        assert.deepEqual(
          await doctor.$$eval(
            "video",
            (vs) => vs.map((v) => (v as unknown as { srcObject: unknown }).srcObject),
          ),
          [null, null],
          "camera and microphone released",
        );
        await callState(patient, "ended");
        // The refused refresh is the one error the doctor's console shows (Chromium logs it).
        assert.deepEqual(problems, [
          "doctor console: Failed to load resource: the server responded with a status of 401 " +
          "(Unauthorized)",
        ]);
      });
    } finally {
      await srv.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "browser: a tab never turns into the user another tab of the same browser signed in as",
  ignore: noBrowser,
  fn: () =>
    withBrowser(async (browser, srv) => {
      const problems: string[] = [];
      const patient = await browser.newPage();
      // The same browser (one cookie jar): the second tab shares the session cookie.
      const other = await patient.context().newPage();
      watch(patient, "patient", problems);
      await signIn(patient, srv, "patient@example.com");
      await other.goto(srv.url);
      // The other tab signs in as the doctor: the browser's one session cookie is now theirs.
      const status = await other.evaluate(async () => {
        const res = await fetch("/api/v1/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: "doctor@example.com", password: "password123" }),
        });
        return res.status;
      });
      assert.equal(status, 200);
      // The patient's tab renews (5 s tokens): it gets the doctor's session and ends instead.
      await patient.locator("#error", { hasText: "Someone else signed in" }).waitFor({
        timeout: LONG_WAIT,
      });
      await patient.locator("#login-panel").waitFor();
      assert.equal(await patient.locator("#who").innerText(), "");
      assert.deepEqual(problems, []);
    }, { DEMO_DATA: "true", JWT_TTL: "5" }),
});

Deno.test({
  name: "browser phone: tabs reach chat, call and people without scrolling; calls ring on any tab",
  ignore: noBrowser,
  fn: () =>
    withBrowser(async (browser, srv) => {
      const problems: string[] = [];
      const phone = await browser.newPage(PHONE);
      const doctor = await browser.newPage();
      watch(phone, "phone", problems);
      watch(doctor, "doctor", problems);

      await phone.goto(srv.url);
      await phone.locator("html[data-session-checked]").waitFor({ state: "attached" });
      await assertAccessible(phone, "phone, sign-in");
      await signIn(phone, srv, "patient@example.com");
      await signIn(doctor, srv, "doctor@example.com");
      // On a phone the room comes from the list of the user's visits and chats.
      await phone.getByRole("button", { name: "Visit visit-123" }).click();
      await phone.locator("#room-info", { hasText: "In Visit visit-123." }).waitFor();
      await joinVisit(doctor);

      // One section at a time: the composer is on the first screen, people one tap away.
      const height = PHONE.viewport.height;
      await phone.getByRole("navigation", { name: "Sections" }).waitFor();
      await phone.screenshot({ path: artifactPath("phone-chat.png") });
      const composer = await phone.getByLabel("Message", { exact: true }).boundingBox();
      assert.ok(composer && composer.y + composer.height <= height, `composer at ${composer?.y}px`);
      assert.equal(await phone.locator("#presence-panel").isVisible(), false);
      await assertAccessible(phone, "phone, chat");

      await phone.getByRole("button", { name: "People" }).click();
      const people = await phone.locator("#presence-list").boundingBox();
      assert.ok(people && people.y < height / 2, `presence starts at ${people?.y}px`);
      await phone.locator('#presence-list li[data-user-id="doctor-1"]', {
        hasText: "Dr. Dana Doctor",
      }).waitFor();
      assert.equal(await phone.locator("#chat-panel").isVisible(), false);
      await phone.screenshot({ path: artifactPath("phone-people.png") });

      // A call rings over whatever tab is open; answering switches to the call.
      await doctor.bringToFront();
      await doctor.getByRole("button", { name: "Video call" }).click();
      await phone.bringToFront();
      const ring = phone.getByRole("alertdialog");
      await ring.waitFor();
      const box = await ring.boundingBox();
      assert.ok(box && box.y >= 0 && box.y + box.height <= height, "the ring is on screen");
      await phone.screenshot({ path: artifactPath("phone-incoming.png") });
      await phone.getByRole("button", { name: "Accept" }).click();
      await callState(phone, "in_progress");
      assert.equal(await phone.locator("#call-panel").isVisible(), true);
      const hangup = await phone.getByRole("button", { name: "Hang up" }).boundingBox();
      assert.ok(hangup && hangup.y + hangup.height <= height, "Hang up on screen");
      await phone.screenshot({ path: artifactPath("phone-call.png") });
      await assertAccessible(phone, "phone, in a call");
      await phone.getByRole("button", { name: "Hang up" }).click();
      await callState(doctor, "ended");
      assert.deepEqual(problems, []);
    }),
});

Deno.test({
  name: "browser page outside demo mode: no demo hints, no event log (unless ?debug)",
  ignore: noBrowser,
  fn: () =>
    withBrowser(async (browser, srv) => {
      const problems: string[] = [];
      const page = await browser.newPage();
      watch(page, "page", problems);
      await page.goto(srv.url);
      await page.locator("html[data-session-checked]").waitFor({ state: "attached" });
      assert.equal(await page.locator("html").getAttribute("data-demo"), null);
      assert.equal(await page.getByText("Demo accounts").isVisible(), false);
      assert.equal(await page.locator("#log-panel").isVisible(), false);
      await assertAccessible(page, "sign-in, plain");
      await signIn(page, srv, "doctor@example.com");
      assert.equal(await page.locator("#log-panel").isVisible(), false);
      assert.equal(await page.locator(".call-hint").isVisible(), false);
      await assertAccessible(page, "signed in, plain");

      await page.goto(`${srv.url}/?debug`);
      await page.locator("#status", { hasText: /^Connected$/ }).waitFor();
      await page.locator("#log-panel").waitFor();
      assert.equal(await page.getByText("Demo accounts").isVisible(), false);
      assert.deepEqual(problems, []);
    }, {}),
});

Deno.test({
  name: "browser: the API docs and the protocol render as pages, without errors or CSP refusals",
  ignore: noBrowser,
  fn: () =>
    withBrowser(async (browser, srv) => {
      const problems: string[] = [];
      const page = await browser.newPage();
      watch(page, "docs", problems);
      await page.goto(`${srv.url}/api/docs`);
      await page.getByRole("heading", { level: 1 }).first().waitFor();
      for (const name of ["POST /api/v1/auth/login", "message:send", "call:incoming"]) {
        assert.ok(await page.getByText(name).first().isVisible(), name);
      }
      await page.screenshot({ path: artifactPath("api-docs.png") });
      await page.goto(`${srv.url}/api/docs/protocol`);
      await page.locator("h2").first().waitFor();
      assert.ok(await page.locator("table").count() > 5, "the protocol's tables render");
      assert.deepEqual(problems, []);
    }),
});

Deno.test({
  name: "browser client library from another origin: /client.js with CORS, typed refusals, " +
    "a refused origin stops retrying",
  ignore: noBrowser,
  fn: async () => {
    // A blank page on another origin (another port) is where a clinic's own app would live.
    const blank = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () =>
        new Response("<!doctype html><title>blank</title>", {
          headers: { "content-type": "text/html" },
        }),
    );
    const other = `http://127.0.0.1:${blank.addr.port}`;
    const srv = await startServer({ env: { CORS_ORIGINS: `${ALLOWED_ORIGIN},${other}` } });
    const refusing = await startServer();
    try {
      await withChromium(async (browser) => {
        const problems: string[] = [];
        const page = await browser.newPage();
        page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
        await page.goto(`${other}/`);
        const token = await srv.login("patient@example.com");
        const result = await page.evaluate(async ({ base, refusingBase, token }) => {
          type Client = {
            on(e: string, fn: (d: unknown) => void): () => void;
            emitWithAck(e: string, d?: unknown): Promise<Record<string, unknown>>;
            close(): void;
          };
          const lib = await import(`${base}/client.js`) as {
            connect(url: string, o: unknown): Client;
          };
          const client = lib.connect(`${base}/ws`, { token });
          const ping = await client.emitWithAck("ping");
          const refusal = await client.emitWithAck("room:join", { roomId: "visit:nope" })
            .then(() => null, (e) => ({ name: e.name, code: e.code }));
          client.close();
          // A server that does not list this origin: the client finds out why and stops.
          const refused = lib.connect(`${refusingBase}/ws`, { token, minDelayMs: 10 });
          const halted = await Promise.race([
            new Promise((resolve) => refused.on("halted", resolve)),
            new Promise((resolve) =>
              setTimeout(() => resolve({ reason: "no halt in 10 s" }), 10_000)
            ),
          ]);
          const statuses: unknown[] = [];
          refused.on("status", (s) => statuses.push(s));
          refused.close();
          return { ping: ping.success, refusal, halted, statuses };
        }, { base: srv.url, refusingBase: refusing.url, token });
        assert.equal(result.ping, true);
        assert.deepEqual(result.refusal, { name: "ClientError", code: "FORBIDDEN" });
        assert.equal((result.halted as { reason: string }).reason, "origin refused");
        assert.deepEqual(result.statuses, ["closed"]);
        assert.deepEqual(problems, []);
      });
      const dts = await fetch(`${srv.url}/client.d.ts`, { headers: { origin: other } });
      assert.equal(dts.headers.get("access-control-allow-origin"), other);
      assert.match(await dts.text(), /export class RealtimeClient/);
    } finally {
      await refusing.close();
      await srv.close();
      await blank.shutdown();
    }
  },
});
