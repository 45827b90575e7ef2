import assert from "node:assert/strict";
import {
  CLOSE,
  CLOSE_CODES,
  DOMAIN_PREFIXES,
  SERVER_EVENTS,
  shouldReconnect,
} from "../../static/protocol.js";
import { CLOSE as SESSION_CLOSE } from "../session.ts";
import { CLOSE_SLOW_CONSUMER } from "../hub.ts";
import { CLOSE_REVOKED, CLOSE_TOKEN_REVOKED } from "../revocations.ts";

Deno.test("vocabulary: every close code the server uses is described, and terminal ones stop the client", () => {
  for (const code of Object.values(CLOSE)) assert.ok(CLOSE_CODES[code], `close code ${code}`);
  assert.equal(SESSION_CLOSE, CLOSE, "the session reads the shared table");
  assert.equal(CLOSE_SLOW_CONSUMER, CLOSE.slowConsumer);
  assert.equal(CLOSE_REVOKED, CLOSE.revoked);
  assert.equal(CLOSE_TOKEN_REVOKED, CLOSE.auth);
  for (const code of [4401, 4403, 4429]) assert.equal(shouldReconnect(code), false, `${code}`);
  for (const code of [1001, 1006, 1008, 1009, 4002, 4408]) {
    assert.equal(shouldReconnect(code), true);
  }
});

Deno.test("vocabulary: the emit API's reserved prefixes cover every domain event", () => {
  for (const e of SERVER_EVENTS) {
    if (e.includes(":")) assert.ok(DOMAIN_PREFIXES.some((p) => e.startsWith(p)), e);
  }
  assert.ok(DOMAIN_PREFIXES.includes("auth:"));
});
