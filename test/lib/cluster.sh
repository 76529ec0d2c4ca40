# test/lib/cluster.sh: throwaway PostgreSQL clusters for tests, the demo and benchmarks.
#
# Source it, then:
#   cluster_create DIR [PORT]   initdb + config (superuser "postgres" or $CLUSTER_SUPERUSER, trust on
#                               loopback and the socket in DIR, except scram over
#                               TCP for role pw_user and members of role pw_users)
#   cluster_start DIR           start and wait until it accepts connections
#   cluster_stop DIR [MODE]     pg_ctl stop -m MODE (fast by default), ignore if down
#   cluster_standby DIR PRIMARY [VIA_PORT]
#                               a streaming standby of the cluster in PRIMARY
#                               (pg_basebackup -R over loopback), own port and
#                               socket, application_name = basename DIR; not
#                               started.  VIA_PORT streams WAL through that port.
#   cluster_env DIR             print export lines (PGHOST PGPORT PGUSER PGDATABASE)
#   pgbouncer_start DIR DB_ENTRY [POOL_MODE] [POOL_SIZE]
#                               a PgBouncer in DIR: trust auth, loopback TCP only, on
#                               a free port (in DIR/port); DB_ENTRY is its [databases]
#                               line ("name = host=... dbname=..."); transaction
#                               pooling and 4 server connections by default; returns
#                               once it answers (its log: DIR/pgbouncer.log);
#                               $PGBOUNCER_EXTRA: more [pgbouncer] lines (TLS...)
#   pgbouncer_stop DIR          stop it and wait (5 s at most) until it is gone
#   as_pg CMD...                run CMD as the cluster's owner (root cannot run postgres)
#
# initdb and postgres refuse to run as root: as root the cluster belongs to the
# "postgres" system user; as anybody else, to that user.

PG_BINDIR=${PG_BINDIR:-$(pg_config --bindir)}

as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A free loopback TCP port: bind port 0 and read what the kernel gave.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# cluster_dir DIR: a cluster's folder, the server user's alone.
cluster_dir() {
	mkdir -p "$1"
	[ "$(id -u)" = 0 ] && chown postgres: "$1"
	chmod 700 "$1"
}

# as_pg_logged LOG CMD...: CMD as the server user, its output in LOG, shown if it fails.
as_pg_logged() {
	local log=$1
	shift
	as_pg "$@" >"$log" 2>&1 || {
		cat "$log" >&2
		return 1
	}
}

cluster_create() {
	local dir=$1 port=${2:-$(free_port)}
	cluster_dir "$dir"
	as_pg_logged "$dir/initdb.log" "$PG_BINDIR/initdb" -D "$dir/data" -U "${CLUSTER_SUPERUSER:-postgres}" \
		--auth=trust --encoding=UTF8 --locale=C.UTF-8 || return 1
	as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 120
shared_buffers = 128MB
wal_level = replica
max_wal_senders = 4
hot_standby = on
log_min_messages = warning
log_line_prefix = '%m [%p] %q%a '
EOF
	as_pg tee "$dir/data/pg_hba.conf" >/dev/null <<EOF
local   all          all                      trust
host    all          pw_user         127.0.0.1/32  scram-sha-256
host    all          +pw_users       127.0.0.1/32  scram-sha-256
host    all          all             127.0.0.1/32  trust
host    replication  all             127.0.0.1/32  trust
local   replication  all                      trust
EOF
	echo "$port" >"$dir/port"
}

cluster_standby() {
	local dir=$1 primary=$2 via=${3:-} port name
	port=$(free_port)
	name=$(basename "$dir")
	cluster_dir "$dir"
	as_pg_logged "$dir/basebackup.log" "$PG_BINDIR/pg_basebackup" -D "$dir/data" -h 127.0.0.1 \
		-p "$(cat "$primary/port")" -U postgres -R -X stream -c fast || return 1
	as_pg tee -a "$dir/data/postgresql.auto.conf" >/dev/null <<EOF
port = $port
unix_socket_directories = '$dir'
cluster_name = '$name'
primary_conninfo = 'host=127.0.0.1 port=${via:-$(cat "$primary/port")} user=postgres application_name=$name'
EOF
	echo "$port" >"$dir/port"
}

cluster_start() {
	local dir=$1
	as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
		tail -n 30 "$dir/server.log" >&2
		return 1
	}
}

cluster_stop() {
	local dir=$1 mode=${2:-fast}
	[ -f "$dir/data/postmaster.pid" ] || return 0
	as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

cluster_env() {
	local dir=$1
	echo "export PGHOST='$dir' PGPORT='$(cat "$dir/port")' PGUSER=postgres PGDATABASE=postgres"
}

pgbouncer_start() {
	local dir=$1 entry=$2 mode=${3:-transaction} size=${4:-4} port i
	port=$(free_port)
	mkdir -p "$dir"
	echo "$port" >"$dir/port"
	cat >"$dir/pgbouncer.ini" <<EOF
[databases]
$entry

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = $mode
default_pool_size = $size
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
server_reset_query =
server_check_delay = 1
server_login_retry = 1
query_wait_timeout = 30
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
admin_users = postgres
ignore_startup_parameters = extra_float_digits,options
${PGBOUNCER_EXTRA:-}
EOF
	printf '"postgres" ""\n"jobs" ""\n' >"$dir/users.txt"
	[ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
	as_pg pgbouncer -d "$dir/pgbouncer.ini" >"$dir/start.log" 2>&1 || {
		cat "$dir/start.log" "$dir/pgbouncer.log" >&2 2>/dev/null
		return 1
	}
	for i in $(seq 100); do
		psql -X -A -t -q -d "host=127.0.0.1 port=$port user=postgres dbname=${entry%% *}" \
			-c "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

pgbouncer_stop() {
	local pid i
	pid=$(cat "$1/pgbouncer.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}
