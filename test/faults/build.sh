#!/usr/bin/env bash
# test/faults/build.sh: build the fault proxy into build/faults/ (no CMake needed:
# one file, libc and libstdc++ only).  Rebuilds only when the source is newer.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
out=$REPO/build/faults
src=$REPO/test/faults/proxy/faultproxy.cpp
mkdir -p "$out"
if [ ! -x "$out/faultproxy" ] || [ "$src" -nt "$out/faultproxy" ]; then
	${CXX:-g++} -std=c++20 -O2 -g -Wall -Wextra -Werror -o "$out/faultproxy.tmp" "$src"
	mv "$out/faultproxy.tmp" "$out/faultproxy"
fi
echo "$out/faultproxy"
