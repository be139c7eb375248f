#!/usr/bin/env bash
# Check report.html in a real browser: build the report of an experiment and take a headless
# Chromium screenshot of it, to look at. Installs Debian's chromium when it is missing (needs root).
#
#   scripts/check_report_in_browser.sh results/cnn-20261124-120000 [--out DIR] [--height PX]
#
# The report and its leaderboard files go to --out (default: a fresh temporary directory), never
# into the experiment itself; the screenshot is DIR/report.png, 1400 pixels wide and --height
# (default 3000) tall: make it taller to see the whole page.
set -euo pipefail

usage() { echo "usage: $0 EXPERIMENT_DIR [--out DIR] [--height PX]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
experiment=$1; shift
out=""
height=3000
while [[ $# -gt 0 ]]; do
    case $1 in
        --out) [[ $# -ge 2 ]] || usage; out=$2; shift 2 ;;
        --height) [[ $# -ge 2 ]] || usage; height=$2; shift 2 ;;
        *) usage ;;
    esac
done
[[ -d $experiment ]] || { echo "$0: no experiment directory $experiment" >&2; exit 2; }
out=${out:-$(mktemp -d /tmp/report-check.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)

repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$repo/.venv/bin/python}

if ! command -v chromium >/dev/null; then
    apt-get update && apt-get install -y chromium
fi

"$python" "$repo/sweeps/leaderboard.py" "$experiment" --html --out "$out" --top 3

# A throwaway profile, and no background traffic: the report must render from the file alone.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-size=1400,"$height" \
    --screenshot="$out/report.png" "file://$out/report.html" 2>"$out/chromium.log" \
    || { cat "$out/chromium.log" >&2; exit 1; }
echo "report:     $out/report.html"
echo "screenshot: $out/report.png"
