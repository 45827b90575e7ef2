/**
 * @module
 * A small structured logger: one JSON line per entry on stderr. Callers pass
 * ids and counts, never message text, passwords or tokens; `redact` guards the
 * field names that could carry them anyway.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELDS = /^(password|token|authorization|message|text|body|secret)$/i;

function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (SECRET_FIELDS.test(k)) out[k] = "[redacted]";
    else if (v instanceof Error) out[k] = `${v.name}: ${v.message}`;
    else out[k] = v;
  }
  return out;
}

/** A logger writing JSON lines at or above `level` to `write` (stderr by default). */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const at = (lvl: LogLevel) => (event: string, fields: LogFields = {}) => {
    if (ORDER[lvl] < ORDER[level]) return;
    // Time, level and event lead each line for readers; assigned again after the caller's
    // fields so a field of the same name cannot replace them.
    const head = { t: new Date().toISOString(), level: lvl, event };
    write(JSON.stringify({ ...head, ...redact(fields), ...head }));
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

/** A logger that keeps entries in memory, for tests that assert what was (not) logged. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(createLogger("debug", (l) => lines.push(l)), { lines });
}
