import assert from "node:assert/strict";
import { escapeAttr, escapeHtml, renderInline, renderMarkdown } from "./markdown.ts";

Deno.test("escapes every character of the source: raw HTML stays text", () => {
  assert.equal(escapeHtml(`<b>&"'`), `&lt;b&gt;&amp;"'`);
  assert.equal(escapeAttr(`"x" & 'y'`), "&quot;x&quot; &amp; &#39;y&#39;");
  assert.equal(
    renderMarkdown("<script>alert(1)</script>"),
    "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>",
  );
  assert.equal(renderInline("a `<i>` b"), "a <code>&lt;i&gt;</code> b");
  // The renderer's own placeholder character cannot be forged by the source.
  assert.equal(renderInline("\uE0000\uE000 `c`"), "&#xE000;0&#xE000; <code>c</code>");
});

Deno.test("headings get GitHub's ids, repeated ones numbered", () => {
  const html = renderMarkdown(
    "# 3. Connecting to `GET /ws`\n## 5. Client -> server events\n## A\n## A",
  );
  assert.match(html, /<h1 id="3-connecting-to-get-ws">3\. Connecting to <code>GET \/ws<\/code> /);
  assert.match(html, /<h2 id="5-client---server-events">5\. Client -&gt; server events /);
  assert.match(html, /<h2 id="a">A /);
  assert.match(html, /<h2 id="a-1">A /);
});

Deno.test("inline: links (unsafe schemes dropped), strong, emphasis, escapes", () => {
  assert.equal(renderInline("[§3](#3-connecting)"), '<a href="#3-connecting">§3</a>');
  assert.equal(
    renderInline("[x](javascript:alert(1))"),
    "[x](javascript:alert(1))",
  );
  assert.equal(
    renderInline("**4401** and *only* _this_"),
    "<strong>4401</strong> and <em>only</em> <em>this</em>",
  );
  assert.equal(renderInline("connect_error and a_b_c"), "connect_error and a_b_c");
  assert.equal(renderInline("\\*not\\*"), "*not*");
  assert.equal(renderInline("``a ` b``"), "<code>a ` b</code>");
});

Deno.test("tables with alignment and escaped pipes; fenced code", () => {
  const html = renderMarkdown(
    '| a | b |\n| - | -: |\n| `x` | y \\| z |\n\n```json\n{"a": "<b>"}\n```',
  );
  assert.match(html, /<th>a<\/th><th class="align-right">b<\/th>/);
  assert.match(html, /<td><code>x<\/code><\/td><td class="align-right">y \| z<\/td>/);
  assert.match(html, /<pre><code class="language-json">\{"a": "&lt;b&gt;"\}<\/code><\/pre>/);
});

Deno.test("lists: tight, loose, nested, ordered, with code and tables inside items", () => {
  assert.equal(renderMarkdown("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>");
  assert.equal(
    renderMarkdown("- a\n\n- b"),
    "<ul>\n<li><p>a</p></li>\n<li><p>b</p></li>\n</ul>",
  );
  assert.equal(
    renderMarkdown("3. three\n   - nested\n4. four"),
    '<ol start="3">\n<li>three\n<ul>\n<li>nested</li>\n</ul></li>\n<li>four</li>\n</ol>',
  );
  const item = renderMarkdown(
    "- send:\n\n  ```json\n  {}\n  ```\n\n  | c |\n  | - |\n  | 1 |\n- next",
  );
  assert.match(
    item,
    /<li><p>send:<\/p>\n<pre><code class="language-json">\{\}<\/code><\/pre>\n<div class="table">/,
  );
  assert.match(item, /<li><p>next<\/p><\/li>/);
  assert.equal(
    renderMarkdown("- a\n  continued\nlazy"),
    "<ul>\n<li>a\ncontinued\nlazy</li>\n</ul>",
  );
});

Deno.test("docs/PROTOCOL.md: every heading rendered, every #link has its target", async () => {
  const md = await Deno.readTextFile(new URL("../docs/PROTOCOL.md", import.meta.url));
  const html = renderMarkdown(md);
  const ids = new Set([...html.matchAll(/ id="([^"]+)"/g)].map((m) => m[1]));
  const links = [...md.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]);
  assert.ok(links.length > 10);
  for (const l of links) assert.ok(ids.has(l), l);
  assert.ok((html.match(/<h[1-6] /g) ?? []).length > 90);
  assert.ok(
    !/<(?!\/?(h\d|p|a|ul|ol|li|pre|code|strong|em|table|thead|tbody|tr|th|td|div|hr)\b)/.test(html),
  );
});
