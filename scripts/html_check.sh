#!/usr/bin/env bash
# The HTML report in a real browser: renders testdata/sample.pcap's page
# (`finscope analyze --html`) in headless Chromium and fails when
#   - the page logs a console error (an uncaught exception included),
#   - its script did not run (the Wireshark filters' copy buttons stay hidden),
#   - a plot area is blank or one flat colour (scripts/png_check.py: each plot
#     is located by a screenshot of the page with everything else hidden).
# Prints the screenshot's path; it stays outside the repository (a temporary
# directory, or $HTML_CHECK_DIR). With --docs, also writes docs/html-report.png.
# HTML_CHECK_PAGE=FILE checks that page instead of building the sample's.
# Needs chromium (Debian package `chromium`) and python3 (standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."

docs=""
if [ "${1:-}" = "--docs" ]; then
  docs="docs/html-report.png"
fi

browser="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$browser" ]; then
  echo "html_check: chromium is not installed (apt-get install chromium)" >&2
  exit 1
fi

out="${HTML_CHECK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/finscope-html.XXXXXX")}"
mkdir -p "$out"
page="$out/sample.html"
if [ -n "${HTML_CHECK_PAGE:-}" ]; then
  # Check a given page instead (e.g. to see this script fail on a broken one).
  cp "$HTML_CHECK_PAGE" "$page"
else
  cargo run --release --quiet -- analyze -q --html "$page" testdata/sample.pcap >/dev/null
fi
echo "html_check: $page ($(wc -c <"$page") bytes)"

# chromium PAGE PNG: a 1280 px wide screenshot, the browser's log beside it.
shot() {
  timeout 180 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --enable-logging=stderr --v=0 --window-size=1280,4800 \
    --screenshot="$2" "file://$1" >/dev/null 2>"$2.log" || {
    cat "$2.log" >&2
    echo "html_check: chromium failed on $1" >&2
    exit 1
  }
  [ -s "$2" ] || { echo "html_check: no screenshot of $1" >&2; exit 1; }
}

fail=0
shot "$page" "$out/sample.png"
if grep 'CONSOLE' "$out/sample.png.log" | grep -Ei 'uncaught|error'; then
  echo "html_check: FAIL: the page logs console errors (above)" >&2
  fail=1
fi

# The DOM after the script ran: every copy button revealed.
timeout 180 "$browser" --headless --no-sandbox --disable-gpu --dump-dom "file://$page" \
  >"$out/dom.html" 2>/dev/null
count() { (grep -o "$1" "$out/dom.html" || true) | wc -l; }
shown="$(count '<button type="button" class="copy">')"
hidden="$(count '<button type="button" class="copy" hidden')"
if [ "$shown" -eq 0 ] || [ "$hidden" -ne 0 ]; then
  echo "html_check: FAIL: the script did not run ($shown copy buttons shown, $hidden hidden)" >&2
  fail=1
fi

# One screenshot per plot with everything else hidden: where the plot is.
masks=()
for plot in states:plot-states latency:plot-latency outcomes:plot-outcomes peers:spark; do
  name="${plot%%:*}"
  class="${plot#*:}"
  mask="$out/mask-$name.html"
  style="<style>html,body{background:#fff!important}body *{visibility:hidden!important;background:transparent!important;border-color:transparent!important;box-shadow:none!important}svg.$class,svg.$class *{visibility:visible!important}</style>"
  sed "s|</head>|$style</head>|" "$page" >"$mask"
  shot "$mask" "$out/mask-$name.png"
  masks+=("$name=$out/mask-$name.png")
done
docs_args=()
if [ -n "$docs" ]; then
  docs_args=(--docs "$docs")
fi
python3 scripts/png_check.py "$out/sample.png" "${masks[@]}" "${docs_args[@]}" || fail=1

echo "html_check: screenshot $out/sample.png"
if [ "$fail" -ne 0 ]; then
  echo "html_check: FAILED" >&2
  exit 1
fi
echo "html_check: ok"
