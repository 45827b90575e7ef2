import assert from "node:assert/strict";
import { FakeClock } from "./clock.ts";
import { ulidFactory } from "./ulid.ts";

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function decodeTime(id: string): number {
  let ms = 0;
  for (const ch of id.slice(0, 10)) ms = ms * 32 + ALPHABET.indexOf(ch);
  return ms;
}

Deno.test("ulid: 26 Crockford base32 characters with the clock's time first", () => {
  const clock = new FakeClock();
  const ulid = ulidFactory(clock);
  const id = ulid();
  assert.equal(id.length, 26);
  assert.match(id, CROCKFORD);
  assert.equal(decodeTime(id), clock.now());
  assert.equal(id.slice(0, 10), "01KDVDNA00"); // 1767225600000 = 2026-01-01T00:00:00Z
});

Deno.test("ulid: time encoding at the edges", () => {
  assert.equal(ulidFactory(new FakeClock(0))().slice(0, 10), "0000000000");
  assert.equal(ulidFactory(new FakeClock(2 ** 48 - 1))().slice(0, 10), "7ZZZZZZZZZ");
});

Deno.test("ulid: strictly increasing within one millisecond", () => {
  const clock = new FakeClock();
  const ulid = ulidFactory(clock);
  const ids = Array.from({ length: 1000 }, () => ulid());
  for (let i = 1; i < ids.length; i++) {
    assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`);
    assert.equal(ids[i].slice(0, 10), ids[0].slice(0, 10));
  }
  assert.equal(new Set(ids).size, ids.length);
});

Deno.test("ulid: later milliseconds sort later; a clock going back never breaks order", () => {
  const clock = new FakeClock();
  const ulid = ulidFactory(clock);
  const a = ulid();
  clock.advance(1);
  const b = ulid();
  assert.ok(a < b);
  assert.equal(decodeTime(b), decodeTime(a) + 1);
  clock.advance(-5000);
  const c = ulid();
  assert.ok(b < c);
  assert.equal(decodeTime(c), decodeTime(b));
});

Deno.test("ulid: two factories on one clock do not collide", () => {
  const clock = new FakeClock();
  const a = ulidFactory(clock);
  const b = ulidFactory(clock);
  const ids = new Set([a(), b(), a(), b()]);
  assert.equal(ids.size, 4);
});
