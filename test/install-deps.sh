#!/usr/bin/env bash
# test/install-deps.sh [extra packages...]: install the Debian packages the build,
# tests and demo need, and only those that are missing. As root it runs apt-get
# directly; as anybody else it asks sudo. Safe to run again: a no-op when all is there.
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	postgresql-15 postgresql-client-15 postgresql-server-dev-15 libpq-dev
	postgresql-15-plpgsql-check
	openssl libgtest-dev pgbouncer python3 procps iproute2
	devscripts
	# the Debian packages (make deb, test/packages): build, lintian, autopkgtest,
	# hardening-check (devscripts); systemd-analyze for contrib/systemd's units
	# (the package only: --no-install-recommends leaves the init alone)
	debhelper dpkg-dev postgresql-server-dev-all lintian autopkgtest systemd
	# test/cron: a real cron daemon mailing to local mailboxes; crontab(1) for the
	# documentation's examples; promtool (metrics); headless Chromium (timeline)
	cron exim4-daemon-light prometheus chromium
	# the application recipes (docs/recipes/, test/recipes/run.sh)
	nodejs python3-psycopg libpostgresql-jdbc-java default-jdk-headless
	"$@"
)
# npm: Debian's package, unless a nodejs that carries its own npm is installed
# (NodeSource's conflicts with Debian's npm: installing it would replace node).
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || {
		echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
		exit 1
	}
	sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The tests need promtool only: a Prometheus server that the package started (on a
# machine that runs systemd) is stopped and disabled again.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
	"${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
	echo "install-deps: stopped and disabled the prometheus service (only promtool is needed)"
fi
