/**
 * @module
 * DOM helpers every part of the test client page shares: element lookup, the
 * error line and the raw frame log. Text reaches the DOM through `textContent`
 * only. Holds no session state and never talks to the server.
 */

const LOG_LIMIT = 300;

/** @param {string} id */
export const byId = (id) => /** @type {any} */ (document.getElementById(id));

const errorLine = byId("error");
const logList = byId("log");

/** @param {string} message */
export function showError(message) {
  errorLine.textContent = message;
}

/**
 * @param {"in" | "out" | "http" | "sys"} dir
 * @param {string} summary
 * @param {unknown} [data]
 */
export function log(dir, summary, data) {
  const li = document.createElement("li");
  li.className = `log-${dir}`;
  const arrow = { in: "←", out: "→", http: "⇄", sys: "•" }[dir];
  const json = data === undefined ? "" : JSON.stringify(data);
  const time = new Date().toLocaleTimeString();
  li.textContent = `${time} ${arrow} ${summary} ${
    json.length > 600 ? json.slice(0, 600) + "…" : json
  }`;
  const atBottom = logList.scrollHeight - logList.scrollTop - logList.clientHeight < 40;
  logList.append(li);
  while (logList.children.length > LOG_LIMIT) logList.firstElementChild.remove();
  if (atBottom) logList.scrollTop = logList.scrollHeight;
}

/** Empties the frame log (its "Clear" button). */
export function clearLog() {
  logList.replaceChildren();
}
