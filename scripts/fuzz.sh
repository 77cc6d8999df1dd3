#!/usr/bin/env bash
# Runs every fuzz target of the module, one after another, for a while each:
#
#   scripts/fuzz.sh [seconds]     # seconds per target, 10 by default
#
# Targets are found with `go test -list '^Fuzz' ./...`, so a new one is run
# without changing this script. Each runs as
#   go test -run '^$' -fuzz '^Name$' -fuzztime <seconds>s -fuzzminimizetime 5s ./pkg
# and the script stops at the first crash: Go writes the failing input to
# <pkg>/testdata/fuzz/<Name>/, where plain `go test` replays it from then on.
#
# Go 1.26's fuzzing coordinator can end a run that found nothing with a bare
# "context deadline exceeded" (go.dev/issue/75804, fixed in Go 1.27). Such a
# run wrote no failing input; the script replays the target's corpus to make
# sure and goes on, counting it as a flake.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-10}"
if ! [[ $secs =~ ^[1-9][0-9]*$ ]]; then
	echo "usage: $0 [seconds per target]" >&2
	exit 2
fi

list="$(go test -list '^Fuzz' ./...)"
targets=() # "package name"
pending=()
while IFS= read -r line; do
	if [[ $line =~ ^Fuzz[A-Za-z0-9_]*$ ]]; then
		pending+=("$line")
	elif [[ $line =~ ^ok[[:space:]]+([^[:space:]]+) ]]; then
		for name in ${pending[@]+"${pending[@]}"}; do
			targets+=("${BASH_REMATCH[1]} $name")
		done
		pending=()
	fi
done <<<"$list"
if [ ${#targets[@]} -eq 0 ]; then
	echo "no fuzz targets found" >&2
	exit 1
fi

echo "fuzzing ${#targets[@]} targets for ${secs}s each"
summary=()
flakes=0
for target in "${targets[@]}"; do
	pkg="${target% *}"
	name="${target#* }"
	corpus="$(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$name"
	before="$(ls "$corpus" 2>/dev/null | sort || true)"
	echo "== $name ($pkg)"
	status=0
	out="$(go test -run '^$' -fuzz "^${name}\$" -fuzztime "${secs}s" -fuzzminimizetime 5s "$pkg" 2>&1)" || status=$?
	last="$(grep '^fuzz: elapsed' <<<"$out" | tail -n 1 || true)"
	echo "   ${last:-no progress line}"
	if [ "$status" -eq 0 ]; then
		summary+=("ok     $name: ${last#fuzz: }")
		continue
	fi
	after="$(ls "$corpus" 2>/dev/null | sort || true)"
	if ! grep -q 'Failing input written' <<<"$out" && [ "$before" = "$after" ] &&
		grep -q 'context deadline exceeded' <<<"$out"; then
		# A bare deadline at the end of -fuzztime: replay the corpus to be sure.
		if go test -count=1 -run "^${name}\$" "$pkg" >/dev/null 2>&1; then
			echo "   ended with a bare 'context deadline exceeded' and no failing input (go.dev/issue/75804): a flake"
			summary+=("flake  $name: ${last#fuzz: }")
			flakes=$((flakes + 1))
			continue
		fi
	fi
	echo "$out" | grep -v '^fuzz: elapsed' | grep -v 'level=' >&2
	if [ "$before" != "$after" ]; then
		echo "new failing input in $corpus:" >&2
		comm -13 <(echo "$before") <(echo "$after") | sed 's/^/  /' >&2
	fi
	echo "FAIL: $name ($pkg)" >&2
	exit 1
done

echo
echo "all ${#targets[@]} fuzz targets passed (${secs}s each, $flakes deadline flakes):"
printf '  %s\n' "${summary[@]}"
