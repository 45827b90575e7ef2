/**
 * @module
 * The phone layout's tab bar: on a narrow screen one section (chat, call,
 * people, alerts) shows at a time (style.css hides the others by
 * `data-tab` on the layout); on a wide one every section shows and the bar
 * is hidden. Other modules switch tabs when something needs the user there
 * (a call being answered), and mark a tab that has news.
 */

import { byId } from "./dom.js";

const layout = byId("layout");
const bar = byId("tabs");

/** @typedef {"chat" | "call" | "people" | "alerts"} Tab */

/** Shows section `tab` (on phones; on wide screens all show anyway). @param {Tab} tab */
export function showTab(tab) {
  layout.dataset.tab = tab;
  for (const b of bar.querySelectorAll("button.tab")) {
    const button = /** @type {HTMLButtonElement} */ (b);
    button.setAttribute("aria-pressed", String(button.dataset.tab === tab));
  }
}

/** Wires the tab buttons; arrow keys move between them. Once, at start-up. */
export function initTabs() {
  const buttons = /** @type {HTMLButtonElement[]} */ ([...bar.querySelectorAll("button.tab")]);
  for (const [i, button] of buttons.entries()) {
    button.addEventListener("click", () => showTab(/** @type {Tab} */ (button.dataset.tab)));
    button.addEventListener("keydown", (/** @type {KeyboardEvent} */ e) => {
      const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (step === 0) return;
      const next = buttons[(i + step + buttons.length) % buttons.length];
      next.focus();
      next.click();
    });
  }
}
