#!/usr/bin/env bash
# Walk the whole flow of `conda-connect demo` in a real window under Xvfb and write a PNG of every screen to OUT
# (default: screenshots/): first with the pointer for the header buttons (dialogs by their default buttons), then a
# keyboard-only sign-in (Tab, typing, Space, Enter, Esc, Ctrl+L — no pointer at all). Checks that no PNG is blank,
# that the window's WM_CLASS matches the desktop file, and that the demo's files are what each step should leave.
# Needs: Xvfb, xdotool, ImageMagick (apt-get install xvfb xauth xdotool imagemagick). BIN defaults to the debug build.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-screenshots}
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/debug/conda-connect}
CONVERT=/usr/bin/convert; [ -x "$CONVERT" ] || CONVERT=convert
IMPORT=/usr/bin/import; [ -x "$IMPORT" ] || IMPORT=import
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
cleanup() { kill "${APP_PID:-}" "${TLS_PID:-}" "${XVFB_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# Xvfb picks a free display itself and writes its number once it accepts connections (-displayfd): no collision
# with another X server or a stale lock file, and no guessing how long a cold start takes.
Xvfb -displayfd 3 -screen 0 1040x700x24 -nolisten tcp 3>"$WORK/display" >"$WORK/xvfb.log" 2>&1 & XVFB_PID=$!
for _ in $(seq 300); do [ -s "$WORK/display" ] && break; kill -0 "$XVFB_PID" 2>/dev/null || break; sleep 0.1; done
[ -s "$WORK/display" ] || { echo "screenshots: Xvfb did not start"; cat "$WORK/xvfb.log"; exit 1; }
export DISPLAY=:$(tr -dc 0-9 <"$WORK/display")
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done 2>/dev/null || true
echo "screenshots: Xvfb on $DISPLAY"

# a second emulator with a self-signed certificate, for the "SSL Verification Failed!" screen
TLS_PORT=$((PORT + 1))
"$BIN" emulator --tls --port "$TLS_PORT" >"$WORK/tls.log" 2>&1 & TLS_PID=$!
export CONDA_CONNECT_DEMO_HOME=$WORK/home CONDA_CONNECT_DEMO_PORT=$PORT
START=$(date +%s%N)
"$BIN" demo >"$WORK/demo.log" 2>&1 & APP_PID=$!
WID=""
for _ in $(seq 300); do
  WID=$(xdotool search --name '^conda-connect' 2>/dev/null | head -1 || true); [ -n "$WID" ] && break
  kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1
done
[ -n "$WID" ] || { echo "screenshots: the window did not appear"; cat "$WORK/demo.log" "$WORK/xvfb.log"; exit 1; }
echo "window after $(( ($(date +%s%N) - START) / 1000000 )) ms"
if command -v xprop >/dev/null; then
  WM_CLASS=$(xprop -id "$WID" WM_CLASS)
  grep -q "StartupWMClass=conda-connect" packaging/conda-connect.desktop
  case "$WM_CLASS" in *'"conda-connect", "conda-connect"'*) ;; *) echo "screenshots: WM_CLASS is $WM_CLASS"; exit 1;; esac
fi
xdotool windowfocus --sync "$WID" 2>/dev/null || true
sleep 1

n=0
shot() {  # shot NAME: screenshot the window, check it is not blank
  sleep "${2:-0.8}"
  n=$((n + 1))
  local file; file=$(printf '%s/%02d-%s.png' "$OUT" "$n" "$1")
  "$IMPORT" -window root "$file"
  local colors; colors=$("$CONVERT" "$file" -format '%k' info:)
  [ "$colors" -gt 20 ] || { echo "screenshots: $file looks blank ($colors colours)"; exit 1; }
  echo "$file ($colors colours)"
}
# move first: a click without pointer motion leaves the app's idea of the cursor stale (xdotool artefact)
click() { xdotool mousemove --window "$WID" 5 690; sleep 0.1; xdotool mousemove --window "$WID" "$1" "$2" click 1; }
key() { xdotool key "$@"; }
typ() { xdotool type --delay 15 "$1"; }
expect_file() { grep -q "$2" "$1" || { echo "screenshots: $1 lacks $2"; cat "$1" 2>/dev/null; exit 1; }; }

# header buttons at the default 1040×700 size (signed in: Channels, Tokens, Preferences, Connect)
CONNECT_X=951; PREFS_X=817; TOKENS_X=688; CHANNELS_X=567; HEADER_Y=48

# ---- the mouse path: header buttons by pointer, dialogs by their default buttons
shot main-not-connected 0.5
click $CONNECT_X $HEADER_Y;       shot connect
key Return;                       shot set-domain
key ctrl+a; typ "https://127.0.0.1:$TLS_PORT"; key Return
                                  shot ssl-verification-failed 1.5
key Return;                       shot trust-cancelled-by-default 0.6
[ ! -e "$CONDA_CONNECT_DEMO_HOME/.anaconda/navigator/anaconda-navigator.ini" ] \
  || ! grep -q trusted_servers "$CONDA_CONNECT_DEMO_HOME/.anaconda/navigator/anaconda-navigator.ini" \
  || { echo "screenshots: Enter in the trust question must not trust the server"; exit 1; }
key ctrl+a; typ "http://127.0.0.1:$PORT"; key Return
                                  shot login 1.2
typ alice; key Tab; typ wrong; key Return
                                  shot login-invalid-credentials 1.2
typ alice-password; key Return;   shot add-channels 2
key Return;                       shot add-channels-needs-a-default 0.6
typ main; sleep 0.4;              shot add-channels-filtered 0.3
# keyboard in the table: filter → four sortable headings → the first row's default_channels box; Space ticks it
key Tab Tab Tab Tab Tab;          shot add-channels-focus-ring 0.3
key space; sleep 0.2
key Return;                       shot signed-in-with-index 2.5
expect_file "$CONDA_CONNECT_DEMO_HOME/.condarc" "default_channels"
expect_file "$CONDA_CONNECT_DEMO_HOME/.condarc" "channel_alias: http://127.0.0.1:$PORT/api/repo"
# the Channels screen: what ~/.condarc holds now, the server's table; tick `internal` for channels, Apply
click $CHANNELS_X $HEADER_Y;      shot channels 1.2
typ internal; sleep 0.3; key Tab Tab Tab Tab Tab Tab; key space
                                  shot channels-ticked 0.4
key Return;                       shot channels-applied 2.5
expect_file "$CONDA_CONNECT_DEMO_HOME/.condarc" "internal"
click $TOKENS_X $HEADER_Y;        shot tokens 1
key shift+Tab; key space;         sleep 0.5
typ ci-pipeline;                  shot new-token 0.4
key Return;                       shot token-created 1.2
key Escape; sleep 0.3; key Escape; sleep 0.3
key ctrl+d;                       shot diagnose 1.2
key Escape; sleep 0.3
click $PREFS_X $HEADER_Y;         shot preferences
# the dark theme: tick Dark, Apply, and look at the main window and the Channels screen in it
click "${DARK_X:-371}" "${DARK_Y:-488}"; sleep 0.2; key Return; shot dark-main 1
mean=$("$CONVERT" "$OUT/$(printf %02d $n)-dark-main.png" -colorspace Gray -format '%[fx:mean]' info:)
awk "BEGIN { exit !($mean < 0.5) }" || { echo "screenshots: the dark theme did not apply (mean grey $mean)"; exit 1; }
key ctrl+l;                       shot dark-channels 1.2
key Escape; sleep 0.3
key ctrl+d;                       shot dark-diagnose 1.2
key Escape; sleep 0.3
click $PREFS_X $HEADER_Y; sleep 0.5; click "${LIGHT_X:-292}" "${LIGHT_Y:-488}"; sleep 0.2; key Return; sleep 0.5
click $CONNECT_X $HEADER_Y; sleep 0.4; key Return; shot sign-out
key Return;                       shot signed-out 2.5
[ ! -e "$CONDA_CONNECT_DEMO_HOME/.condarc" ] || { echo "screenshots: ~/.condarc should be gone after sign-out"; exit 1; }

# ---- the keyboard-only path: no pointer at all
key Tab Tab;                      shot keyboard-focus-on-connect 0.4
key Return; sleep 0.5; key Return; sleep 1.2
typ alice; key Tab; typ alice-password; key Return
                                  shot keyboard-add-channels-remembered 2
key Return;                       shot keyboard-signed-in 2.5
expect_file "$CONDA_CONNECT_DEMO_HOME/.condarc" "default_channels"
key ctrl+l;                       shot keyboard-channels 1.2
key Escape; sleep 0.3
echo "screenshots: $n screens in $OUT"
