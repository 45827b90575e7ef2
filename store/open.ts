/**
 * @module
 * Opening the KV store: a local SQLite file (its folder is created), `:memory:`
 * for tests, or a remote KV by URL; and the health probe's round trip.
 *
 * A local KV file holds message text in plain form, so only the server's own
 * user may read it: the file and SQLite's `-wal` / `-shm` siblings are made
 * 0600 and a folder we create is 0700. Deno has no umask API, so the main file
 * is created 0600 before SQLite opens it (SQLite gives the siblings the main
 * file's mode bits, verified on Linux with Deno 2.9.6) and every one that
 * exists is chmodded before and after opening (files left by an older
 * version or a crash were 0644). A file that cannot be made private (owned
 * by another user) stops the start with an error naming it: the server must
 * not run on a store others can read without saying so.
 *
 * Folder rule: a folder this function creates (every missing level) is 0700.
 * An existing folder is tightened to 0700 only when it is plainly ours: owned
 * by this user, not the working directory, not a sticky shared folder
 * (`/tmp`), and holding nothing but this store's files. Anything else (a
 * home directory, a project folder, `.`, `/`) is left alone: chmodding a
 * folder others use would break them, and the 0600 files already keep the
 * data private. It must not widen a mode, and it does nothing on Windows.
 */

import { basename, dirname } from "node:path";
import { retryWhenBusy } from "./busy_retry.ts";

/** SQLite's companions of a database file: write-ahead log, shared memory, rollback journal. */
const SIBLINGS = ["-wal", "-shm", "-journal"];

function isLocalFile(path: string): boolean {
  return path !== ":memory:" && !/^https?:\/\//.test(path);
}

/**
 * Opens KV at `path`; without one, the platform's (Deno Deploy) or Deno's
 * default. A URL is a KV Connect server (DENO_KV_ACCESS_TOKEN authenticates).
 */
export async function openKv(
  path: string | undefined,
  open: (path?: string) => Promise<Deno.Kv> = Deno.openKv,
): Promise<Deno.Kv> {
  if (path === undefined) return await open();
  if (!isLocalFile(path)) return await open(path);
  if (Deno.build.os === "windows") {
    await Deno.mkdir(dirname(path), { recursive: true });
    return await open(path);
  }
  await prepareFolder(path);
  await createPrivate(path);
  await restrictFiles(path);
  const kv = await open(path);
  try {
    // SQLite created -wal/-shm while opening; make their mode not depend on how it chose it.
    await restrictFiles(path);
  } catch (err) {
    kv.close();
    throw err;
  }
  // A file may be shared by several processes or isolates: a write that meets another's lock
  // is tried again (store/busy_retry.ts).
  return retryWhenBusy(kv);
}

/** Creates the folder 0700, or tightens an existing one that holds only this store. */
async function prepareFolder(path: string): Promise<void> {
  const dir = dirname(path);
  const existing = await statOrNull(dir);
  if (!existing) {
    // Mode applies to every level mkdir creates; umask can only remove bits from 0700.
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    return;
  }
  if ((existing.mode! & 0o077) === 0 || !await isOurFolder(dir, existing, basename(path))) return;
  await Deno.chmod(dir, existing.mode! & 0o7700);
}

async function isOurFolder(dir: string, info: Deno.FileInfo, name: string): Promise<boolean> {
  if (!info.isDirectory || info.uid !== Deno.uid()) return false;
  if ((info.mode! & 0o1000) !== 0 || await Deno.realPath(dir) === Deno.cwd()) return false;
  const ours = new Set([name, ...SIBLINGS.map((s) => name + s)]);
  for await (const entry of Deno.readDir(dir)) if (!ours.has(entry.name)) return false;
  return true;
}

/** Creates an empty main file with mode 0600 (SQLite treats it as a new database). */
async function createPrivate(path: string): Promise<void> {
  try {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    file.close();
  } catch (err) {
    // Already there (a restart, or another isolate of `deno serve --parallel` won the race).
    if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
  }
}

/** Removes group and other bits from the main file and every sibling that exists. */
async function restrictFiles(path: string): Promise<void> {
  for (const file of [path, ...SIBLINGS.map((s) => path + s)]) {
    const info = await statOrNull(file);
    if (!info || !info.isFile || (info.mode! & 0o077) === 0) continue;
    try {
      await Deno.chmod(file, info.mode! & 0o7700);
    } catch (err) {
      throw new Error(`Cannot make the KV file "${file}" private (mode 0600)`, { cause: err });
    }
  }
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** One read round trip, for health checks: throws when the store does not answer. */
export async function pingKv(kv: Deno.Kv): Promise<void> {
  await kv.get(["health"]);
}
