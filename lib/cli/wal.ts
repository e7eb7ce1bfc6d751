// `backupd wal drop-slot`: removes the replication slot that holds WAL for backupd on the
// server, when uninstalling or after turning WAL archiving off (README: Point-in-time
// recovery). Stop the daemon first: a running one makes it again.

import { EXIT, UsageError } from "../base/errors.ts";
import { openQuerySession } from "../postgres/backup_session.ts";
import { dropSlot } from "../postgres/wal_slot.ts";
import type { Command } from "./command.ts";
import { walCommits } from "./wal_commits.ts";

/** The actions of `backupd wal`. */
const ACTIONS = ["drop-slot", "commits"];

/** `backupd wal drop-slot`: one line saying whether the slot was there. */
export const walCommand: Command = {
  name: "wal",
  description:
    "drop-slot: remove the replication slot that holds WAL for backupd on the server; commits: the transactions that ended between two times, from the archived WAL",
  settings: ["postgres", "walSlot", "logFormat", "dest", "tz", "ageIdentity"],
  operands: { spec: "<action>", help: "drop-slot or commits" },
  options: {
    from: { flag: "--from <time>", help: "commits: from this time (as --to-time takes it)" },
    to: { flag: "--to <time>", help: "commits: to this time" },
    table: { flag: "--table <[schema.]table>", help: "commits: only those that changed it" },
  },
  async run(ctx) {
    const action = ctx.operands[0] ?? "";
    if (!ACTIONS.includes(action)) {
      throw new UsageError(`Cannot run "wal ${action}": expected wal drop-slot or wal commits`);
    }
    if (action === "commits") return await walCommits(ctx);
    const target = ctx.settings.postgres;
    if (!target) {
      throw new UsageError(
        "Cannot drop the slot: give --postgres postgres://USER@HOST:PORT/DATABASE (or BACKUP_POSTGRES_URL)",
      );
    }
    const slot = ctx.settings.walSlot;
    const session = await openQuerySession(target, ctx.log, () => undefined, "backupd wal");
    try {
      const dropped = await dropSlot(session.query, slot);
      ctx.stdout(
        dropped
          ? `dropped the replication slot "${slot}" at ${session.server}: the server no longer holds WAL for backupd\n`
          : `no replication slot "${slot}" at ${session.server}: nothing to drop\n`,
      );
    } finally {
      await session.close();
    }
    return EXIT.ok;
  },
};
