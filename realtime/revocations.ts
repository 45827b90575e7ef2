/**
 * @module
 * Ends the sessions of disabled accounts and logged-out tokens: every isolate
 * polls the revocation log (store/users.ts) once a second and closes a
 * disabled user's sockets with 4403 (terminal: sign out), or, for a logout,
 * only the sockets that authenticated with that token, with 4401 "Token
 * revoked" (the token is dead: log in again). Polling rather than
 * `kv.watch`: on a local SQLite KV a watch only sees writes made by the same
 * process, and accounts are disabled from the `deno task users` CLI, another
 * process. New connections and HTTP calls are refused anyway, because both
 * ask store/sessions.ts `tokenCurrent` (enabled, current epoch, not logged out).
 */

import type { Logger } from "../lib/log.ts";
import { CLOSE } from "../static/protocol.js";
import { revocationHead, revocationsSince } from "../store/users.ts";
import type { Hub } from "./hub.ts";

export const CLOSE_REVOKED: number = CLOSE.revoked;
/** A logged-out token's sockets: the same code as any other dead token. */
export const CLOSE_TOKEN_REVOKED: number = CLOSE.auth;

export class RevocationWatcher {
  #kv: Deno.Kv;
  #hub: Hub;
  #log: Logger;
  #intervalMs: number;
  #seen = 0;
  #timer?: ReturnType<typeof setInterval>;
  #polling?: Promise<void>;

  constructor(deps: { kv: Deno.Kv; hub: Hub; log: Logger; intervalMs?: number }) {
    this.#kv = deps.kv;
    this.#hub = deps.hub;
    this.#log = deps.log;
    this.#intervalMs = deps.intervalMs ?? 1000;
  }

  /** Starts from the current head: older revocations already took effect at login and connect. */
  async start(): Promise<void> {
    this.#seen = await revocationHead(this.#kv);
    this.#timer = setInterval(() => {
      this.#polling ??= this.poll().catch((err) => {
        this.#log.error("revocations.poll_failed", { error: String(err) });
      }).finally(() => this.#polling = undefined);
    }, this.#intervalMs);
  }

  /** Applies revocations written since the last poll. */
  async poll(): Promise<void> {
    if (await revocationHead(this.#kv) <= this.#seen) return;
    for (const r of await revocationsSince(this.#kv, this.#seen)) {
      const closed = r.tokenId
        ? this.#hub.closeToken(r.userId, r.tokenId, CLOSE_TOKEN_REVOKED, "Token revoked")
        : this.#hub.closeUser(r.userId, CLOSE_REVOKED, "Account disabled");
      if (closed > 0) this.#log.info("revocations.closed", { userId: r.userId, sockets: closed });
      this.#seen = Math.max(this.#seen, r.seq);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#polling;
  }
}
