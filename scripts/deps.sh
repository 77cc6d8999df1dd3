#!/usr/bin/env bash
# Installs what the test suite needs beyond Go, when it is missing. Safe to
# run again: it installs nothing that is already there.
set -euo pipefail

need=()
command -v python3 >/dev/null || need+=(python3)
command -v influxd >/dev/null || need+=(influxdb) # InfluxDB 1.x for integration/influx_test.go
command -v chromium >/dev/null || need+=(chromium) # a headless browser for integration/report_test.go
command -v node >/dev/null || need+=(nodejs)       # the Node.js example worker (ipc/conformance, integration/languages_test.go)

if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	echo "installing: ${need[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
