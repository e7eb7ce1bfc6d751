// An archive file written by the sink worker: under its hidden partial name until it is
// complete and fsync'ed, then renamed; removed on any failure.

import type { PartialFile } from "../store/atomic_file.ts";
import { removeIfPresent } from "../store/atomic_file.ts";
import { partialName } from "../store/names.ts";
import type { UnitSink } from "./block_output.ts";
import type { SinkCommand } from "./archive_writer.ts";
import type { CodecPool } from "./codec_pool.ts";

/** A failure of the worker writing the file, with the system's error code when it had one. */
export class SinkError extends Error {
  /** The system error code, such as `ENOSPC`. */
  code: string | undefined;
  /**
   * @example
   * ```ts ignore
   * throw new SinkError("No space left on device (os error 28)", "ENOSPC");
   * ```
   */
  constructor(message: string, code?: string) {
    super(message);
    this.name = "SinkError";
    this.code = code;
  }
}

/** An archive being written by the pool's first worker. */
export interface ArchiveFile extends UnitSink {
  /** Waits for the last unit, fsyncs; the file is then ready to commit. */
  end(): Promise<PartialFile>;
  /** Stops writing and removes the partial file. */
  abort(): Promise<void>;
}

/**
 * Starts writing `dir/.name.partial` on `pool`'s first worker, encrypted to `recipients`
 * when any. One archive at a time per pool.
 *
 * @example
 * ```ts ignore
 * const file = openArchiveFile(pool, "/backup/2027-01-02", "01-00-00.tar.gz", []);
 * await file.write(unit);
 * const partial = await file.end();
 * await partial.commit();
 * ```
 */
export function openArchiveFile(
  pool: CodecPool,
  dir: string,
  name: string,
  recipients: readonly string[],
): ArchiveFile {
  const path = `${dir}/${partialName(name)}`;
  const writes: ((buffer: ArrayBuffer) => void)[] = [];
  let ended: ((answer: { bytes: number; sha256: string }) => void) | undefined;
  let failure: SinkError | undefined;
  const waiting = new Set<(err: Error) => void>();
  let stopped: (() => void) | undefined;
  const failAll = (err: SinkError) => {
    failure ??= err;
    stopped?.();
    for (const reject of waiting) reject(failure);
    waiting.clear();
  };
  pool.onSinkAnswer = (answer) => {
    if (answer.op === "written") writes.shift()?.(answer.buffer);
    else if (answer.op === "ended") ended?.(answer);
    else failAll(new SinkError(answer.message, answer.code));
  };
  const post = (command: SinkCommand, transfer: ArrayBuffer[] = []) =>
    pool.toSink(command, transfer);
  post({ sink: true, op: "open", path, mode: 0o600, recipients });
  const settle = <T>(register: (resolve: (value: T) => void) => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (failure) return reject(failure);
      const done = (value: T) => {
        waiting.delete(reject);
        resolve(value);
      };
      waiting.add(reject);
      register(done);
    });
  return {
    write(unit) {
      const answer = settle<ArrayBuffer>((resolve) => writes.push(resolve));
      post({
        sink: true,
        op: "write",
        buffer: unit.buffer,
        offset: unit.byteOffset,
        length: unit.length,
      }, [
        unit.buffer,
      ]);
      return answer;
    },
    async end() {
      const answer = settle<{ bytes: number; sha256: string }>((resolve) => ended = resolve);
      post({ sink: true, op: "end" });
      const { bytes, sha256 } = await answer;
      return {
        path,
        bytes,
        sha256,
        commit: () => Deno.rename(path, `${dir}/${name}`),
        discard: () => removeIfPresent(path),
      };
    },
    async abort() {
      // The worker removes its partial file itself once it has stopped; for a worker that
      // does not answer, the file is removed from here (the pool's closing ends the worker).
      if (!failure) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          stopped = resolve;
          timer = setTimeout(resolve, 5000);
          post({ sink: true, op: "abort" });
        });
        clearTimeout(timer);
      }
      await removeIfPresent(path);
    },
  };
}
