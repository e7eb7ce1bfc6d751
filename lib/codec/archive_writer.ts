// The writing of an archive file, done by the first codec worker: it takes the compressed
// units in order, encrypts them with age when asked, hashes and writes them, and gives each
// buffer back. Hashing and encryption thus stay off the thread that reads SOURCE, without a
// thread (and a runtime's memory) of their own.

import { createHash } from "node:crypto";
import { encryptStream } from "./encryption.ts";

/** What the worker is told. */
export type SinkCommand =
  & { sink: true }
  & (
    | { op: "open"; path: string; mode: number; recipients: readonly string[] }
    | { op: "write"; buffer: ArrayBuffer; offset: number; length: number }
    | { op: "end" }
    | { op: "abort" }
  );

/** What the worker answers. */
export type SinkAnswer =
  & { sink: true }
  & (
    | { op: "written"; buffer: ArrayBuffer }
    | { op: "ended"; bytes: number; sha256: string }
    | { op: "failed"; message: string; code?: string }
  );

let file: Deno.FsFile | undefined;
let path = "";
let hash = createHash("sha256");
let bytes = 0;
/** The age encryption's input, when the archive is encrypted. */
let plain: WritableStreamDefaultWriter<Uint8Array> | undefined;
let encrypted: Promise<void> = Promise.resolve();
let failed = false;

function store(chunk: Uint8Array): void {
  hash.update(chunk);
  let rest = chunk;
  while (rest.length > 0) rest = rest.subarray((file as Deno.FsFile).writeSync(rest));
  bytes += chunk.length;
}

async function open(command: Extract<SinkCommand, { op: "open" }>): Promise<void> {
  path = command.path;
  hash = createHash("sha256");
  bytes = 0;
  plain = undefined;
  encrypted = Promise.resolve();
  file = Deno.openSync(path, { write: true, createNew: true, mode: command.mode });
  if (command.recipients.length === 0) return;
  const feed = new TransformStream<Uint8Array, Uint8Array>();
  plain = feed.writable.getWriter();
  const output = await encryptStream(feed.readable, command.recipients);
  encrypted = (async () => {
    for await (const chunk of output) store(chunk);
  })();
  // A failed write stops the encryption's input too, so the next write fails at once.
  encrypted.catch((err) => plain?.abort(err).catch(() => undefined));
}

async function handle(command: SinkCommand): Promise<SinkAnswer | undefined> {
  switch (command.op) {
    case "open":
      await open(command);
      return undefined;
    case "write": {
      const unit = new Uint8Array(command.buffer, command.offset, command.length);
      // age keeps what it is given for a while: it gets a copy, the buffer goes back now.
      if (plain) await plain.write(unit.slice());
      else store(unit);
      return { sink: true, op: "written", buffer: command.buffer };
    }
    case "end": {
      if (plain) {
        await plain.close();
        await encrypted;
      }
      (file as Deno.FsFile).syncSync();
      file?.close();
      file = undefined;
      return { sink: true, op: "ended", bytes, sha256: hash.digest("hex") };
    }
    case "abort":
      throw new Error("aborted");
  }
}

function removePartial(): void {
  try {
    file?.close();
  } catch {
    // Already closed.
  }
  file = undefined;
  try {
    if (path) Deno.removeSync(path);
  } catch {
    // Never created, or already gone.
  }
}

let queue: Promise<void> = Promise.resolve();

/**
 * Runs one command after those before it, in the order they came; answers through `post`.
 *
 * @example
 * ```ts ignore
 * sinkCommand(event.data, (answer, transfer) => self.postMessage(answer, transfer));
 * ```
 */
export function sinkCommand(
  command: SinkCommand,
  post: (answer: SinkAnswer, transfer: ArrayBuffer[]) => void,
): void {
  queue = queue.then(async () => {
    // After a failure only a new file is taken up.
    if (command.op === "open") failed = false;
    else if (failed) return;
    try {
      const answer = await handle(command);
      if (answer?.op === "written") post(answer, [answer.buffer]);
      else if (answer) post(answer, []);
    } catch (err) {
      failed = true;
      removePartial();
      const code = (err as { code?: unknown })?.code;
      post({
        sink: true,
        op: "failed",
        message: command.op === "abort"
          ? "aborted"
          : err instanceof Error
          ? err.message
          : String(err),
        ...(typeof code === "string" ? { code } : {}),
      }, []);
    }
  });
}
