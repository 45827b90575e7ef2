// deno-lint-ignore-file no-import-prefix -- test tools stay out of the import map: `deno task`
// installs every package there, and `deno task dev` must not download them (tests/dx_test.ts).
/**
 * @module
 * End-to-end test of the bundled test client (static/) in a real headless
 * Chromium driven by playwright-core: two pages (patient and doctor) sign in
 * through the UI, join the visit room, page through history, see each other's
 * typing and messages, survive a server-side disconnect by resuming with
 * `since`, and reload history. Hostile message text must stay literal text.
 * A second test covers presence, notifications (read on one tab clears the
 * badge on the other) and a real WebRTC video call between the two pages with
 * Chromium's fake camera and microphone. A third drives static/client.js
 * directly in the page: refused token, queued-request timeout, refreshToken,
 * refusals as acks, close.
 *
 * Uses the system's /usr/bin/chromium (never downloads one). Skipped where it
 * is missing (with one line saying so), except under .ci/run (BROWSER_TESTS=required), which
 * installs it and must run this.
 * Needs `deno test -A`: Playwright under Deno reads /proc/sys at import.
 */

import assert from "node:assert/strict";
import type { Page } from "npm:playwright-core@1.65.1";
import { appendMessage } from "../store/messages.ts";
import {
  callState,
  joinVisit,
  noBrowser,
  presenceOf,
  remoteMediaFlows,
  ROOM,
  signIn,
  SKIP_LINE,
  type VideoElement,
  videoTracks,
  watch,
  withBrowser,
} from "./browser_support.ts";

// Every test module runs on its own: this one speaks for all the browser tests.
if (noBrowser) console.log(SKIP_LINE);

const PAGE_SIZE = 20; // static/chat.js PAGE_SIZE
const SEEDED = 25;
const HOSTILE = "Look: <img src=x onerror=alert(1)> & <b>bold</b>";
const SCREENSHOT = "/tmp/telehealth_browser_test.png";
const CALL_SCREENSHOT = "/tmp/telehealth_browser_call.png";

/** Waits until exactly `n` messages are listed (a page of history renders in one task). */
async function messageCount(page: Page, n: number): Promise<void> {
  const items = page.locator("#messages > li");
  await items.nth(n - 1).waitFor({ state: "attached" });
  await items.nth(n).waitFor({ state: "detached" });
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

Deno.test({
  name: "browser client: sign in, join, history, typing, hostile text, resume, reload",
  ignore: noBrowser,
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
      assert.equal(await doctor.locator("#who").innerText(), "Dr. Dana Doctor (doctor)");

      // Join shows the newest page; "Load older" brings the rest and then hides.
      await joinVisit(patient);
      await joinVisit(doctor);
      await messageCount(doctor, PAGE_SIZE);
      await doctor.locator("#room-info", { hasText: "Pat Patient (patient)" }).waitFor();
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
      await doctor.locator("#typing", { hasText: "Pat Patient is typing..." }).waitFor();
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
      // Names, not ids: the server named the sender; no internal seq shows.
      assert.equal(await received.locator(".sender").textContent(), "Pat Patient");
      assert.doesNotMatch(await received.innerText(), /#\d|patient-1/);

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

      // A reload keeps the session (the refresh cookie): signed in again, history comes back.
      await patient.reload();
      await patient.locator("#status", { hasText: /^Connected$/ }).waitFor();
      assert.equal(await patient.locator("#who").innerText(), "Pat Patient (patient)");
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
  name: "browser client: presence, notifications, a WebRTC video call between two pages",
  ignore: noBrowser,
  fn: () =>
    withBrowser(async (context, srv) => {
      const problems: string[] = [];
      const doctor = context.pages()[0] ?? await context.newPage();
      const patient = await context.newPage();
      const patientTab2 = await context.newPage();
      watch(doctor, "doctor", problems);
      watch(patient, "patient", problems);
      watch(patientTab2, "patient tab 2", problems);

      // The doctor is alone in the visit room and watches patient-1 by id: offline.
      await signIn(doctor, srv, "doctor@example.com");
      await joinVisit(doctor);
      await presenceOf(doctor, "doctor-1", "online");
      await doctor.getByLabel("Watch user id").fill("patient-1");
      await doctor.getByRole("button", { name: "Watch", exact: true }).click();
      await presenceOf(doctor, "patient-1", "offline");
      // The visit's patient is listed to call (by name) though not here yet.
      const callee = doctor.getByLabel("Person to call");
      assert.equal(await callee.inputValue(), "patient-1");
      assert.deepEqual(await callee.locator("option").allTextContents(), ["Pat Patient (patient)"]);

      // The patient connects (online on the doctor's page) and joins: the doctor's default
      // callee becomes the other participant.
      await signIn(patient, srv, "patient@example.com");
      await presenceOf(doctor, "patient-1", "online");
      await joinVisit(patient);
      await doctor.locator("#room-info", { hasText: "Pat Patient (patient)" }).waitFor();
      assert.equal(await doctor.getByLabel("Person to call").inputValue(), "patient-1");
      assert.equal(await patient.getByLabel("Person to call").inputValue(), "doctor-1");
      await doctor.locator("#call-to option", { hasText: "Pat Patient (patient, here now)" })
        .waitFor({ state: "attached" });
      await presenceOf(patient, "doctor-1", "online");

      // A custom status set by the doctor reaches the patient's page as text.
      await doctor.bringToFront();
      await doctor.getByLabel("My status").selectOption("away");
      await doctor.getByLabel("Custom status").fill("<i>back soon</i>");
      await doctor.getByRole("button", { name: "Set", exact: true }).click();
      await presenceOf(patient, "doctor-1", "away");
      const doctorRow = patient.locator('#presence-list li[data-user-id="doctor-1"]');
      assert.equal(await doctorRow.locator(".custom-status").textContent(), "“<i>back soon</i>”");
      assert.equal(await doctorRow.locator("i").count(), 0);
      await doctor.getByLabel("My status").selectOption("online");
      await doctor.getByLabel("Custom status").fill("");
      await doctor.getByRole("button", { name: "Set", exact: true }).click();
      await presenceOf(patient, "doctor-1", "online");

      // A notification pushed by the server shows on both of the patient's tabs; reading it on
      // one clears the badge on both (notification:read reaches the other tab).
      await signIn(patientTab2, srv, "patient@example.com");
      await srv.app.realtime.notifyUser("patient-1", {
        title: "Lab results",
        message: "Your results are <b>ready</b>",
      });
      for (const page of [patient, patientTab2]) {
        await page.locator('#notification-badge[data-count="1"]').waitFor();
        await page.locator("#notifications li.unread", { hasText: "Lab results" }).waitFor();
      }
      const note = patient.locator("#notifications li", { hasText: "Lab results" });
      assert.equal(
        await note.locator(".notification-message").textContent(),
        "Your results are <b>ready</b>",
      );
      assert.equal(await note.locator("b").count(), 0);
      await patient.bringToFront();
      await note.click();
      for (const page of [patient, patientTab2]) {
        await page.locator('#notification-badge[data-count="0"]').waitFor();
        await page.locator('#notifications li[data-read="true"]', { hasText: "Lab results" })
          .waitFor();
      }

      // An audio call the patient declines: both sides end it and the doctor's microphone is
      // released.
      await doctor.bringToFront();
      await doctor.getByRole("button", { name: "Audio call" }).click();
      await callState(doctor, "ringing");
      await patient.locator("#incoming-text", {
        hasText: "Incoming audio call from Dr. Dana Doctor",
      }).waitFor();
      // Hard to miss: the tab title says it, and the overlay stays on screen when scrolled.
      assert.match(await patient.title(), /Incoming audio call from Dr\. Dana Doctor/);
      assert.equal(
        await patient.locator("#incoming").evaluate((el) =>
          (globalThis as unknown as { getComputedStyle(e: unknown): { position: string } })
            .getComputedStyle(el).position
        ),
        "fixed",
      );
      await patient.bringToFront();
      await patient.getByRole("button", { name: "Reject" }).click();
      await callState(doctor, "rejected");
      await callState(patient, "rejected");
      assert.doesNotMatch(await patient.title(), /Incoming/, "the title is restored");
      await callState(patientTab2, "ended");
      await patientTab2.getByRole("alertdialog").waitFor({ state: "hidden" });
      assert.deepEqual(await videoTracks(doctor), [null, null]);

      // The doctor places a video call for the visit; both patient tabs ring.
      await doctor.bringToFront();
      await doctor.getByRole("button", { name: "Video call" }).click();
      await callState(doctor, "ringing");
      for (const page of [patient, patientTab2]) {
        await callState(page, "incoming");
        await page.getByRole("alertdialog").waitFor();
        assert.equal(
          await page.locator("#incoming-text").textContent(),
          "Incoming video call from Dr. Dana Doctor for visit visit-123.",
        );
      }

      // Answered on the first tab: the second stops ringing, media flows both ways.
      await patient.bringToFront();
      await patient.getByRole("button", { name: "Accept" }).click();
      await patientTab2.getByRole("alertdialog").waitFor({ state: "hidden" });
      await patientTab2.locator("#call-state", { hasText: "Answered on another device" })
        .waitFor();
      for (const page of [doctor, patient]) {
        await page.locator('#call-panel[data-rtc="connected"]').waitFor();
        await callState(page, "in_progress");
        await remoteMediaFlows(page);
        assert.equal(
          await page.locator("#local-video").evaluate((v) => (v as unknown as VideoElement).muted),
          true,
          "the local video is muted",
        );
        // Local: the camera and microphone, remote: what the peer sends.
        assert.deepEqual(await videoTracks(page), [2, 2]);
      }
      await presenceOf(doctor, "patient-1", "in_call");
      await presenceOf(doctor, "doctor-1", "in_call");
      await presenceOf(patient, "doctor-1", "in_call");
      assert.match(await doctor.locator("#call-state").innerText(), /video call with Pat Patient/);
      assert.equal(
        await doctor.locator("#remote-caption").innerText(),
        "Pat Patient · media connected",
      );
      await doctor.bringToFront();
      await doctor.screenshot({ path: CALL_SCREENSHOT, fullPage: true });

      // The doctor hangs up: both pages end the call and release the media (in the same task
      // that shows the state).
      await doctor.getByRole("button", { name: "Hang up" }).click();
      for (const page of [doctor, patient]) {
        await callState(page, "ended");
        await page.locator("#call-state", { hasText: /^Call ended/ }).waitFor();
        assert.equal(await page.locator("#call-panel").getAttribute("data-rtc"), "none");
        assert.deepEqual(await videoTracks(page), [null, null]);
        assert.equal(await page.getByRole("button", { name: "Hang up" }).isDisabled(), true);
        assert.equal(await page.getByRole("button", { name: "Video call" }).isEnabled(), true);
      }
      await presenceOf(doctor, "patient-1", "online");
      await presenceOf(patient, "doctor-1", "online");

      assert.deepEqual(problems, []);
    }),
});

Deno.test({
  name: "browser client library: refused token, queued timeout, refreshToken, refusals, close",
  ignore: noBrowser,
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

Deno.test({
  name: "browser page: ticks sent -> read, edit and delete in place, a tombstone, unread badges",
  ignore: noBrowser,
  fn: () =>
    withBrowser(async (context, srv) => {
      const problems: string[] = [];
      const patient = context.pages()[0] ?? await context.newPage();
      const doctor = await context.newPage();
      /** The next dialog's answer: a prompt's text, or true to confirm. */
      const answers: (string | true)[] = [];
      for (const [page, name] of [[patient, "patient"], [doctor, "doctor"]] as const) {
        page.on("pageerror", (err) => problems.push(`${name} pageerror: ${err.message}`));
        page.on("console", (msg) => {
          if (msg.type() === "error") problems.push(`${name} console: ${msg.text()}`);
        });
        page.on("dialog", (dialog) => {
          const answer = answers.shift();
          if (answer === undefined) {
            problems.push(`${name} unexpected dialog: ${dialog.message()}`);
            return void dialog.dismiss().catch(() => {});
          }
          void dialog.accept(answer === true ? undefined : answer).catch(() => {});
        });
      }
      await signIn(patient, srv, "patient@example.com");
      await signIn(doctor, srv, "doctor@example.com");
      await joinVisit(patient);
      await joinVisit(doctor);

      // The patient sends; the doctor's page receives it, confirms it and reads it.
      await patient.bringToFront();
      const input = patient.getByLabel("Message", { exact: true });
      await input.fill("My dose is 50 mg");
      await input.press("Enter");
      const mine = patient.locator("#messages > li.own").last();
      await mine.locator(".status").waitFor();
      await doctor.bringToFront();
      await doctor.locator("#messages > li", { hasText: "My dose is 50 mg" }).waitFor();
      await patient.bringToFront();
      await patient.locator('#messages > li.own[data-status="read"]').waitFor();
      assert.equal(await mine.locator(".status").textContent(), "✓✓ read");

      // Edit in place: the doctor's page shows the new text, marked edited.
      answers.push("My dose is 5 mg");
      await mine.getByRole("button", { name: "Edit" }).click();
      await mine.locator(".text", { hasText: "My dose is 5 mg" }).waitFor();
      await doctor.bringToFront();
      const seen = doctor.locator("#messages > li", { hasText: "My dose is 5 mg" });
      await seen.locator(".edited").waitFor();

      // The visit's doctor removes it: both pages show the tombstone, and no text.
      answers.push(true);
      await seen.getByRole("button", { name: "Delete" }).click();
      for (const page of [doctor, patient]) {
        await page.bringToFront();
        await page.locator("#messages > li .text.removed", { hasText: "message removed" })
          .waitFor();
        assert.equal(await page.locator("#messages", { hasText: "5 mg" }).count(), 0);
      }

      // Unread badges: a chat message from the doctor, in a room the patient's page has not
      // joined, shows as a count on that room.
      const ws = await srv.connect("doctor@example.com");
      const sent = await ws.request("message:send", { recipientId: "patient-1", message: "hi" });
      assert.equal(sent.success, true);
      await patient.bringToFront();
      const badge = patient.locator('#room-list li[data-room="chat:doctor-1:patient-1"] .badge');
      await badge.filter({ hasText: "1" }).waitFor();
      assert.deepEqual(problems, []);
    }),
});
