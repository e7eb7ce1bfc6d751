#!/bin/sh
# What the compiled binary is: main.ts with exactly the `backupd` permission set.
exec /usr/local/bin/deno run -q --v8-flags=--max-semi-space-size=1 -P=backupd --cached-only --config /app/deno.json /app/main.ts "$@"
