/**
 * @module
 * The real entry point (main.ts) as a subprocess, for tests of start-up,
 * shutdown and crashes (kill -9) on a KV file.
 */

import { loginAt, within } from "./harness.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const SERVE = new URL("../serve.ts", import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--unstable-kv",
];

/** Only what Deno needs to find its cache and the npm registry; no ambient app config. */
export function baseEnv(): Record<string, string> {
  const keep = [
    "HOME",
    "PATH",
    "DENO_DIR",
    "XDG_CACHE_HOME",
    "NPM_CONFIG_REGISTRY",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
  ];
  return Object.fromEntries(keep.flatMap((k) => {
    const v = Deno.env.get(k);
    return v === undefined ? [] : [[k, v]];
  }));
}

/** `deno run main.ts` with the server's permissions and exactly `env` (plus baseEnv). */
export function serverCommand(env: Record<string, string>): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN],
    env: { ...baseEnv(), NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  });
}

/** A running server process; its log (stderr) is drained so it can never block on a full pipe. */
export class ServerProcess {
  readonly log: string[] = [];
  #child: Deno.ChildProcess;
  #drained: Promise<void>;

  private constructor(child: Deno.ChildProcess, readonly url: string, drained: Promise<void>) {
    this.#child = child;
    this.#drained = drained;
  }

  /**
   * Starts the server on a free port of 127.0.0.1 and resolves once it listens:
   * `deno run main.ts`, or with `isolates`, `deno serve --parallel serve.ts` with
   * that many workers (DENO_JOBS).
   */
  static async start(
    env: Record<string, string>,
    opts: { isolates?: number } = {},
  ): Promise<ServerProcess> {
    const command = opts.isolates
      ? new Deno.Command(Deno.execPath(), {
        args: ["serve", "--parallel", "--port", "0", "--host", "127.0.0.1", ...PERMISSIONS, SERVE],
        env: { ...baseEnv(), NO_COLOR: "1", DENO_JOBS: String(opts.isolates), ...env },
        clearEnv: true,
        stdout: "null",
        stderr: "piped",
      })
      : serverCommand({ PORT: "0", HOST: "127.0.0.1", ...env });
    const child = command.spawn();
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    let url = "";
    try {
      await within(
        (async () => {
          while (!url) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`server exited early: ${buffered}`);
            buffered += value;
            // main.ts logs {"url":"http://…"}; deno serve prints "Listening on http://…/".
            url = /(?:"url":"|Listening on )(http:\/\/[^"/\s]+)/.exec(buffered)?.[1] ?? "";
          }
        })(),
        15_000,
        "server.listening",
      );
    } catch (err) {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
      throw err;
    }
    const lines: string[] = [];
    const drained = (async () => {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return;
        lines.push(value);
      }
    })();
    const proc = new ServerProcess(child, url, drained);
    proc.log.push(buffered);
    drained.finally(() => proc.log.push(...lines));
    return proc;
  }

  get wsUrl(): string {
    return `${this.url.replace("http", "ws")}/ws`;
  }

  login(email: string, password?: string): Promise<string> {
    return loginAt(this.url, email, password);
  }

  kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch {
      // Already exited.
    }
  }

  /** Resolves with the exit status once the process has ended and its log is drained. */
  async exited(ms = 10_000): Promise<Deno.CommandStatus> {
    const status = await within(this.#child.status, ms, "server exit");
    await this.#drained;
    return status;
  }
}

/** SIGKILLs the servers that were started (undefined ones are skipped) and waits for them to exit. */
export async function killAll(...servers: (ServerProcess | undefined)[]): Promise<void> {
  for (const s of servers) {
    s?.kill("SIGKILL");
    await s?.exited();
  }
}
