/**
 * @module
 * A small markdown-to-HTML renderer for what docs/PROTOCOL.md uses: ATX
 * headings (with GitHub-style ids, so the document's own `#anchor` links
 * work), paragraphs, bullet and ordered lists (nested, loose or tight),
 * fenced code, GFM tables with alignment, rules, and inline code, links,
 * strong and emphasis. Everything else is text. Raw HTML is never passed
 * through: every character of the source is escaped, so the output is safe
 * to serve whatever the document says. Links keep only http(s), mailto,
 * relative and `#` targets.
 *
 * @example
 * ```ts
 * renderMarkdown("## 1. Overview\n\nSee `GET /ws`.");
 * // '<h2 id="1-overview">1. Overview ...</h2>\n<p>See <code>GET /ws</code>.</p>'
 * ```
 */

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML content (between tags). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>]/g, (ch) => ENTITIES[ch]);
}

/** Escapes text for a quoted attribute value. */
export function escapeAttr(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])(\s+|$)(.*)$/;
const TABLE_DELIMITER = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

const isBlank = (line: string) => line.trim() === "";
const indentOf = (line: string) => line.length - line.trimStart().length;

/** Whether `lines[i]` starts a block that ends a paragraph. */
function startsBlock(lines: string[], i: number): boolean {
  const line = lines[i];
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) ||
    LIST_ITEM.test(line) || isTableStart(lines, i);
}

function isTableStart(lines: string[], i: number): boolean {
  return lines[i].includes("|") && i + 1 < lines.length && lines[i + 1].includes("-") &&
    TABLE_DELIMITER.test(lines[i + 1]);
}

/** GitHub's heading ids: lower case, punctuation dropped, each space a hyphen, repeats numbered. */
class Slugger {
  #seen = new Map<string, number>();
  slug(text: string): string {
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").trim().replace(/\s/g, "-");
    const n = this.#seen.get(base);
    this.#seen.set(base, (n ?? -1) + 1);
    return n === undefined ? base : `${base}-${n + 1}`;
  }
}

/** Inline markup removed: what a heading's id is made from. */
function plainText(md: string): string {
  return md.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[`*]/g, "");
}

function safeHref(url: string): string | null {
  const u = url.trim();
  if (/^(https?:|mailto:)/i.test(u) || /^[#./]/.test(u) || !/^[a-z][a-z0-9+.-]*:/i.test(u)) {
    return u;
  }
  return null;
}

/** Inline markdown to HTML: code spans and links first (as placeholders), then emphasis. */
export function renderInline(md: string): string {
  const held: string[] = [];
  const hold = (html: string) => `\uE000${held.push(html) - 1}\uE000`;
  let out = "";
  let i = 0;
  while (i < md.length) {
    const ch = md[i];
    if (ch === "\\" && i + 1 < md.length && /[!-/:-@[-`{-~]/.test(md[i + 1])) {
      out += hold(escapeHtml(md[i + 1]));
      i += 2;
      continue;
    }
    if (ch === "`") {
      const run = /^`+/.exec(md.slice(i))![0];
      const end = md.indexOf(run, i + run.length);
      if (end !== -1 && md[end + run.length] !== "`") {
        let code = md.slice(i + run.length, end).replace(/\n/g, " ");
        if (code.startsWith(" ") && code.endsWith(" ") && code.trim() !== "") {
          code = code.slice(1, -1);
        }
        out += hold(`<code>${escapeHtml(code)}</code>`);
        i = end + run.length;
        continue;
      }
      out += escapeHtml(run);
      i += run.length;
      continue;
    }
    if (ch === "[") {
      const link = /^\[((?:[^\[\]]|\[[^\]]*\])*)\]\(([^()\s]*(?:\([^()\s]*\)[^()\s]*)*)\)/.exec(
        md.slice(i),
      );
      const href = link ? safeHref(link[2]) : null;
      if (link && href !== null) {
        out += hold(`<a href="${escapeAttr(href)}">${renderInline(link[1])}</a>`);
        i += link[0].length;
        continue;
      }
    }
    // The placeholder character itself, as an entity: the source cannot forge a placeholder.
    out += ch === "\uE000" ? "&#xE000;" : escapeHtml(ch);
    i++;
  }
  out = out
    .replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^\w*])\*(?=[^\s*])([\s\S]*?[^\s*])\*(?![\w*])/g, "$1<em>$2</em>")
    .replace(/(^|[^\w])_(?=\S)([\s\S]*?\S)_(?!\w)/g, "$1<em>$2</em>");
  return out.replace(/\uE000(\d+)\uE000/g, (_, n) => held[Number(n)]);
}

function splitRow(line: string): string[] {
  let s = line.trim();
  if (s.startsWith("|")) s = s.slice(1);
  if (s.endsWith("|") && !s.endsWith("\\|")) s = s.slice(0, -1);
  const cells: string[] = [];
  let cell = "";
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "\\" && s[i + 1] === "|") {
      cell += "|";
      i++;
    } else if (s[i] === "|") {
      cells.push(cell.trim());
      cell = "";
    } else cell += s[i];
  }
  cells.push(cell.trim());
  return cells;
}

function renderTable(lines: string[]): string {
  const head = splitRow(lines[0]);
  const align = splitRow(lines[1]).map((d) =>
    d.startsWith(":") && d.endsWith(":")
      ? "center"
      : d.endsWith(":")
      ? "right"
      : d.startsWith(":")
      ? "left"
      : ""
  );
  const cell = (tag: string, text: string, col: number) =>
    `<${tag}${align[col] ? ` class="align-${align[col]}"` : ""}>${renderInline(text)}</${tag}>`;
  const rows = lines.slice(2).map((l) => {
    const cells = splitRow(l);
    return `<tr>${head.map((_, c) => cell("td", cells[c] ?? "", c)).join("")}</tr>`;
  });
  return `<div class="table"><table>\n<thead><tr>${
    head.map((h, c) => cell("th", h, c)).join("")
  }</tr></thead>\n<tbody>\n${rows.join("\n")}\n</tbody></table></div>`;
}

/** Renders `lines` as blocks; `tight` (a tight list item) leaves paragraphs unwrapped. */
function renderBlocks(lines: string[], slugs: Slugger, tight = false): string {
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const [, indent, marks, lang] = fence;
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(marks)) {
        const l = lines[i];
        body.push(l.slice(Math.min(indent.length, indentOf(l))));
        i++;
      }
      i++;
      const cls = lang ? ` class="language-${escapeAttr(lang)}"` : "";
      out.push(`<pre><code${cls}>${escapeHtml(body.join("\n"))}</code></pre>`);
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      const level = heading[1].length;
      const id = escapeAttr(slugs.slug(plainText(heading[2])));
      out.push(
        `<h${level} id="${id}">${renderInline(heading[2])} ` +
          `<a class="anchor" href="#${id}" aria-label="Link to this section">#</a></h${level}>`,
      );
      i++;
      continue;
    }
    if (RULE.test(line)) {
      out.push("<hr>");
      i++;
      continue;
    }
    if (isTableStart(lines, i)) {
      const rows = [lines[i], lines[i + 1]];
      i += 2;
      while (i < lines.length && !isBlank(lines[i]) && lines[i].includes("|")) {
        rows.push(lines[i++]);
      }
      out.push(renderTable(rows));
      continue;
    }
    if (LIST_ITEM.test(line)) {
      i = renderList(lines, i, slugs, out);
      continue;
    }
    const para = [line.trim()];
    i++;
    while (i < lines.length && !isBlank(lines[i]) && !startsBlock(lines, i)) {
      para.push(lines[i++].trim());
    }
    const html = renderInline(para.join("\n"));
    out.push(tight ? html : `<p>${html}</p>`);
  }
  return out.join("\n");
}

/** One list from `lines[start]`, appended to `out`; returns the index after it. */
function renderList(lines: string[], start: number, slugs: Slugger, out: string[]): number {
  const first = LIST_ITEM.exec(lines[start])!;
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const items: string[][] = [];
  let loose = false;
  let i = start;
  while (i < lines.length) {
    const m = LIST_ITEM.exec(lines[i]);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    const contentIndent = indent + m[2].length + Math.max(1, Math.min(m[3].length, 4));
    const item = [m[4]];
    i++;
    while (i < lines.length) {
      const l = lines[i];
      if (isBlank(l)) {
        let j = i + 1;
        while (j < lines.length && isBlank(lines[j])) j++;
        if (j < lines.length && indentOf(lines[j]) >= contentIndent) {
          item.push("");
          i++;
          continue;
        }
        break;
      }
      if (indentOf(l) >= contentIndent) {
        item.push(l.slice(contentIndent));
      } else if (!startsBlock(lines, i) && !isBlank(item[item.length - 1])) {
        item.push(l.trim()); // a lazy continuation of the item's paragraph
      } else break;
      i++;
    }
    if (item.some(isBlank)) loose = true;
    items.push(item);
    // A blank line between items makes the list loose.
    if (i < lines.length && isBlank(lines[i])) {
      let j = i;
      while (j < lines.length && isBlank(lines[j])) j++;
      const next = j < lines.length ? LIST_ITEM.exec(lines[j]) : null;
      if (next && next[1].length === indent && /\d/.test(next[2]) === ordered) {
        loose = true;
        i = j;
      }
    }
  }
  const tag = ordered ? "ol" : "ul";
  const n = ordered ? parseInt(first[2], 10) : 1;
  const startAttr = ordered && n !== 1 ? ` start="${n}"` : "";
  const lis = items.map((item) => `<li>${renderBlocks(item, slugs, !loose)}</li>`);
  out.push(`<${tag}${startAttr}>\n${lis.join("\n")}\n</${tag}>`);
  return i;
}

/** The document as HTML (a fragment: no `<html>` around it). */
export function renderMarkdown(md: string): string {
  return renderBlocks(md.replace(/\r\n?/g, "\n").split("\n"), new Slugger());
}
