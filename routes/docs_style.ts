/**
 * @module
 * The stylesheet of the docs pages (GET /api/docs/style.css), served by the
 * docs routes so the pages need no inline style and no other host.
 */

export const DOCS_CSS = `
:root { color-scheme: light dark; --fg: #1d232a; --muted: #5b6470; --bg: #fff; --line: #d9dee4;
  --code: #f3f5f7; --accent: #0b5cad; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e9ed; --muted: #9aa4af; --bg: #14181c; --line: #2c333a; --code: #1d2329;
    --accent: #6cb2ff; }
}
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
.top { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: baseline;
  padding: .75rem 1.25rem; border-bottom: 1px solid var(--line); }
.top nav { display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
main { padding: 0 1.25rem 3rem; }
.columns { display: flex; gap: 2rem; align-items: flex-start; }
.toc { position: sticky; top: 0; max-height: 100vh; overflow: auto; flex: 0 0 17rem;
  padding: 1rem 0; font-size: .875rem; }
.toc ul { list-style: none; padding-left: .75rem; margin: .25rem 0; }
.toc > ul { padding-left: 0; }
.content { min-width: 0; flex: 1; max-width: 62rem; }
@media (max-width: 50rem) { .columns { display: block; } .toc { position: static; max-height: none; } }
code, pre { font: .875em/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { background: var(--code); padding: .1em .3em; border-radius: 3px; }
pre { background: var(--code); padding: .75rem; overflow: auto; border-radius: 4px; }
pre code { padding: 0; background: none; font-size: 1em; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
.table { overflow-x: auto; }
.align-left { text-align: left; } .align-center { text-align: center; }
.align-right { text-align: right; }
.op { border-top: 1px solid var(--line); padding: .5rem 0 1rem; }
.op h3 { margin: .5rem 0; }
.method { display: inline-block; min-width: 4.5rem; padding: .1rem .4rem; border-radius: 3px;
  color: #fff; background: #5b6470; font-size: .8rem; text-align: center; }
.method.get { background: #1f7a3a; } .method.post { background: #0b5cad; }
.method.patch { background: #8a5a00; } .method.delete { background: #a32020; }
.status { display: inline-block; min-width: 2.5rem; font-weight: 600; }
.s2 { color: #1f7a3a; } .s4 { color: #a35a00; } .s5 { color: #a32020; }
.label { font-weight: 600; color: var(--muted); margin: .5rem 0 .25rem; }
.muted { color: var(--muted); }
details { margin: .25rem 0; }
summary { cursor: pointer; }
.markdown { max-width: 62rem; }
.markdown .anchor { visibility: hidden; text-decoration: none; }
.markdown h1:hover .anchor, .markdown h2:hover .anchor, .markdown h3:hover .anchor,
.markdown h4:hover .anchor { visibility: visible; }
`;
