#!/usr/bin/env bash
# test/client/crontab_test.sh: every crontab example of the documentation installs with
# crontab(1) as written and finds cronlock under cron's PATH (/usr/bin:/bin).
#
# Examples: the ```cron blocks of README.md and docs/*.md, and the .nf/.fi blocks of
# client/cronlock.1 that hold a crontab entry (roff escapes decoded). Each is installed
# with `crontab -u USER FILE` for a throwaway system user, read back with `crontab -l`,
# and removed. Checked per entry: `cronlock` named by its full path or a PATH= line
# that has /usr/local/bin; no line continued with a backslash (crontab has no
# continuation lines); no unescaped % in a command (cron turns it into a newline).
# A crontab-like entry outside a ```cron block is reported too (an untested example).
# Needs root (crontab -u) and Debian's cron package. Ends with "N passed, N failed".
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
start=$SECONDS
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     /' <<<"$2"; }

if [ "$(id -u)" != 0 ] || ! command -v crontab >/dev/null; then
	echo "needs root and crontab(1) (apt-get install cron): not run"
	echo "0 passed, 1 failed"
	exit 1
fi

tmp=$(mktemp -d)
user=cronlock-doc-test
created=
cleanup() {
	crontab -u "$user" -r >/dev/null 2>&1
	[ -n "$created" ] && userdel "$user" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
if ! id "$user" >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin "$user" || { echo "useradd failed"; echo "0 passed, 1 failed"; exit 1; }
	created=1
fi

# A crontab entry: five time fields (or an @keyword) and a command.
entry_re='^[[:space:]]*(@(reboot|yearly|annually|monthly|weekly|daily|midnight|hourly)|[-0-9*/,]+[[:space:]]+[-0-9*/,]+[[:space:]]+[-0-9*/,]+[[:space:]]+[-0-9*/,a-zA-Z]+[[:space:]]+[-0-9*/,a-zA-Z]+)[[:space:]]+[^[:space:]]'

# Extract the examples into $tmp/ex.N, with $tmp/ex.N.where naming the source.
n=0
python3 - "$repo" "$tmp" "$entry_re" <<'EOF' || { echo "extraction failed"; echo "0 passed, 1 failed"; exit 1; }
import glob, os, re, sys
repo, tmp = sys.argv[1], sys.argv[2]
entry_re = re.compile(sys.argv[3].replace("[[:space:]]", r"\s").replace("[^\\s]", r"\S").replace("[:space:]", r"\s"))
n = 0
def emit(text, where):
    global n
    n += 1
    open(f"{tmp}/ex.{n}", "w").write(text)
    open(f"{tmp}/ex.{n}.where", "w").write(where)
stray = []
for md in [f"{repo}/README.md"] + sorted(glob.glob(f"{repo}/docs/**/*.md", recursive=True)):
    rel = os.path.relpath(md, repo)
    lines = open(md, encoding="utf-8").read().split("\n")
    fence, start, body = None, 0, []
    for i, line in enumerate(lines, 1):
        m = re.match(r"^\s*(```+|~~~+)\s*(\S*)", line)
        if fence is None and m:
            fence, lang, start, body = m.group(1), m.group(2), i, []
        elif fence is not None and line.strip().startswith(fence):
            if lang == "cron":
                emit("\n".join(body) + "\n", f"{rel}:{start}")
            else:
                for k, b in enumerate(body):
                    if entry_re.match(b):
                        stray.append(f"{rel}:{start + 1 + k}: {b.strip()[:70]}")
            fence = None
        elif fence is not None:
            body.append(line)
man = f"{repo}/client/cronlock.1"
rel = os.path.relpath(man, repo)
block, start = None, 0
for i, line in enumerate(open(man, encoding="utf-8").read().split("\n"), 1):
    if line.startswith(".nf"):
        block, start = [], i
    elif line.startswith(".fi") and block is not None:
        text = []
        for b in block:
            if b.startswith("."):
                continue  # a request inside the block (.ft, .B ...): not crontab text
            b = b.replace("\\-", "-").replace("\\(aq", "'").replace("\\(dq", '"')
            b = b.replace("\\&", "").replace("\\e", "\\")
            text.append(b)
        if any(entry_re.match(t) for t in text):
            emit("\n".join(text) + "\n", f"{rel}:{start}")
        block = None
    elif block is not None:
        block.append(line)
open(f"{tmp}/stray", "w").write("\n".join(stray))
open(f"{tmp}/count", "w").write(str(n))
EOF
n=$(cat "$tmp/count")
[ "$n" -ge 3 ] && ok "found $n crontab examples (README, docs, man page)" ||
	bad "found only $n crontab examples"
if [ -s "$tmp/stray" ]; then
	bad "crontab entries outside a \`\`\`cron block (not tested as crontabs)" "$(cat "$tmp/stray")"
else
	ok "every crontab entry of the markdown is in a \`\`\`cron block"
fi

for i in $(seq 1 "$n"); do
	f=$tmp/ex.$i where=$(cat "$tmp/ex.$i.where")
	if out=$(crontab -u "$user" "$f" 2>&1); then
		listed=$(crontab -u "$user" -l 2>&1)
		missing=$(grep -v '^[[:space:]]*\(#\|$\)' "$f" | while IFS= read -r l; do
			grep -qxF -- "$l" <<<"$listed" || echo "$l"
		done)
		[ -z "$missing" ] && ok "$where: installs with crontab, crontab -l lists it" ||
			bad "$where: crontab -l lacks lines" "$missing"
	else
		bad "$where: crontab refuses it" "$out"
	fi
	crontab -u "$user" -r >/dev/null 2>&1

	entries=$(grep -E "$entry_re" "$f")
	if grep -q '\\$' "$f"; then
		bad "$where: a line ends in a backslash (crontab has no continuation lines)" "$(grep '\\$' "$f")"
	fi
	pct=$(sed -E 's/\\%//g' <<<"$entries" | grep '%')
	[ -z "$pct" ] || bad "$where: unescaped % in a command (cron makes it a newline; write \\%)" "$pct"
	# cronlock as a bare command word needs a PATH line with /usr/local/bin.
	bare=$(grep -E '(^|[[:space:];|&(])cronlock[[:space:]]' <<<"$entries")
	if [ -n "$bare" ] && ! grep -Eq '^[[:space:]]*PATH[[:space:]]*=[[:space:]]*(.*:)?/usr/local/bin/?(:|$)' "$f"; then
		bad "$where: cronlock without its full path and no PATH=...:/usr/local/bin line" "$bare"
	elif grep -qE 'cronlock[[:space:]]' <<<"$entries"; then
		ok "$where: finds cronlock (full path or PATH)"
	fi
done

echo "crontab examples: $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
