/**
 * @module
 * Load benchmark: `deno task bench`. Serves the real app on 127.0.0.1:0 over a
 * KV file (SQLite, as a clinic runs it), connects CLIENTS sockets into one
 * visit room and has each send MESSAGES messages one after another, awaiting
 * each ack. Reports ack latency (commit included), fan-out latency (send to
 * message:new at every other member) and committed messages per second, as a
 * table and as one JSON line for tracking. Bounded in count and time; only
 * loopback traffic.
 *
 *   deno task bench                      # 50 clients x 40 messages
 *   CLIENTS=100 MESSAGES=20 deno task bench
 */

import { createApp } from "../main.ts";
import { loadConfig } from "../lib/config.ts";
import { createLogger } from "../lib/log.ts";
import { LocalBus } from "../realtime/bus.ts";
import { createUser } from "../store/users.ts";
import { createVisit } from "../store/visits.ts";
import { within, WsClient } from "../tests/harness.ts";

const CLIENTS = Number(Deno.env.get("CLIENTS") ?? 50);
const MESSAGES = Number(Deno.env.get("MESSAGES") ?? 40);
const ROOM = "visit:bench";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(name: string, samples: number[]) {
  const s = [...samples].sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(2);
  return {
    name,
    n: s.length,
    p50: f(percentile(s, 50)),
    p95: f(percentile(s, 95)),
    p99: f(percentile(s, 99)),
    max: f(s.at(-1) ?? 0),
  };
}

async function main() {
  const dir = await Deno.makeTempDir({ prefix: "telehealth-bench-" });
  const kv = await Deno.openKv(`${dir}/bench.kv`);
  const config = loadConfig({
    JWT_SECRET: "bench-secret-bench-secret-bench-secret-0123",
    LOG_LEVEL: "error",
    // The benchmark measures the server, not its abuse limits.
    MESSAGE_RATE_PER_S: "10000",
    MESSAGE_BURST: "10000",
    EVENT_RATE_PER_S: "10000",
    EVENT_BURST: "10000",
    MAX_SOCKETS_PER_USER: "1000",
    WS_UPGRADES_PER_MIN: "100000",
  });
  const ids = Array.from({ length: CLIENTS }, (_, i) => `bench-${i}`);
  for (const [i, id] of ids.entries()) {
    await createUser(kv, {
      id,
      email: `${id}@bench.test`,
      name: id,
      role: i === 0 ? "patient" : "doctor",
      password: "bench-password",
    }, new Date());
  }
  await createVisit(kv, {
    id: "bench",
    patientId: ids[0],
    clinicianIds: ids.slice(1),
    createdBy: ids[1] ?? ids[0],
    createdAt: new Date().toISOString(),
  });
  const app = await createApp({
    kv,
    config,
    log: createLogger("error"),
    bus: (sink) => new LocalBus(sink),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  const base = `127.0.0.1:${server.addr.port}`;
  const clients: WsClient[] = [];
  try {
    for (const id of ids) {
      const res = await fetch(`http://${base}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: `${id}@bench.test`, password: "bench-password" }),
      });
      const { token } = await res.json();
      const c = await WsClient.open(`ws://${base}/ws`);
      if ((await c.auth(token)).event !== "connected") throw new Error(`auth ${id}`);
      await c.request("room:join", { roomId: ROOM });
      clients.push(c);
    }

    const sentAt = new Map<string, number>();
    const fanout: number[] = [];
    const expected = CLIENTS * MESSAGES * (CLIENTS - 1);
    let received = 0;
    let allDelivered!: () => void;
    const delivered = new Promise<void>((r) => allDelivered = r);
    for (const c of clients) {
      c.onEvent = (frame) => {
        if (frame.event !== "message:new") return true;
        const at = sentAt.get(String(frame.data.clientMessageId));
        if (at !== undefined) fanout.push(performance.now() - at);
        if (++received === expected) allDelivered();
        return false; // not kept: a long run must not hoard frames
      };
    }

    const acks: number[] = [];
    const started = performance.now();
    await within(
      Promise.all(clients.map(async (c, i) => {
        for (let m = 0; m < MESSAGES; m++) {
          const clientMessageId = `${i}-${m}`;
          const t = performance.now();
          sentAt.set(clientMessageId, t);
          const ack = await c.request("message:send", {
            roomId: ROOM,
            message: `benchmark message ${m} from client ${i}`,
            clientMessageId,
          }, 30_000);
          if (ack.success !== true) throw new Error(`send failed: ${JSON.stringify(ack)}`);
          acks.push(performance.now() - t);
        }
      })),
      120_000,
      "all sends",
    );
    const sendSeconds = (performance.now() - started) / 1000;
    await within(delivered, 60_000, "all deliveries");

    const rows = [summary("ack latency (ms)", acks), summary("fan-out latency (ms)", fanout)];
    console.log(`\n${CLIENTS} clients x ${MESSAGES} messages in one room, KV file (SQLite)\n`);
    console.table(rows);
    const throughput = (CLIENTS * MESSAGES) / sendSeconds;
    console.log(`committed messages/s: ${throughput.toFixed(0)}`);
    console.log(`deliveries: ${received} (${(received / sendSeconds).toFixed(0)}/s)`);
    console.log(JSON.stringify({
      bench: "room-fanout",
      clients: CLIENTS,
      messages: MESSAGES,
      messagesPerSecond: Math.round(throughput),
      ackP50: Number(rows[0].p50),
      ackP99: Number(rows[0].p99),
      fanoutP50: Number(rows[1].p50),
      fanoutP99: Number(rows[1].p99),
    }));
  } finally {
    await app.shutdown();
    await Promise.all(clients.map((c) => c.close()));
    await server.shutdown();
    kv.close();
    await app.finished;
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
