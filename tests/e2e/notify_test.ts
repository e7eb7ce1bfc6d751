// Notifications against real receivers started here: an HTTP server taking the JSON POST,
// the Slack-compatible webhook and the ntfy topic, and Debian's aiosmtpd taking the e-mail.

import { deepStrictEqual, match, strictEqual } from "node:assert/strict";
import { backupNow, freePort, tempDir, waitFor } from "../helpers.ts";

interface Received {
  path: string;
  headers: Headers;
  body: string;
}

/** An HTTP server on 127.0.0.1 recording every request; `using` stops it. */
function receiver(): { port: number; got: Received[] } & AsyncDisposable {
  const got: Received[] = [];
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
    got.push({ path: new URL(req.url).pathname, headers: req.headers, body: await req.text() });
    return new Response("ok");
  });
  return { port, got, [Symbol.asyncDispose]: () => server.shutdown() };
}

Deno.test("a failed run is sent as a JSON POST, to a Slack-compatible webhook and to ntfy; the exit code stays the run's", async () => {
  await using dir = await tempDir();
  await using http = receiver();
  const base = `127.0.0.1:${http.port}`;
  const result = await backupNow(`${dir.path}/missing`, `${dir.path}/backup`, [
    "--notify",
    `http://${base}/hook`,
    "--notify",
    `slack+http://${base}/slack`,
    "--notify",
    `ntfy+http://${base}/backups`,
  ]);
  strictEqual(result.code, 2, result.stderr);
  strictEqual(http.got.length, 3, result.stderr);
  const by = (path: string) => http.got.find((r) => r.path === path) as Received;

  const json = JSON.parse(by("/hook").body);
  strictEqual(by("/hook").headers.get("content-type"), "application/json");
  strictEqual(json.result, "failed");
  match(json.error, /Cannot use --source "[^"]+\/missing": no such file or folder/);
  strictEqual(json.source, `${dir.path}/missing`);
  strictEqual(json.host, Deno.hostname());
  strictEqual(typeof json.seconds, "number");

  const slack = JSON.parse(by("/slack").body);
  deepStrictEqual(Object.keys(slack), ["text"]);
  match(slack.text, /^\*backupd on \S+: backup FAILED\*\nresult: failed\n/);

  const ntfy = by("/backups");
  match(ntfy.headers.get("title") ?? "", /^backupd on \S+: backup FAILED$/);
  strictEqual(ntfy.headers.get("priority"), "high");
  match(ntfy.body, /^result: failed\nduration: [\d.]+ s\nerror: Cannot use --source /);
  match(result.stderr, /INFO notification sent to=ntfy\+http:/);
});

Deno.test("--notify-on always sends a success with archive, size and duration; a target that cannot be reached is a warning, not a failure", async () => {
  await using dir = await tempDir();
  await using http = receiver();
  await Deno.mkdir(`${dir.path}/data`);
  await Deno.writeTextFile(`${dir.path}/data/f`, "x".repeat(5000));
  const dead = freePort();
  const result = await backupNow(`${dir.path}/data`, `${dir.path}/backup`, [
    "--notify-on",
    "always",
  ], {
    BACKUP_NOTIFY_URLS: `http://127.0.0.1:${http.port}/hook,http://127.0.0.1:${dead}/gone`,
  });
  strictEqual(result.code, 0, result.stderr);
  strictEqual(http.got.length, 1);
  const json = JSON.parse(http.got[0]?.body ?? "");
  strictEqual(json.result, "ok");
  match(json.archive, /^\d{4}-\d\d-\d\d\/\d\d-\d\d-\d\d\.tar\.gz$/);
  strictEqual(typeof json.bytes, "number");
  match(json.size, /^[\d.]+ (B|KiB)$/);
  strictEqual(json.error, undefined);
  match(
    result.stderr,
    new RegExp(`WARN notification failed to=http://127\\.0\\.0\\.1:${dead}/gone`),
  );

  // The default is failure only: a good run sends nothing.
  const quiet = await backupNow(`${dir.path}/data`, `${dir.path}/backup`, [
    "--notify",
    `http://127.0.0.1:${http.port}/hook`,
  ]);
  strictEqual(quiet.code, 0, quiet.stderr);
  strictEqual(http.got.length, 1);
});

Deno.test("a failed run is e-mailed through SMTP (Debian's aiosmtpd)", async () => {
  await using dir = await tempDir();
  const port = freePort();
  const maildir = `${dir.path}/mail`;
  const server = new Deno.Command("/usr/bin/python3", {
    args: [
      "-m",
      "aiosmtpd",
      "-n",
      "-l",
      `127.0.0.1:${port}`,
      "-c",
      "aiosmtpd.handlers.Mailbox",
      maildir,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor("aiosmtpd listening", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return undefined;
      }
    }, 30);
    const result = await backupNow(`${dir.path}/missing`, `${dir.path}/backup`, [
      "--notify",
      `smtp://127.0.0.1:${port}/?to=ops@example.org,dba@example.org&from=backupd@example.org`,
    ]);
    strictEqual(result.code, 2, result.stderr);
    match(result.stderr, /INFO notification sent to="smtp:\/\/127\.0\.0\.1:/);
    const files = await waitFor("a delivered message", async () => {
      const found: string[] = [];
      try {
        for await (const f of Deno.readDir(`${maildir}/new`)) found.push(f.name);
      } catch {
        return undefined;
      }
      return found.length > 0 ? found : undefined;
    }, 30);
    strictEqual(files.length, 1);
    // The body is quoted-printable: its soft line breaks ("=" at a line's end) undone.
    const message = (await Deno.readTextFile(`${maildir}/new/${files[0]}`)).replaceAll("=\n", "");
    match(message, /^From: backupd@example\.org$/m);
    match(message, /^To: ops@example\.org, dba@example\.org$/m);
    match(message, /^Subject: backupd on \S+: backup FAILED$/m);
    match(message, /^result: failed$/m);
    match(message, /^error: Cannot use --source "[^"]+\/missing": no such file or folder$/m);
  } finally {
    server.kill("SIGTERM");
    await server.status;
  }
});

Deno.test("a notification address that is none exits 2 with one line naming it, password masked", async () => {
  await using dir = await tempDir();
  const result = await backupNow(`${dir.path}/x`, `${dir.path}/backup`, [
    "--notify",
    "smtp://user:hunter2@mail.example.org:587/",
  ]);
  strictEqual(result.code, 2);
  strictEqual(
    result.stderr,
    'backupd: Cannot use --notify "smtp://user:***@mail.example.org:587/": an smtp:// address needs ?to=ADDRESS (comma-separated for more)\n',
  );
});
