/**
 * @module
 * The client's IP address behind reverse proxies. `X-Forwarded-For` and
 * `Forwarded` are written by whoever sends the request, so they are believed
 * only when the TCP peer is a configured trusted proxy (TRUSTED_PROXIES), and
 * then read from the right: each trusted hop is skipped and the first
 * untrusted address is the client. Anything a client put further left is
 * ignored, so a forged header cannot choose the address that rate limits and
 * the audit trail see. `X-Forwarded-For` wins when present (what nginx, Caddy,
 * HAProxy and most load balancers append); `Forwarded: for=` (RFC 7239) is
 * read only when there is no `X-Forwarded-For`, so a proxy that writes only
 * `Forwarded` must drop an incoming `X-Forwarded-For`.
 *
 * Addresses come back normalized (IPv4 dotted, IPv6 compressed lower-case,
 * IPv4-mapped IPv6 as IPv4), so one address has one spelling in rate-limit
 * keys and audit entries.
 */

/** A parsed address: 32 bits for IPv4, 128 for IPv6. */
export interface Ip {
  version: 4 | 6;
  value: bigint;
}

export interface Cidr {
  version: 4 | 6;
  network: bigint;
  prefix: number;
}

/** Hops read from the right at most: a longer chain is not a proxy chain we run. */
const MAX_HOPS = 20;

function parseV4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return null;
    value = (value << 8n) | BigInt(Number(p));
  }
  return value;
}

function parseV6(input: string): bigint | null {
  const text = input.split("%")[0]; // a zone id (fe80::1%eth0) names a local interface, not a host
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.length > 45) return null;
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const words: number[] = [];
  const pushGroups = (list: string[], allowV4Tail: boolean): boolean => {
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      if (allowV4Tail && i === list.length - 1 && g.includes(".")) {
        const v4 = parseV4(g);
        if (v4 === null) return false;
        words.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        words.push(parseInt(g, 16));
      } else return false;
    }
    return true;
  };
  if (!pushGroups(head, halves.length === 1)) return null;
  const headWords = words.length;
  if (!pushGroups(tail, true)) return null;
  const tailWords = words.splice(headWords);
  const missing = 8 - headWords - tailWords.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...words, ...Array(halves.length === 2 ? missing : 0).fill(0), ...tailWords];
  return all.reduce((acc, w) => (acc << 16n) | BigInt(w), 0n);
}

/** Parses an IPv4 or IPv6 address (brackets allowed); null when it is not one. */
export function parseIp(text: string): Ip | null {
  const t = text.trim();
  const v4 = parseV4(t);
  if (v4 !== null) return { version: 4, value: v4 };
  const bare = t.startsWith("[") && t.endsWith("]") ? t.slice(1, -1) : t;
  const v6 = parseV6(bare);
  if (v6 === null) return null;
  // ::ffff:a.b.c.d is an IPv4 client seen through a dual-stack socket.
  if (v6 >> 32n === 0xffffn) return { version: 4, value: v6 & 0xffffffffn };
  return { version: 6, value: v6 };
}

/** Whether `peer` is a loopback address: 127.0.0.0/8 or ::1 (IPv4-mapped included). */
export function isLoopback(peer: string | undefined): boolean {
  const ip = peer === undefined ? null : parseIp(peer);
  if (!ip) return false;
  return ip.version === 4 ? ip.value >> 24n === 127n : ip.value === 1n;
}

/** The address as text: dotted IPv4, or RFC 5952 compressed IPv6. */
export function formatIp(ip: Ip): string {
  if (ip.version === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 255n)).join(".");
  }
  const words = Array.from(
    { length: 8 },
    (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn),
  );
  // The longest run of two or more zero words becomes "::" (the first, on a tie).
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = words.map((w) => w.toString(16));
  if (best.at < 0) return hex.join(":");
  const left = hex.slice(0, best.at).join(":");
  const right = hex.slice(best.at + best.len).join(":");
  return `${left}::${right}`;
}

/** Parses `10.0.0.0/8`, `fd00::/8` or a bare address (a single host). Throws on anything else. */
export function parseCidr(text: string): Cidr {
  const [addr, prefixText, extra] = text.trim().split("/");
  const ip = parseIp(addr);
  // An IPv4-mapped range (::ffff:10.0.0.0/104) matches the IPv4 addresses parseIp returns.
  const mapped = ip?.version === 4 && addr.includes(":");
  const bits = ip?.version === 4 && !mapped ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  const p = mapped ? prefix - 96 : prefix;
  if (
    !ip || extra !== undefined || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) ||
    prefix > bits || p < 0
  ) {
    throw new TypeError(`Cannot parse "${text}" as a CIDR (e.g. 10.0.0.0/8 or fd00::/8)`);
  }
  const shift = BigInt((ip.version === 4 ? 32 : 128) - p);
  return { version: ip.version, network: (ip.value >> shift) << shift, prefix: p };
}

export function inCidrs(ip: Ip, cidrs: readonly Cidr[]): boolean {
  return cidrs.some((c) => {
    if (c.version !== ip.version) return false;
    const shift = BigInt((c.version === 4 ? 32 : 128) - c.prefix);
    return (ip.value >> shift) === (c.network >> shift);
  });
}

/** One hop of a forwarding header: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, `2001:db8::1`. */
function parseHop(raw: string): Ip | null {
  let t = raw.trim();
  if (t.startsWith('"') && t.endsWith('"') && t.length >= 2) t = t.slice(1, -1);
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(t);
  if (bracketed) return parseIp(bracketed[1]);
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(t);
  return parseIp(v4port ? v4port[1] : t);
}

/** The `for=` value of each RFC 7239 element, left to right. */
function forwardedFor(header: string): string[] {
  const out: string[] = [];
  for (const element of header.split(",")) {
    const pair = element.split(";").map((p) => p.trim()).find((p) => /^for=/i.test(p));
    out.push(pair ? pair.slice(4) : "");
  }
  return out;
}

interface HeaderSource {
  get(name: string): string | null | undefined;
}

/**
 * The client's address for a request that arrived from `peer` (the TCP
 * peer's address). Returns the normalized peer unless it is in `trusted`;
 * from a trusted peer, the rightmost untrusted hop of `X-Forwarded-For` (or
 * else `Forwarded`). A hop that does not parse stops the walk: the last
 * trusted address is used rather than anything a client wrote.
 *
 * @example
 * ```ts
 * const trusted = ["10.0.0.0/8"].map(parseCidr);
 * clientIp("10.0.0.2", new Headers({ "x-forwarded-for": "1.1.1.1, 198.51.100.7" }), trusted);
 * // "198.51.100.7": the proxy appended it; "1.1.1.1" was the client's own claim
 * ```
 */
export function clientIp(peer: string, headers: HeaderSource, trusted: readonly Cidr[]): string {
  const peerIp = parseIp(peer);
  if (!peerIp) return peer;
  if (trusted.length === 0 || !inCidrs(peerIp, trusted)) return formatIp(peerIp);
  const xff = headers.get("x-forwarded-for")?.trim();
  const forwarded = headers.get("forwarded")?.trim();
  const hops = xff ? xff.split(",") : forwarded ? forwardedFor(forwarded) : [];
  let client = peerIp;
  for (let i = hops.length - 1; i >= Math.max(0, hops.length - MAX_HOPS); i--) {
    const hop = parseHop(hops[i]);
    if (!hop) break;
    client = hop;
    if (!inCidrs(hop, trusted)) break;
  }
  return formatIp(client);
}

/**
 * The key per-address rate limits count under: the address itself for IPv4,
 * its /64 for IPv6 (one subscriber line gets a whole /64, so counting single
 * IPv6 addresses would let one client rotate through 2^64 of them).
 */
export function rateKey(ip: string): string {
  const parsed = parseIp(ip);
  if (!parsed || parsed.version === 4) return ip;
  return `${formatIp({ version: 6, value: (parsed.value >> 64n) << 64n })}/64`;
}
