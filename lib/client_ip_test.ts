import assert from "node:assert/strict";
import { clientIp, formatIp, inCidrs, parseCidr, parseIp, rateKey } from "./client_ip.ts";

const h = (init: Record<string, string>) => new Headers(init);
const PROXY = ["10.0.0.0/8", "fd00::/8"].map(parseCidr);

Deno.test("client ip: addresses parse and print in one spelling", () => {
  const cases: [string, string][] = [
    ["192.0.2.1", "192.0.2.1"],
    ["::1", "::1"],
    ["[::1]", "::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:1:0:0:0:0", "2001:db8:0:1::"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"],
    ["::ffff:203.0.113.9", "203.0.113.9"],
    ["fe80::1%eth0", "fe80::1"],
    ["::", "::"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ];
  for (const [input, expected] of cases) {
    const ip = parseIp(input);
    assert.ok(ip, input);
    assert.equal(formatIp(ip), expected, input);
  }
  for (
    const bad of ["", "unknown", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4x", "1:::2", ":1"]
  ) {
    assert.equal(parseIp(bad), null, bad);
  }
  assert.equal(parseIp("1:2:3:4:5:6:7:8:9"), null);
  assert.equal(parseIp("1::2::3"), null);
});

Deno.test("client ip: CIDRs match their range only", () => {
  const cidrs = ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::ffff:172.16.0.0/108"].map(
    parseCidr,
  );
  const inside = ["10.255.0.1", "192.168.1.7", "2001:db8:ffff::1", "172.16.3.4"];
  const outside = ["11.0.0.1", "192.168.1.8", "2001:db9::1", "172.32.0.1", "::1"];
  for (const a of inside) assert.ok(inCidrs(parseIp(a)!, cidrs), a);
  for (const a of outside) assert.ok(!inCidrs(parseIp(a)!, cidrs), a);
  assert.ok(inCidrs(parseIp("8.8.8.8")!, [parseCidr("0.0.0.0/0")]));
  for (const bad of ["10.0.0.0/33", "::/129", "nope/8", "10.0.0.0/8/1", "10.0.0.0/x", ""]) {
    assert.throws(() => parseCidr(bad), TypeError, bad);
  }
});

Deno.test("client ip: an untrusted peer's forwarding headers are ignored (forged XFF)", () => {
  const forged = h({ "x-forwarded-for": "198.51.100.7", forwarded: "for=198.51.100.8" });
  assert.equal(clientIp("203.0.113.9", forged, PROXY), "203.0.113.9");
  assert.equal(clientIp("203.0.113.9", forged, []), "203.0.113.9");
  assert.equal(clientIp("::ffff:203.0.113.9", forged, []), "203.0.113.9");
});

Deno.test("client ip: from a trusted proxy, the rightmost untrusted X-Forwarded-For hop", () => {
  // The client claimed 1.1.1.1; the edge proxy appended the real address; an inner proxy its own.
  const headers = h({ "x-forwarded-for": "1.1.1.1, 198.51.100.7, 10.0.0.5" });
  assert.equal(clientIp("10.0.0.2", headers, PROXY), "198.51.100.7");
  assert.equal(
    clientIp("10.0.0.2", h({ "x-forwarded-for": "198.51.100.7:5123" }), PROXY),
    "198.51.100.7",
  );
  assert.equal(
    clientIp("fd00::2", h({ "x-forwarded-for": "[2001:db8::7]:443, fd00::9" }), PROXY),
    "2001:db8::7",
  );
  // Every hop trusted: the leftmost is as far as the chain goes.
  assert.equal(
    clientIp("10.0.0.2", h({ "x-forwarded-for": "10.1.1.1, 10.0.0.5" }), PROXY),
    "10.1.1.1",
  );
  // No header: the proxy itself.
  assert.equal(clientIp("10.0.0.2", h({}), PROXY), "10.0.0.2");
});

Deno.test("client ip: a hop that does not parse stops the walk at the last trusted address", () => {
  const headers = h({ "x-forwarded-for": "198.51.100.7, garbage, 10.0.0.5" });
  assert.equal(clientIp("10.0.0.2", headers, PROXY), "10.0.0.5");
  assert.equal(clientIp("10.0.0.2", h({ "x-forwarded-for": "unknown" }), PROXY), "10.0.0.2");
});

Deno.test("client ip: RFC 7239 Forwarded when there is no X-Forwarded-For", () => {
  const fwd = (v: string) => clientIp("10.0.0.2", h({ forwarded: v }), PROXY);
  assert.equal(fwd("for=192.0.2.60;proto=http;by=203.0.113.43"), "192.0.2.60");
  assert.equal(fwd('for="[2001:db8:cafe::17]:4711"'), "2001:db8:cafe::17");
  assert.equal(fwd("for=1.1.1.1, For=198.51.100.7;proto=https, for=10.0.0.5"), "198.51.100.7");
  assert.equal(fwd("for=_hidden"), "10.0.0.2");
  assert.equal(fwd("proto=https"), "10.0.0.2");
  // X-Forwarded-For wins when both are present.
  const both = h({ "x-forwarded-for": "198.51.100.7", forwarded: "for=192.0.2.60" });
  assert.equal(clientIp("10.0.0.2", both, PROXY), "198.51.100.7");
});

Deno.test("client ip: a peer that is not an address is passed through", () => {
  assert.equal(clientIp("unknown", h({ "x-forwarded-for": "1.1.1.1" }), PROXY), "unknown");
});

Deno.test("client ip: rate keys group IPv6 by /64", () => {
  assert.equal(rateKey("192.0.2.1"), "192.0.2.1");
  assert.equal(rateKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(rateKey("2001:db8:1:2:bbbb::9"), "2001:db8:1:2::/64");
  assert.equal(rateKey("unknown"), "unknown");
});
