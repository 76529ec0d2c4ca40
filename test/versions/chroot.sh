#!/usr/bin/env bash
# test/versions/chroot.sh RELEASE [PACKAGE...] -- CMD...: run CMD as root inside
# a minimal Debian RELEASE root that has PACKAGEs installed.
#
# The root is made once (debootstrap --variant=minbase) and kept in
# $CHROOT_CACHE/RELEASE (default /var/cache/cron_lock/roots); missing packages
# are installed on demand ("postgresql-19/experimental" picks a suite).  Its
# apt sources name the mirror this machine's own apt sources use, read at run
# time.  RELEASE's suite, plus:
#   sid     experimental (pinned at 1 by Debian: used only when asked for)
#   trixie  bookworm, pinned at 100, so bookworm's postgresql-15 can sit beside
#           trixie's 17 (pg_upgrade needs both majors in one root)
#
# CMD runs with a clean environment in the caller's directory if the root has
# it (the repository and $CHROOT_SHARE do), else in /, in a private mount
# namespace: /proc, /dev (with /dev/shm), a fresh tmpfs /tmp and, read-only at
# the same path, the repository; $CHROOT_SHARE (if set, a directory)
# read-write at the same path.  The mounts vanish with the namespace, so
# nothing is left mounted however CMD ends.  One lock per
# root, held while it is made or packages are added: concurrent callers of
# the same RELEASE wait for each other there, then run side by side.
set -euo pipefail

release=$1
shift
packages=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	packages+=("$1")
	shift
done
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || {
	echo "usage: $0 RELEASE [PACKAGE...] -- CMD..." >&2
	exit 64
}

repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${CHROOT_CACHE:-/var/cache/cron_lock/roots}
root=$cache/$release
mkdir -p "$cache"
exec 9>"$cache/$release.lock"
flock 9

log() { echo "chroot $release: $*" >&2; }

# The first Debian mirror the machine's apt sources name (deb822 or one-line).
host_mirror() {
	local m
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n' | grep -v -- -security | head -n 1)
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' |
		grep -v -- -security | head -n 1)
	[ -n "$m" ] || {
		echo "chroot.sh: no Debian mirror in /etc/apt/sources*" >&2
		return 1
	}
	echo "$m"
}

# enter CMD...: CMD in the root, in a mount namespace of its own (see above).
enter() {
	unshare --mount --propagation private /bin/bash -euc '
	root=$1 repo=$2 share=$3 dir=$4
	shift 4
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
	mkdir -p "$root$repo" ${share:+"$root$share"}
	mount --bind "$repo" "$root$repo"
	mount -o remount,bind,ro "$root$repo"
	[ -n "$share" ] && mount --bind "$share" "$root$share"
	exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LC_ALL=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
		/bin/sh -c "cd \"\$0\" 2>/dev/null || cd /; exec \"\$@\"" "$dir" "$@"
	' enter "$root" "$repo" "${CHROOT_SHARE:-}" "$PWD" "$@"
}

create_root() {
	local mirror try start=$SECONDS
	mirror=$(host_mirror)
	# A finished debootstrap left in $root.new (no debootstrap/ folder) is kept.
	if [ ! -x "$root.new/usr/bin/apt-get" ] || [ -d "$root.new/debootstrap" ]; then
		log "debootstrap --variant=minbase from $mirror (once; cached in $root)"
		# Twice: a mirror being updated can serve a Release file and a
		# signature that do not match for a moment.
		for try in 1 2; do
			rm -rf "$root.new"
			debootstrap --variant=minbase "$release" "$root.new" "$mirror" \
				>"$cache/$release.debootstrap.log" 2>&1 && break
			tail -n 5 "$cache/$release.debootstrap.log" >&2
			[ $try = 2 ] && return 1
		done
	fi
	echo "deb $mirror $release main" >"$root.new/etc/apt/sources.list"
	case $release in
	sid) echo "deb $mirror experimental main" >>"$root.new/etc/apt/sources.list" ;;
	trixie)
		echo "deb $mirror bookworm main" >>"$root.new/etc/apt/sources.list"
		printf 'Package: *\nPin: release n=bookworm\nPin-Priority: 100\n' \
			>"$root.new/etc/apt/preferences.d/bookworm"
		;;
	esac
	# A mirror the machine reads as a snapshot has expired Release files: take
	# the machine's own apt setting for that.
	apt-config dump Acquire::Check-Valid-Until | grep '^Acquire::Check-Valid-Until ' \
		>"$root.new/etc/apt/apt.conf.d/99valid-until" || true
	# Packages never start services here, and postgresql-common makes no
	# cluster of its own: tests make throwaway ones.
	printf '#!/bin/sh\nexit 101\n' >"$root.new/usr/sbin/policy-rc.d"
	chmod 755 "$root.new/usr/sbin/policy-rc.d"
	# A throwaway root: dpkg need not fsync every file it unpacks.
	echo force-unsafe-io >"$root.new/etc/dpkg/dpkg.cfg.d/unsafe-io"
	mkdir -p "$root.new/etc/postgresql-common/createcluster.d"
	echo 'create_main_cluster = false' >"$root.new/etc/postgresql-common/createcluster.d/cron_lock.conf"
	mv "$root.new" "$root"
	log "created in $((SECONDS - start))s"
}

# Installs what is missing; the base set is what every test needs.
install_missing() {
	local want=(build-essential python3-minimal procps "$@") missing=() p have start=$SECONDS
	have=$(enter dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null | sed -n 's/ install ok installed$//p')
	for p in "${want[@]}"; do
		grep -qxF "${p%/*}" <<<"$have" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	cp /etc/resolv.conf "$root/etc/resolv.conf"
	enter dpkg --configure -a >/dev/null 2>&1 # finishes an interrupted install
	enter apt-get update -qq >/dev/null &&
		enter apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$cache/$release.apt.log" 2>&1 || {
		tail -n 30 "$cache/$release.apt.log" >&2
		return 69
	}
	enter apt-get clean
	log "installed in $((SECONDS - start))s"
}

[ -d "$root" ] || create_root
install_missing "${packages[@]}" || exit # 69 (EX_UNAVAILABLE): a package could not be installed

exec 9>&-
enter "$@"
