#!/bin/sh
# What the compiled binary is: main.ts with exactly the `backupd` permission set.
exec /usr/local/bin/deno run -q -P=backupd --cached-only --config /app/deno.json /app/main.ts "$@"
