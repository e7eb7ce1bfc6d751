// `backupd wal drop-slot`: removes the replication slot that holds WAL for backupd on the
// server, when uninstalling or after turning WAL archiving off (README: Point-in-time
// recovery). Stop the daemon first: a running one makes it again.

import { EXIT, UsageError } from "../base/errors.ts";
import { openQuerySession } from "../postgres/backup_session.ts";
import { dropSlot } from "../postgres/wal_slot.ts";
import type { Command } from "./command.ts";

/** The actions of `backupd wal`. */
const ACTIONS = ["drop-slot"];

/** `backupd wal drop-slot`: one line saying whether the slot was there. */
export const walCommand: Command = {
  name: "wal",
  description: "drop-slot: remove the replication slot that holds WAL for backupd on the server",
  settings: ["postgres", "walSlot", "logFormat"],
  operands: { spec: "<action>", help: "drop-slot" },
  async run(ctx) {
    const action = ctx.operands[0] ?? "";
    if (!ACTIONS.includes(action)) {
      throw new UsageError(`Cannot run "wal ${action}": expected wal drop-slot`);
    }
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
