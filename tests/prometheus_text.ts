// deno-lint-ignore-file no-import-prefix -- test tools stay out of the import map: `deno task`
// installs every package there, and `deno task dev` must not download them (tests/dx_test.ts).
/**
 * @module
 * The Prometheus text format as an independent parser (parse-prometheus-text-format) reads it,
 * for the tests of lib/metrics.ts and of GET /metrics. Note: it keeps labels, `_sum` and
 * `_count` of unlabelled histograms only (realtime/metrics.ts has none with labels).
 */

import parsePrometheusTextFormat from "npm:parse-prometheus-text-format@1.1.1";

/** One metric family as the parser returns it. */
export interface Family {
  name: string;
  help: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}

/** Parses an exposition; throws on text the parser refuses. */
export function parseExposition(text: string): Family[] {
  return parsePrometheusTextFormat(text) as Family[];
}
