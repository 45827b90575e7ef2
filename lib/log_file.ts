/**
 * @module
 * LOG_FILE: the logger's JSON lines appended to a file as well as stderr. The
 * file is opened once in append mode (its folder is created) and each line is
 * written synchronously, so nothing waits in a buffer when the process dies
 * and a rotation by `copytruncate` is safe: after the truncation, O_APPEND
 * writes go to the new end of the file, not to the old offset. A write that
 * fails (a full disk) is reported once on stderr and the server goes on.
 */

import { createLogger, type Logger, type LogLevel } from "./log.ts";

/** An open log file: `write` appends one line; `close` releases it (idempotent). */
export interface LogFile {
  write(line: string): void;
  close(): void;
}

/** Opens (creating it and its folder) `path` for appending lines. */
export function openLogFile(path: string): LogFile {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (slash > 0) Deno.mkdirSync(path.slice(0, slash), { recursive: true });
  const file = Deno.openSync(path, { append: true, create: true });
  const encoder = new TextEncoder();
  let closed = false;
  let failed = false;
  return {
    write(line) {
      if (closed) return;
      try {
        const bytes = encoder.encode(`${line}\n`);
        for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
      } catch (err) {
        if (!failed) console.error(`LOG_FILE: cannot write to ${path}: ${err}`);
        failed = true;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      file.close();
    },
  };
}

/**
 * The server's logger: JSON lines at `logLevel` on stderr and, with
 * `logFile`, the same lines appended to that file. `close` closes the file.
 */
export function configuredLogger(
  config: { logLevel: LogLevel; logFile?: string },
): { log: Logger; close(): void } {
  if (!config.logFile) return { log: createLogger(config.logLevel), close() {} };
  const file = openLogFile(config.logFile);
  const log = createLogger(config.logLevel, (line) => {
    console.error(line);
    file.write(line);
  });
  return { log, close: () => file.close() };
}
