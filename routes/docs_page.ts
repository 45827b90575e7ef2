/**
 * @module
 * The HTML of /api/docs and /api/docs/protocol, rendered on the server from
 * the OpenAPI and AsyncAPI documents (./openapi.ts, ./asyncapi.ts) and
 * docs/PROTOCOL.md (lib/markdown.ts). No script at all: schemas fold with
 * `<details>`, so the page works without JavaScript and under a CSP without
 * 'unsafe-inline'. Every value from the documents is escaped.
 */

import { escapeAttr as attr, escapeHtml as esc, renderMarkdown } from "../lib/markdown.ts";
import { exampleOf } from "./json_schema.ts";

type Doc = Record<string, unknown>;
type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (typeof v === "object" && v !== null ? v as Obj : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const json = (v: unknown) => `<pre><code>${esc(JSON.stringify(v, null, 2))}</code></pre>`;
const anchor = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, "-");

/** `code` spans in the documents' descriptions, and nothing else, become markup. */
const text = (s: unknown) =>
  esc(str(s)).replace(/`([^`]+)`/g, (_, code: string) => `<code>${code}</code>`);

/** The page around a body: header links, the stylesheet, no script. */
function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<link rel="stylesheet" href="/api/docs/style.css">
<link rel="icon" href="data:,">
</head>
<body>
<header class="top">
<strong>telehealth-realtime</strong>
<nav aria-label="Documents">
<a href="/api/docs">API reference</a>
<a href="/api/docs/protocol">Wire protocol</a>
<a href="/api/openapi.json">OpenAPI 3.1 (JSON)</a>
<a href="/api/asyncapi.json">AsyncAPI 3.0 (JSON)</a>
<a href="/api/docs/protocol.md">PROTOCOL.md</a>
<a href="/api/docs?format=json">Summary (JSON)</a>
</nav>
</header>
<main>
${body}
</main>
</body>
</html>
`;
}

/** One line per type: `string (date-time)`, `integer 1..100`, `"a" | "b"`, `array of string`. */
function typeOf(s: Obj, defs: Obj): string {
  if (typeof s.$ref === "string") return typeOf(obj(defs[s.$ref.split("/").pop() ?? ""]), defs);
  if ("const" in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((e) => JSON.stringify(e)).join(" | ");
  const alt = list(s.anyOf ?? s.oneOf);
  if (alt.length > 0) return alt.map((a) => typeOf(obj(a), defs) || "any").join(" | ");
  const types = Array.isArray(s.type) ? s.type.map(String) : s.type ? [String(s.type)] : [];
  const parts = types.map((t) => {
    if (t === "array") {
      const items = Array.isArray(s.items) ? "tuple" : typeOf(obj(s.items), defs) || "any";
      return `array of ${items}`;
    }
    let d = t;
    if (s.format) d += ` (${s.format})`;
    if (typeof s.minimum === "number" || typeof s.maximum === "number") {
      const max = typeof s.maximum === "number" && s.maximum < Number.MAX_SAFE_INTEGER
        ? s.maximum
        : "";
      d += ` ${s.minimum ?? ""}..${max}`;
    }
    return d;
  });
  return parts.join(" | ");
}

function limits(s: Obj): string {
  const out: string[] = [];
  if (typeof s.minLength === "number") out.push(`min length ${s.minLength}`);
  if (typeof s.maxLength === "number") out.push(`max length ${s.maxLength}`);
  if (typeof s.minItems === "number") out.push(`min ${s.minItems} items`);
  if (typeof s.maxItems === "number") out.push(`max ${s.maxItems} items`);
  if ("default" in s) out.push(`default ${JSON.stringify(s.default)}`);
  if (typeof s.pattern === "string" && s.pattern.length <= 60) out.push(`pattern ${s.pattern}`);
  return out.join("; ");
}

const deref = (s: Obj, defs: Obj): Obj =>
  typeof s.$ref === "string" ? obj(defs[s.$ref.split("/").pop() ?? ""]) : s;

/** One row per field, nested objects (and arrays of them) as `a.b` and `a[].b`, 3 levels deep. */
function fieldRows(s: Obj, defs: Obj, prefix = "", depth = 0): string[] {
  const required = new Set(list(s.required).map(String));
  return Object.entries(obj(s.properties)).flatMap(([name, p]) => {
    const ps = deref(obj(p), defs);
    const note = [str(ps.description), limits(ps)].filter(Boolean).join(". ");
    const row = `<tr><td><code>${esc(prefix + name)}</code></td><td>${esc(typeOf(ps, defs))}` +
      `</td><td>${required.has(name) ? "yes" : ""}</td><td>${text(note)}</td></tr>`;
    if (depth >= 2) return [row];
    const items = deref(obj(ps.items), defs);
    const nested = ps.properties
      ? fieldRows(ps, defs, `${prefix}${name}.`, depth + 1)
      : items.properties
      ? fieldRows(items, defs, `${prefix}${name}[].`, depth + 1)
      : [];
    return [row, ...nested];
  });
}

/** An object schema's fields as a table, and the whole schema folded below it. */
function schemaView(schema: unknown, defs: Obj = {}): string {
  const s = deref(obj(schema), defs);
  const rows = fieldRows(s, defs);
  const table = rows.length > 0
    ? `<table class="fields"><thead><tr><th>field</th><th>type</th><th>required</th>` +
      `<th>notes</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
    : `<p class="muted">${esc(typeOf(s, defs) || "any")}${
      s.type === "object" ? " (any fields)" : ""
    }</p>`;
  return `${table}<details><summary>JSON Schema</summary>${json(s)}</details>`;
}

function example(label: string, value: unknown): string {
  return `<p class="label">${esc(label)}</p>${
    typeof value === "string" ? `<pre><code>${esc(value)}</code></pre>` : json(value)
  }`;
}

const METHODS = ["get", "post", "patch", "delete", "options"];

function httpSection(openapi: Doc): { nav: string; body: string } {
  const defs = obj(obj(openapi.components).schemas);
  const byTag = new Map<string, string[]>();
  const nav = new Map<string, string[]>();
  for (const [path, item] of Object.entries(obj(openapi.paths))) {
    for (const method of METHODS) {
      const op = obj(obj(item)[method]);
      if (!op.operationId) continue;
      const id = `op-${anchor(str(op.operationId))}`;
      const tag = str(list(op.tags)[0]) || "other";
      const security = list(op.security).map((s) => Object.keys(obj(s))[0] ?? "none");
      const roles = list(op["x-roles"]).map(String);
      const auth = security.length === 0
        ? "none"
        : security.map((s) => s === "none" ? "or none" : s).join(" ");
      const params = list(op.parameters).map((p) => {
        const pp = obj(p);
        return `<tr><td><code>${esc(str(pp.name))}</code></td><td>${esc(str(pp.in))}</td>` +
          `<td>${pp.required ? "yes" : ""}</td><td>${esc(typeOf(obj(pp.schema), defs))}</td>` +
          `<td>${text(pp.description)}</td></tr>`;
      });
      const body = obj(op.requestBody);
      const bodyHtml = Object.entries(obj(body.content)).map(([media, c]) =>
        `<h4>Request body <span class="muted">${esc(media)}${
          body.required ? "" : ", optional"
        }</span></h4>${schemaView(obj(c).schema, defs)}${example("Example", obj(c).example)}`
      ).join("");
      const responses = Object.entries(obj(op.responses)).map(([status, r]) => {
        const rr = obj(r);
        const content = Object.entries(obj(rr.content)).map(([media, c]) => {
          const cc = obj(c);
          const examples = Object.values(obj(cc.examples)).map((e) => obj(e).value);
          const sample = cc.example ?? examples[0] ??
            (media === "application/json" ? exampleOf(cc.schema, "", defs) : undefined);
          return `<p class="muted">${esc(media)}</p>${
            media === "application/json" ? schemaView(cc.schema, defs) : ""
          }${sample !== undefined ? example("Example", sample) : ""}`;
        }).join("");
        const headers = Object.entries(obj(rr.headers)).map(([h, v]) =>
          `<code>${esc(h)}</code>: ${text(obj(v).description)}`
        ).join("; ");
        return `<details class="response"><summary><span class="status s${attr(status[0])}">${
          esc(status)
        }</span> ${text(rr.description)}</summary>${
          headers ? `<p>Headers: ${headers}</p>` : ""
        }${content}</details>`;
      }).join("");
      const html = `<section class="op" id="${id}">
<h3><span class="method ${attr(method)}">${esc(method.toUpperCase())}</span> <code>${
        esc(path)
      }</code></h3>
<p>${text(op.summary)}</p>${op.description ? `<p>${text(op.description)}</p>` : ""}
<p><span class="label">Auth</span> ${esc(auth)}${
        roles.length ? ` <span class="label">Who</span> ${esc(roles.join(", "))}` : ""
      }</p>
${
        params.length
          ? `<h4>Parameters</h4><table class="fields"><thead><tr><th>name</th><th>in</th>` +
            `<th>required</th><th>type</th><th>notes</th></tr></thead><tbody>${
              params.join("")
            }</tbody></table>`
          : ""
      }${bodyHtml}<h4>Responses</h4>${responses}
</section>`;
      (byTag.get(tag) ?? byTag.set(tag, []).get(tag)!).push(html);
      (nav.get(tag) ?? nav.set(tag, []).get(tag)!).push(
        `<li><a href="#${id}">${esc(method.toUpperCase())} ${esc(path)}</a></li>`,
      );
    }
  }
  return {
    nav: [...nav].map(([tag, items]) => `<li>${esc(tag)}<ul>${items.join("")}</ul></li>`).join(""),
    body: [...byTag].map(([tag, ops]) =>
      `<h2 id="tag-${anchor(tag)}">HTTP: ${esc(tag)}</h2>\n${ops.join("\n")}`
    ).join("\n"),
  };
}

function realtimeSection(asyncapi: Doc): { nav: string; body: string } {
  const defs = obj(obj(asyncapi.components).schemas);
  const channel = obj(obj(asyncapi.channels).ws);
  const messages = obj(channel.messages);
  const sio = obj(obj(obj(asyncapi.channels).socketio).messages);
  const ops = Object.entries(obj(asyncapi.operations)).filter(([k]) => k.startsWith("ws."));
  const sends = ops.filter(([, o]) => obj(o).action === "send");
  const receives = ops.filter(([, o]) => obj(o).action === "receive");
  const key = (o: unknown) => str(obj(list(obj(o).messages)[0]).$ref).split("/").pop() ?? "";
  const frameOf = (m: unknown) => obj(list(obj(m).examples)[0]).payload;

  const eventHtml = (o: unknown, kind: "send" | "receive") => {
    const op = obj(o);
    const k = key(o);
    const m = obj(messages[k]);
    const name = str(m.name);
    const data = obj(obj(obj(m.payload).properties).data);
    const id = `${kind === "send" ? "client" : "server"}-${anchor(name)}`;
    const replies = list(obj(op.reply).messages).map((r) =>
      str(obj(r).$ref).split("/").pop() ?? ""
    );
    const ackKey = replies.find((r) => r.startsWith("ack.") && r !== "ack.failure");
    const ack = ackKey ? obj(messages[ackKey]) : null;
    const sioFrame = frameOf(sio[k]);
    return `<section class="op" id="${id}">
<h3><code>${esc(name)}</code></h3>
${op.description ? `<p>${text(op.description)}</p>` : ""}${
      kind === "send"
        ? `<p><span class="label">Rate limit</span> ${esc(str(op["x-rateLimit"]))}</p>`
        : ""
    }
<h4>data</h4>${
      data.$ref || Object.keys(data).length ? schemaView(data, defs) : schemaView(m.payload, defs)
    }
${example("Frame on /ws", frameOf(m))}${
      sioFrame !== undefined ? example("socket.io packet payload", sioFrame) : ""
    }${
      ack
        ? `<h4>Success ack</h4>${schemaView(obj(obj(ack.payload).properties).data, defs)}${
          example("Ack on /ws", frameOf(ack))
        }`
        : ""
    }${
      replies.includes("ack.failure")
        ? `<p>A failure acks <a href="#failure"><code>{success: false, error, code}</code></a>.</p>`
        : ""
    }
</section>`;
  };
  const closeCodes = Object.entries(obj(asyncapi["x-closeCodes"])).map(([code, c]) =>
    `<tr><td><code>${esc(code)}</code></td><td>${obj(c).reconnect ? "yes" : "no"}</td><td>${
      esc(str(obj(c).meaning))
    }</td></tr>`
  ).join("");
  const errorCodes = list(asyncapi["x-errorCodes"]).map((c) => `<code>${esc(String(c))}</code>`);
  const servers = Object.values(obj(asyncapi.servers)).map((s) =>
    `<li><code>${esc(str(obj(s).pathname))}</code>: ${text(obj(s).description)}</li>`
  ).join("");
  const channels = Object.values(obj(asyncapi.channels)).map((c) =>
    `<p><strong>${esc(str(obj(c).title))}</strong> <code>${esc(str(obj(c).address))}</code>: ${
      text(obj(c).description)
    }</p>`
  ).join("");
  const navOf = (items: [string, unknown][], kind: "client" | "server") =>
    items.map(([, o]) => {
      const name = str(obj(messages[key(o)]).name);
      return `<li><a href="#${kind}-${anchor(name)}">${esc(name)}</a></li>`;
    }).join("");
  return {
    nav:
      `<li><a href="#realtime">Realtime</a><ul><li>Client events<ul>${
        navOf(sends, "client")
      }</ul></li><li>Server events<ul>${navOf(receives, "server")}</ul></li>` +
      `<li><a href="#codes">Error and close codes</a></li></ul></li>`,
    body: `<h2 id="realtime">Realtime</h2>
<p>${text(obj(asyncapi.info).description)}</p><ul>${servers}</ul>${channels}
<h2 id="client-events">Client events</h2>
${sends.map(([, o]) => eventHtml(o, "send")).join("\n")}
<h2 id="server-events">Server events</h2>
${receives.map(([, o]) => eventHtml(o, "receive")).join("\n")}
<h2 id="codes">Error and close codes</h2>
<section class="op" id="failure"><h3>A failed ack</h3>${
      schemaView(defs.failure, defs)
    }<p>Error codes: ${errorCodes.join(" ")}</p></section>
<table class="fields"><thead><tr><th>close code</th><th>reconnect</th><th>meaning</th></tr></thead>
<tbody>${closeCodes}</tbody></table>`,
  };
}

/** The /api/docs page: every route and event, with schemas and examples. */
export function renderDocsPage(openapi: Doc, asyncapi: Doc): string {
  const http = httpSection(openapi);
  const rt = realtimeSection(asyncapi);
  return layout(
    "telehealth-realtime API reference",
    `<div class="columns"><nav class="toc" aria-label="Contents"><ul>${http.nav}${rt.nav}</ul></nav>
<div class="content"><h1>API reference</h1>
<p>Generated from the server's own schemas: the HTTP routes from <a href="/api/openapi.json">` +
      `OpenAPI 3.1</a>, the realtime protocol from <a href="/api/asyncapi.json">AsyncAPI 3.0</a>. ` +
      `The full rules are in the <a href="/api/docs/protocol">wire protocol</a>.</p>
${http.body}
${rt.body}
</div></div>`,
  );
}

/** docs/PROTOCOL.md as a page. */
export function renderProtocolPage(markdown: string): string {
  return layout(
    "telehealth-realtime wire protocol",
    `<article class="markdown">${renderMarkdown(markdown)}</article>`,
  );
}
