#!/usr/bin/env bash
# golangci-lint with .golangci.yml (at the version of tools/golangci/go.mod),
# then the extension registry's checks: `xk6 lint` (with gosec and govulncheck
# on PATH, all three at the versions of tools/go.mod), printed in full, then
# judged. Any golangci-lint finding fails it.
#
#   tools/lint.sh K6 TOOLS_DIR VULNDB_DIR
#
# xk6 v0.x builds only k6 v1 (module go.k6.io/k6), which never reads this
# extension's k6 v2 registry: its `build` passes while its k6 lacks the
# extension, so its `smoke`, `examples` and `types` pass as "skipped due to
# output extension", and its smoke command uses `--no-summary`, which k6 v2
# removed. Those four are run again here against K6, this repository's k6 v2,
# as lint runs them. Fails when any check that can pass here does not;
# `versions` (release tags) and `vulnerability` (see README, "Lint") are
# printed but do not fail it.
set -euo pipefail
cd "$(dirname "$0")/.."
k6=$(realpath "$1") tools=$(realpath "$2") vulndb=$(realpath "$3")
module=$(go list -m)
out=results/lint
mkdir -p "$out"

# golangci-lint first; its verdict is taken with the others, at the end.
golangci=passed
"$tools/golangci-lint" run ./... 2>&1 | tee "$out/golangci-lint.txt" || golangci=failed
echo "golangci-lint: $golangci"

# lint runs `govulncheck` from PATH with the public database; tools/vulncheck
# gives it the local copy and keeps its report.
export PATH="$PWD/tools/vulncheck:$tools:$PATH" LINT_GOVULNCHECK="$tools/govulncheck" \
	LINT_VULNDB="file://$vulndb" LINT_VULNCHECK_OUT="$PWD/$out/govulncheck.txt"
# --passing Z: the verdict is taken below, check by check; lint's own grade
# is Z whenever govulncheck finds anything. TMPDIR: lint leaves the k6 it
# built there (some 70 MB a run).
rm -rf "$out/tmp" && mkdir "$out/tmp"
TMPDIR="$PWD/$out/tmp" XK6_EARLY_ACCESS=true xk6 lint --passing Z . | tee "$out/xk6-lint.txt"
rm -rf "$out/tmp"

failed=$(sed -n 's/^✗ \([a-z]*\).*/\1/p' "$out/xk6-lint.txt")
ran=$(sed -n 's/^[✔✗] \([a-z]*\).*/\1/p' "$out/xk6-lint.txt" | wc -l)
[ "$ran" -ge 12 ] || { echo "lint: expected 12 checks from xk6 lint, read $ran"; exit 1; }

echo "Again with k6 v2 ($k6):"
v2=()
if "$k6" version | grep -qE "^  $module[^,]+, [^ ]+ \[js\]"; then v2+=("✔ build"); else v2+=("✗ build"); fi
smoke=$(find test -maxdepth 1 -regextype posix-extended -iregex 'test/smoke(\.test)?\.(js|ts)' | head -1)
if [ -n "$smoke" ] && "$k6" run --no-usage-report --summary-mode=disabled --quiet "$smoke" >"$out/smoke.txt" 2>&1; then
	v2+=("✔ smoke")
else
	v2+=("✗ smoke")
	cat "$out/smoke.txt"
fi
if [ -n "$(find examples -type f | head -1)" ]; then v2+=("✔ examples"); else v2+=("✗ examples"); fi
if [ -f index.d.ts ]; then v2+=("✔ types"); else v2+=("✗ types"); fi
printf '%s\n' "${v2[@]}"
# lint's verdicts, with k6 v2's for the four checks run again.
lint_failed=$(printf '%s\n' $failed | grep -vxE 'build|smoke|examples|types' || true)
v2_failed=$(printf '%s\n' "${v2[@]}" | sed -n 's/^✗ //p')
failed=$(echo $lint_failed $v2_failed)

if grep -q . "$out/govulncheck.txt" 2>/dev/null; then
	echo "govulncheck, with the Go vulnerability database of tools/go.mod's golang.org/x/vulndb:"
	grep -E '^Vulnerability #|^ +Found in:|^ +Fixed in:|^Your code|^No vulnerabilities' "$out/govulncheck.txt" || true
fi
if [[ " $failed " == *" security "* ]]; then
	gosec -quiet -color=false -exclude-generated ./... || true
fi

blocking=$(printf '%s\n' $failed | grep -vxE 'versions|vulnerability' || true)
[ "$golangci" = passed ] || blocking="golangci-lint $blocking"
if [ -n "$blocking" ]; then
	echo "lint: failed:" $blocking
	exit 1
fi
echo "lint: every check that can pass here passed; failed, not judged: $(echo $(printf '%s\n' $failed | grep -xE 'versions|vulnerability'))"
