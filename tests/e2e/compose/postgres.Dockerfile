# Test stand-in for the official postgres:15 image (which cannot be pulled here): Debian's
# PostgreSQL 15 with the same data folder and uid/gid 999, and the same POSTGRES_* settings.
FROM backupd-e2e/base:bookworm
RUN old_uid=$(id -u postgres) && old_gid=$(id -g postgres) \
 && groupmod -g 999 postgres && usermod -u 999 -g 999 postgres \
 && find / -xdev \( -uid "$old_uid" -o -gid "$old_gid" \) -exec chown -h postgres:postgres {} + \
 && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
 && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
