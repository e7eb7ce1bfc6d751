# Test stand-in for Dockerfile.backup (whose Deno base image and `deno compile` download
# cannot be had here): main.ts run by Deno with the production permission set, from a
# cache filled on the host. Entrypoint, command and health check as in Dockerfile.backup.
FROM backupd-e2e/base:bookworm
COPY deno /usr/local/bin/deno
COPY deno-dir/ /opt/deno-dir/
COPY app/ /app/
COPY backupd.sh /usr/local/bin/backupd
ENV DENO_DIR=/opt/deno-dir DENO_NO_UPDATE_CHECK=1
ENTRYPOINT ["/usr/local/bin/backupd"]
CMD ["run"]
HEALTHCHECK --interval=1m --timeout=30s --start-period=30s --retries=1 \
  CMD ["/usr/local/bin/backupd", "health"]
