// A steady write load for the restore drills: one psql session inserting numbered rows in
// transactions of 500, recording when each transaction was acknowledged as committed.

/** Rows per transaction. */
export const BATCH = 500;

/** A running load. */
export interface Load {
  /** When each acknowledged transaction k (rows k*500+1 .. (k+1)*500) was acknowledged. */
  acks: number[];
  /** Stops sending and waits for the session to end. */
  stop(): Promise<void>;
}

/**
 * Starts a load through `psql` (the command and arguments that open the session), on a
 * table `drill (id int primary key)` that it creates.
 */
export async function startLoad(psql: string[]): Promise<Load> {
  const [cmd, ...args] = psql;
  const child = new Deno.Command(cmd as string, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const acks: number[] = [];
  let stopping = false;
  let acked: (() => void) | undefined;
  const reading = (async () => {
    let rest = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += text;
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        if (/^ack \d+$/.test(line)) {
          acks.push(Date.now());
          acked?.();
        }
      }
    }
    acked?.();
  })();
  await writer.write(encoder.encode("CREATE TABLE drill (id int PRIMARY KEY);\n\\echo ready\n"));
  const sending = (async () => {
    for (let k = 0; !stopping; k++) {
      const done = new Promise<void>((resolve) => acked = resolve);
      const sql =
        `BEGIN;\nINSERT INTO drill SELECT g FROM generate_series(${k * BATCH + 1}, ${
          (k + 1) * BATCH
        }) g;\n` +
        `COMMIT;\n\\echo ack ${k}\n`;
      try {
        await writer.write(encoder.encode(sql));
      } catch {
        // The session ended (the server was stopped): the load is over.
        return;
      }
      await done;
      if (acks.length <= k) return;
    }
  })();
  return {
    acks,
    async stop() {
      stopping = true;
      await sending;
      // The session may be gone already (a stopped server): nothing left to close then.
      await writer.close().catch(() => undefined);
      await reading;
      await child.stderr.cancel();
      await child.status;
    },
  };
}
