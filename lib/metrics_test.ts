import assert from "node:assert/strict";
import { parseExposition as parse } from "../tests/prometheus_text.ts";
import { escapeLabel, exponentialBuckets, formatNumber, Registry } from "./metrics.ts";

Deno.test("Registry: counters, gauges and histograms in the 0.0.4 text format", () => {
  const r = new Registry();
  const frames = r.counter("app_frames_total", "Frames read.", ["kind", "code"]);
  frames.series("text", "ok").inc();
  frames.series("text", "ok").inc(2);
  frames.series("binary", "INVALID_PAYLOAD").inc();
  r.gauge("app_open", "Open sockets.").series().set(4);
  const h = r.histogram("app_seconds", "Latency.", { bounds: [0.01, 0.1, 1] }).series();
  for (const v of [0.005, 0.01, 0.05, 0.5, 5]) h.observe(v);

  const text = r.expose();
  assert.match(text, /^# HELP app_frames_total Frames read\.\n# TYPE app_frames_total counter\n/);
  assert.ok(text.includes('app_frames_total{kind="text",code="ok"} 3\n'));
  assert.ok(text.includes('app_seconds_bucket{le="0.01"} 2\n'), "le is inclusive");
  assert.ok(text.includes('app_seconds_bucket{le="+Inf"} 5\n'));
  assert.ok(text.endsWith("\n"));

  const families = new Map(parse(text).map((f) => [f.name, f]));
  assert.equal(families.get("app_frames_total")!.type, "COUNTER");
  assert.deepEqual(
    families.get("app_frames_total")!.metrics.map((m) => [m.labels, m.value]),
    [[{ kind: "text", code: "ok" }, "3"], [{ kind: "binary", code: "INVALID_PAYLOAD" }, "1"]],
  );
  assert.equal(families.get("app_open")!.metrics[0].value, "4");
  const hist = families.get("app_seconds")!;
  assert.equal(hist.type, "HISTOGRAM");
  assert.deepEqual(hist.metrics[0].buckets, { "0.01": "2", "0.1": "3", "1": "4", "+Inf": "5" });
  assert.equal(hist.metrics[0].count, "5");
  assert.equal(Number(hist.metrics[0].sum), 0.005 + 0.01 + 0.05 + 0.5 + 5);
});

Deno.test("Registry: label values and help text are escaped; the parser reads them back", () => {
  const r = new Registry();
  const odd = 'quote " backslash \\ newline \n end';
  r.counter("app_odd_total", "Help with \\ and\nnewline.", ["v"]).series(odd).inc();
  const text = r.expose();
  assert.ok(text.includes("# HELP app_odd_total Help with \\\\ and\\nnewline.\n"));
  assert.equal(escapeLabel(odd), 'quote \\" backslash \\\\ newline \\n end');
  const [family] = parse(text);
  assert.equal(family.metrics[0].labels!.v, odd);
});

Deno.test("Registry: unlabelled counters and histograms show at zero; labelled ones when used", () => {
  const r = new Registry();
  r.counter("app_a_total", "A.");
  r.counter("app_b_total", "B.", ["x"]);
  r.histogram("app_c_seconds", "C.", { bounds: [1] });
  const text = r.expose();
  assert.ok(text.includes("\napp_a_total 0\n"));
  assert.ok(!text.includes("app_b_total{"));
  assert.ok(text.includes('app_c_seconds_bucket{le="+Inf"} 0\napp_c_seconds_sum 0\n'));
  assert.equal(parse(text).length, 3);
});

Deno.test("Registry: collectors run at each exposition; gauges can be refilled", () => {
  const r = new Registry();
  const g = r.gauge("app_open", "Open.", ["protocol"]);
  let n = 1;
  r.onCollect(() => {
    g.clear();
    g.series("native").set(n);
  });
  assert.ok(r.expose().includes('app_open{protocol="native"} 1\n'));
  n = 7;
  assert.ok(r.expose().includes('app_open{protocol="native"} 7\n'));
});

Deno.test("Registry: refuses bad names, duplicates, le labels and unsorted bounds", () => {
  const r = new Registry();
  r.counter("app_x_total", "X.");
  assert.throws(() => r.counter("app_x_total", "again"), /registered twice/);
  assert.throws(() => r.counter("9bad", "bad"), /Invalid metric name/);
  assert.throws(() => r.counter("app_y_total", "y", ["__reserved"]), /invalid label name/);
  assert.throws(() => r.histogram("app_h", "h", { labelNames: ["le"], bounds: [1] }), /reserved/);
  assert.throws(() => r.histogram("app_h2", "h", { bounds: [1, 1] }), /ascending/);
  assert.throws(() => r.counter("app_z_total", "z", ["a"]).series("1", "2"), /label values/);
});

Deno.test("Registry: label cardinality is capped into one overflow series", () => {
  const r = new Registry();
  const c = r.counter("app_many_total", "Many.", ["id"]);
  for (let i = 0; i < 1500; i++) c.series(`id-${i}`).inc();
  const [family] = parse(r.expose());
  assert.equal(family.metrics.length, 1001);
  assert.equal(family.metrics.find((m) => m.labels!.id === "_overflow")!.value, "500");
});

Deno.test("formatNumber and exponentialBuckets", () => {
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(formatNumber(Infinity), "+Inf");
  assert.equal(formatNumber(-Infinity), "-Inf");
  assert.equal(formatNumber(0.25), "0.25");
  assert.deepEqual(exponentialBuckets(0.001, 2, 4), [0.001, 0.002, 0.004, 0.008]);
});
