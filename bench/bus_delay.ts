/**
 * Cross-process delivery delay of the KV bus (issue 10): two `deno run
 * main.ts` processes on one KV file; a patient on the first sends, a doctor on
 * the second receives. The delay is from the send to the doctor's
 * `message:new`, both on this script's clock (one machine). Sends go at a
 * steady rate, so the delay is what a user waits, not a queue of our making.
 *
 *   deno task bench:bus [--messages 300] [--rate 20] [--poll 250]
 */

import { parseArgs } from "node:util";
import { WsClient } from "../tests/harness.ts";
import { killAll, ServerProcess } from "../tests/process.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    messages: { type: "string", default: "300" },
    rate: { type: "string", default: "20" },
    poll: { type: "string", default: "250" },
  },
});
const total = Number(values.messages);
const rate = Number(values.rate);
const ROOM = "visit:visit-123";

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)];
}

const dir = await Deno.makeTempDir();
let a: ServerProcess | undefined;
let b: ServerProcess | undefined;
try {
  const env = {
    DEMO_DATA: "true",
    KV_PATH: `${dir}/realtime.kv`,
    BUS_POLL_MS: values.poll!,
    MESSAGE_BURST: "1000",
    MESSAGE_RATE_PER_S: "1000",
  };
  a = await ServerProcess.start(env);
  b = await ServerProcess.start(env);
  const patient = await WsClient.open(a.wsUrl);
  await patient.auth(await a.login("patient@example.com"));
  const doctor = await WsClient.open(b.wsUrl);
  await doctor.auth(await b.login("doctor@example.com"));
  await doctor.request("room:join", { roomId: ROOM });
  const sentAt = new Map<string, number>();
  const delays: number[] = [];
  let done: () => void;
  const finished = new Promise<void>((r) => done = r);
  doctor.onEvent = (f) => {
    if (f.event !== "message:new") return true;
    const t = sentAt.get(String(f.data.message));
    if (t !== undefined) delays.push(performance.now() - t);
    if (delays.length === total) done();
    return false;
  };
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sentAt.set(`m${i}`, performance.now());
    patient.emit("message:send", { roomId: ROOM, message: `m${i}` });
  }
  await Promise.race([finished, new Promise((r) => setTimeout(r, 10_000))]);
  await patient.close();
  await doctor.close();
  const sorted = [...delays].sort((x, y) => x - y);
  const result = {
    messages: total,
    received: delays.length,
    ratePerS: rate,
    busPollMs: Number(values.poll),
    p50Ms: Math.round(percentile(sorted, 0.5)),
    p99Ms: Math.round(percentile(sorted, 0.99)),
    maxMs: Math.round(sorted[sorted.length - 1]),
  };
  console.log(JSON.stringify(result));
} finally {
  await killAll(a, b);
  await Deno.remove(dir, { recursive: true });
}
