# Test stand-in for Dockerfile.backup's `drill` target (FROM postgres:15, which cannot be
# pulled here): the PostgreSQL stand-in with main.ts run by Deno with the production
# permission set, as in backup.Dockerfile. Entrypoint, command and health check as there.
FROM backupd-e2e/postgres:15 AS drill
COPY deno /usr/local/bin/deno
COPY deno-dir/ /opt/deno-dir/
COPY app/ /app/
COPY backupd.sh /usr/local/bin/backupd
ENV DENO_DIR=/opt/deno-dir DENO_NO_UPDATE_CHECK=1
ENTRYPOINT ["/usr/local/bin/backupd"]
CMD ["drill", "--scheduled"]
HEALTHCHECK --interval=10m --timeout=60s --start-period=1m --retries=1 \
  CMD ["/usr/local/bin/backupd", "health"]
