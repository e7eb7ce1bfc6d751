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
  /** A failure of the archive's writer; `code` is the OS error's (ENOSPC), if any. */
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
  return new WorkerArchiveFile(pool, dir, name, recipients);
}

/** The {@linkcode ArchiveFile} of {@linkcode openArchiveFile}: commands to the worker, answers back. */
class WorkerArchiveFile implements ArchiveFile {
  readonly #pool: CodecPool;
  readonly #dir: string;
  readonly #name: string;
  readonly #path: string;
  /** Each write's caller, waiting for its buffer back, in order. */
  readonly #writes: ((buffer: ArrayBuffer) => void)[] = [];
  #ended: ((answer: { bytes: number; sha256: string }) => void) | undefined;
  #failure: SinkError | undefined;
  /** Every caller still waiting, failed at once when the worker fails. */
  readonly #waiting = new Set<(err: Error) => void>();
  #stopped: (() => void) | undefined;

  constructor(pool: CodecPool, dir: string, name: string, recipients: readonly string[]) {
    this.#pool = pool;
    this.#dir = dir;
    this.#name = name;
    this.#path = `${dir}/${partialName(name)}`;
    pool.onSinkAnswer = (answer) => {
      if (answer.op === "written") this.#writes.shift()?.(answer.buffer);
      else if (answer.op === "ended") this.#ended?.(answer);
      else this.#failAll(new SinkError(answer.message, answer.code));
    };
    this.#post({ sink: true, op: "open", path: this.#path, mode: 0o600, recipients });
  }

  write(unit: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> {
    const answer = this.#settle<ArrayBuffer>((resolve) => this.#writes.push(resolve));
    const { buffer, byteOffset: offset, length } = unit;
    this.#post({ sink: true, op: "write", buffer, offset, length }, [buffer]);
    return answer;
  }

  async end(): Promise<PartialFile> {
    const answer = this.#settle<{ bytes: number; sha256: string }>((resolve) =>
      this.#ended = resolve
    );
    this.#post({ sink: true, op: "end" });
    const { bytes, sha256 } = await answer;
    const path = this.#path;
    return {
      path,
      bytes,
      sha256,
      commit: () => Deno.rename(path, `${this.#dir}/${this.#name}`),
      discard: () => removeIfPresent(path),
    };
  }

  async abort(): Promise<void> {
    // The worker removes its partial file itself once it has stopped; for a worker that
    // does not answer, the file is removed from here (the pool's closing ends the worker).
    if (!this.#failure) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#stopped = resolve;
        timer = setTimeout(resolve, 5000);
        this.#post({ sink: true, op: "abort" });
      });
      clearTimeout(timer);
    }
    await removeIfPresent(this.#path);
  }

  #post(command: SinkCommand, transfer: ArrayBuffer[] = []): void {
    this.#pool.toSink(command, transfer);
  }

  #failAll(err: SinkError): void {
    this.#failure ??= err;
    this.#stopped?.();
    for (const reject of this.#waiting) reject(this.#failure);
    this.#waiting.clear();
  }

  /** A promise for the worker's answer, rejected at once if the worker has failed or fails. */
  #settle<T>(register: (resolve: (value: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      const done = (value: T) => {
        this.#waiting.delete(reject);
        resolve(value);
      };
      this.#waiting.add(reject);
      register(done);
    });
  }
}
