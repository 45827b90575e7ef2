/**
 * GET /api/docs: the HTML page for browsers (every route and event, no
 * script, every link answered), the unchanged JSON for everyone else, and
 * docs/PROTOCOL.md as an HTML page beside the raw markdown.
 */

import assert from "node:assert/strict";
import { SERVER_EVENTS } from "../static/protocol.js";
import { wantsHtml } from "../routes/docs.ts";
import { startServer, type TestServer } from "./harness.ts";

const BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async function page(srv: TestServer, path: string, accept = BROWSER) {
  const res = await fetch(`${srv.url}${path}`, { headers: { accept } });
  assert.equal(res.status, 200, path);
  assert.match(res.headers.get("content-type") ?? "", /^text\/html; charset=utf-8/, path);
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline|script-src/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script|\son\w+=|style="/i, "no script, no inline handlers or styles");
  return html;
}

/** Every `#id` link has its target; every local link answers 200. */
async function assertLinks(srv: TestServer, html: string) {
  const ids = new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]));
  const hrefs = [...new Set([...html.matchAll(/\shref="([^"]+)"/g)].map((m) => m[1]))];
  for (const href of hrefs.filter((h) => h.startsWith("#"))) {
    assert.ok(ids.has(decodeURIComponent(href.slice(1))), `target of ${href}`);
  }
  for (const href of hrefs.filter((h) => h.startsWith("/"))) {
    const res = await fetch(`${srv.url}${href.replaceAll("&amp;", "&")}`);
    await res.body?.cancel();
    assert.equal(res.status, 200, href);
  }
}

Deno.test("Accept decides between the page and the JSON; no Accept or */* stays JSON", () => {
  assert.equal(wantsHtml(undefined), false);
  assert.equal(wantsHtml("*/*"), false);
  assert.equal(wantsHtml("application/json"), false);
  assert.equal(wantsHtml("application/json, text/html"), false);
  assert.equal(wantsHtml("text/html;q=0.5, application/json"), false);
  assert.equal(wantsHtml("text/html"), true);
  assert.equal(wantsHtml(BROWSER), true);
  assert.equal(wantsHtml("text/html;q=0"), false);
  assert.equal(wantsHtml(BROWSER, "json"), false);
  assert.equal(wantsHtml(undefined, "html"), true);
});

Deno.test("GET /api/docs as HTML: every route and event, with schemas, examples and links", async () => {
  const srv = await startServer();
  try {
    const html = await page(srv, "/api/docs");
    const openapi = await (await fetch(`${srv.url}/api/openapi.json`)).json();
    for (const path of Object.keys(openapi.paths)) {
      assert.ok(html.includes(`<code>${path}</code>`), path);
    }
    for (const name of [...srv.app.events.keys(), "auth", "auth:refresh", ...SERVER_EVENTS]) {
      assert.ok(html.includes(`<code>${name}</code>`), name);
    }
    for (const link of ["/api/openapi.json", "/api/asyncapi.json", "/api/docs/protocol"]) {
      assert.ok(html.includes(`href="${link}"`), link);
    }
    assert.match(
      html,
      /<h3><span class="method post">POST<\/span> <code>\/api\/v1\/auth\/login<\/code>/,
    );
    assert.match(html, /<td><code>clinicianIds<\/code><\/td>/, "request fields");
    assert.match(html, /<td><code>user\.role<\/code><\/td>/, "nested response fields");
    assert.ok(html.includes("&quot;message:send&quot;") || html.includes('"message:send"'));
    assert.match(html, /<details><summary>JSON Schema<\/summary>/);
    assert.match(html, /Frame on \/ws/);
    await assertLinks(srv, html);

    const css = await fetch(`${srv.url}/api/docs/style.css`);
    assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
    assert.match(await css.text(), /\.method/);
  } finally {
    await srv.close();
  }
});

Deno.test("GET /api/docs for JSON clients is the same JSON as before, whatever they send", async () => {
  const srv = await startServer();
  try {
    const bodies = [];
    const variants: Record<string, string>[] = [
      {},
      { accept: "*/*" },
      { accept: "application/json" },
      { accept: "application/json, text/html" },
    ];
    for (const headers of variants) {
      const res = await fetch(`${srv.url}/api/docs`, { headers });
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
      assert.match(res.headers.get("vary") ?? "", /Accept/);
      bodies.push(await res.json());
    }
    const asked = await fetch(`${srv.url}/api/docs?format=json`, { headers: { accept: BROWSER } });
    bodies.push(await asked.json());
    for (const b of bodies) assert.deepEqual(b, bodies[0]);
    assert.deepEqual(Object.keys(bodies[0]), [
      "protocol",
      "frames",
      "realtime",
      "endpoints",
      "events",
      "errorCodes",
      "closeCodes",
      "closeCodesDetail",
      "serverEvents",
      "serverEventSchemas",
    ]);
    assert.equal(bodies[0].protocol, "/api/docs/protocol.md");
    assert.equal(Object.keys(bodies[0].events).length, srv.app.events.size);
  } finally {
    await srv.close();
  }
});

Deno.test("GET /api/docs/protocol renders docs/PROTOCOL.md as HTML; /protocol.md stays raw", async () => {
  const srv = await startServer();
  try {
    const html = await page(srv, "/api/docs/protocol", "*/*");
    assert.match(html, /<h1 id="telehealth-realtime-wire-protocol">/);
    assert.match(html, /<h2 id="3-connecting-to-get-ws">3\. Connecting to <code>GET \/ws<\/code>/);
    assert.match(html, /<h2 id="16-the-socketio-endpoint-socketio">/);
    assert.match(html, /<table>/);
    assert.match(html, /<pre><code class="language-json">/);
    assert.ok(html.includes("&lt;jwt from login&gt;"), "code is escaped");
    assert.ok(!html.includes("<jwt"), "nothing from the document is markup");
    await assertLinks(srv, html);

    const md = await fetch(`${srv.url}/api/docs/protocol.md`);
    assert.match(md.headers.get("content-type") ?? "", /^text\/markdown/);
    assert.match(await md.text(), /^# telehealth-realtime wire protocol/);
  } finally {
    await srv.close();
  }
});
