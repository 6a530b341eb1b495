#!/usr/bin/env bash
# Installs everything the test suite needs on Debian 12: the real components
# (net-snmp, Prometheus, Alertmanager, VictoriaMetrics, fping, snmp_exporter, nginx,
# Chromium for the status page's browser tests, wrk for bench/status_page.py)
# from apt, Node.js and npm (apt, when there is no node) with Grafana's dashboard
# types (@grafana/schema) and TypeScript pinned in tests/schema/, then the project
# with its test extras into the venv.
# Runs as root, or through sudo when it is not root. Idempotent and quick when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

APT_PACKAGES=(
  make python3 python3-venv python3-pip
  snmpd snmp snmptrapd fping prometheus-snmp-exporter
  prometheus prometheus-alertmanager victoria-metrics
  iproute2 procps nginx-light
  chromium wrk
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "install-test-deps: need root or sudo to install: ${APT_PACKAGES[*]}" >&2; exit 1
  fi
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-test-deps: apt packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Grafana's TypeScript types of a dashboard, for tests/test_dashboards.py (versions pinned by the lock file)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-test-deps: apt packages: nodejs npm"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
installed=tests/schema/node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ tests/schema/package-lock.json -nt "$installed" ]; then
  (cd tests/schema && npm ci --no-audit --no-fund --loglevel=error)
fi

scripts/setup-venv.sh "$VENV" test
