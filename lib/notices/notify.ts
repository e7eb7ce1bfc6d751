// A run's result sent where `--notify` says: an e-mail (nodemailer, loaded only then), a JSON
// POST, a Slack-compatible webhook or an ntfy topic. One that cannot be sent is a warning,
// never a failed backup (README: Notifications).

import { describeError } from "../base/errors.ts";
import { formatBytes } from "../base/bytes.ts";
import type { Settings } from "../settings/settings.ts";
import type { NotifyTarget } from "../settings/notify_target.ts";
import { postWithTimeout } from "./http_post.ts";
import { type NoticeDeps, noticeTimeoutMs, type RunReport } from "./run_report.ts";

/** What a notice is about. */
export type NoticeKind = "backup" | "restore drill";

/** What a notification says about a run. */
export interface RunNotice {
  /** What ran: a backup, or a restore drill (README: Restore drills). */
  what: NoticeKind;
  /** ok, warning or failed. */
  result: RunReport["result"];
  /** The host name. */
  host: string;
  /** SOURCE. */
  source: string;
  /** DEST. */
  dest: string;
  /** The archive made, relative to DEST. */
  archive?: string;
  /** Its size in bytes. */
  bytes?: number;
  /** Its size in binary units. */
  size?: string;
  /** How long the run took. */
  seconds: number;
  /** Why the run failed. */
  error?: string;
  /** When the notice was made, ISO 8601. */
  time: string;
}

/**
 * The notice of a finished run.
 *
 * @example
 * ```ts ignore
 * const notice = runNotice(settings, report, 4.2, new Date());
 * ```
 */
export function runNotice(
  settings: Settings,
  report: RunReport,
  seconds: number,
  now: Date,
  about: { what: NoticeKind; archive?: string } = { what: "backup" },
): RunNotice {
  const outcome = report.outcome;
  return {
    what: about.what,
    result: report.result,
    host: Deno.hostname(),
    source: settings.source,
    dest: settings.dest,
    ...(outcome ? { archive: outcome.archive, bytes: outcome.bytesOut } : {}),
    ...(about.archive ? { archive: about.archive } : {}),
    ...(outcome ? { size: formatBytes(outcome.bytesOut) } : {}),
    seconds: Number(seconds.toFixed(3)),
    ...(report.error !== undefined ? { error: describeError(report.error) } : {}),
    time: now.toISOString(),
  };
}

/** The notice as a subject and lines of text. */
export function noticeText(notice: RunNotice): { subject: string; body: string } {
  const verdict = notice.result === "failed"
    ? "FAILED"
    : notice.result === "warning"
    ? "done with warnings"
    : "done";
  const lines = [
    `result: ${notice.result}`,
    ...(notice.archive ? [`archive: ${notice.archive}`] : []),
    ...(notice.size ? [`size: ${notice.size}`] : []),
    `duration: ${notice.seconds.toFixed(1)} s`,
    ...(notice.error ? [`error: ${notice.error}`] : []),
    `source: ${notice.source}`,
    `dest: ${notice.dest}`,
    `host: ${notice.host}`,
    `time: ${notice.time}`,
  ];
  return {
    subject: `backupd on ${notice.host}: ${notice.what} ${verdict}`,
    body: `${lines.join("\n")}\n`,
  };
}

/** Sends one notice to one target within `timeoutMs`; throws when it cannot. */
export async function sendNotice(
  target: NotifyTarget,
  notice: RunNotice,
  doFetch: typeof fetch = fetch,
  timeoutMs = 10_000,
): Promise<void> {
  const { subject, body } = noticeText(notice);
  const post = (url: string, text: string, headers: Record<string, string>) =>
    postWithTimeout(url, text, { headers, timeoutMs, fetch: doFetch });
  switch (target.kind) {
    case "http":
      return await post(target.url, JSON.stringify(notice), {
        "content-type": "application/json",
      });
    case "slack":
      return await post(target.url, JSON.stringify({ text: `*${subject}*\n${body}` }), {
        "content-type": "application/json",
      });
    case "ntfy":
      return await post(target.url, body, {
        "content-type": "text/plain; charset=utf-8",
        title: subject,
        priority: notice.result === "failed" ? "high" : "default",
        tags: notice.result === "failed" ? "rotating_light" : "floppy_disk",
      });
    case "smtp": {
      const { default: nodemailer } = await import("nodemailer");
      const transport = nodemailer.createTransport({
        host: target.host,
        port: target.port,
        secure: target.secure,
        ...(target.user ? { auth: { user: target.user, pass: target.password ?? "" } } : {}),
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs,
      });
      try {
        await transport.sendMail({ from: target.from, to: target.to, subject, text: body });
      } finally {
        transport.close();
      }
    }
  }
}

/**
 * Sends the run's notice to every target, when `--notify-on` asks for this result; a
 * target that fails is logged as a warning.
 *
 * @example
 * ```ts ignore
 * await notifyRun(settings, deps, report, started);
 * ```
 */
export async function notifyRun(
  settings: Settings,
  deps: NoticeDeps,
  report: RunReport,
  startedMs: number,
  about: { what: NoticeKind; archive?: string } = { what: "backup" },
): Promise<void> {
  if (settings.notify.length === 0) return;
  if (settings.notifyOn === "failure" && report.result !== "failed") return;
  const timeoutMs = noticeTimeoutMs(deps);
  const notice = runNotice(
    settings,
    report,
    (deps.now() - startedMs) / 1000,
    new Date(deps.now()),
    about,
  );
  await Promise.all(settings.notify.map(async (target) => {
    try {
      await sendNotice(target, notice, deps.fetch ?? fetch, timeoutMs);
      deps.log.info("notification sent", { to: target.shown });
    } catch (err) {
      deps.log.warn("notification failed", { to: target.shown, error: describeError(err) });
    }
  }));
}
