#!/usr/bin/env bash
# Walk the whole flow of `conda-connect demo` in a real window under Xvfb and write a PNG of every screen to OUT
# (default: screenshots/): first with the pointer for the header buttons (dialogs by their default buttons), then a
# keyboard-only sign-in (Tab, typing, Space, Enter, Esc, Ctrl+L — no pointer at all), and a second server added
# beside the first by keyboard. Checks that no PNG is blank,
# that the screens that must show something show it (the focus ring after a keyboard walk down the channel table,
# the error and the unsaved-changes question together, the kept package list after a failed Update Index, the
# token's not-copied question, a notice at the minimum size — by their colours), that the window's WM_CLASS matches
# the desktop file, and that the demo's files are what each step should leave.
# Needs: Xvfb, xdotool, xdpyinfo, ImageMagick (apt-get install xvfb xauth xdotool x11-utils imagemagick). BIN defaults to the debug build.
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
cleanup() {
  kill "${APP_PID:-}" "${TLS_PID:-}" "${SECOND_PID:-}" "${XVFB_PID:-}" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Xvfb picks a free display itself and writes its number once it accepts connections (-displayfd): no collision
# with another X server or a stale lock file, and no guessing how long a cold start takes. -noreset: by default the
# server resets whenever its last client leaves — each `xdotool search` below is a client that leaves, and an app
# still in its connection handshake at that moment is dropped ("could not reach the graphical session", seen in CI).
# The walk is on X: a Wayland socket named by the caller's session must not take the app elsewhere.
unset WAYLAND_DISPLAY WAYLAND_SOCKET
Xvfb -displayfd 3 -noreset -screen 0 1040x700x24 -nolisten tcp 3>"$WORK/display" >"$WORK/xvfb.log" 2>&1 & XVFB_PID=$!
for _ in $(seq 300); do [ -s "$WORK/display" ] && break; kill -0 "$XVFB_PID" 2>/dev/null || break; sleep 0.1; done
[ -s "$WORK/display" ] || { echo "screenshots: Xvfb did not start"; cat "$WORK/xvfb.log"; exit 1; }
export DISPLAY=:$(tr -dc 0-9 <"$WORK/display")
for _ in $(seq 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
xdpyinfo >/dev/null || { echo "screenshots: no X client can reach Xvfb on $DISPLAY"; cat "$WORK/xvfb.log"; exit 1; }
echo "screenshots: Xvfb on $DISPLAY"
# wait_window PATTERN LOG: the id of the app's window once it is mapped (a window found by name before it is mapped
# cannot take the focus); on failure, what the app printed and the detail its log holds
wait_window() {
  local id=""
  for _ in $(seq 300); do
    id=$(xdotool search --onlyvisible --name "$1" 2>/dev/null | head -1 || true); [ -n "$id" ] && break
    kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1
  done
  if [ -z "$id" ]; then
    echo "screenshots: no window named $1 appeared" >&2
    cat "$2" "$WORK/xvfb.log" >&2
    find "$WORK/home" -name conda-connect.log -exec tail -n 20 {} \; >&2 2>/dev/null || true
    return 1
  fi
  echo "$id"
}

# a second emulator with a self-signed certificate, for the "SSL Verification Failed!" screen
TLS_PORT=$((PORT + 1))
"$BIN" emulator --tls --port "$TLS_PORT" >"$WORK/tls.log" 2>&1 & TLS_PID=$!
# and a third one, plain, reached as localhost: a second server signed in beside the first
SECOND_PORT=$((PORT + 2))
"$BIN" emulator --port "$SECOND_PORT" >"$WORK/second.log" 2>&1 & SECOND_PID=$!
export CONDA_CONNECT_DEMO_HOME=$WORK/home CONDA_CONNECT_DEMO_PORT=$PORT
START=$(date +%s%N)
"$BIN" demo >"$WORK/demo.log" 2>&1 & APP_PID=$!
if ! WID=$(wait_window '^conda-connect' "$WORK/demo.log"); then
  # CI has twice seen the very first window refused by a display that xdpyinfo had just reached (the detail above
  # says how); one more start tells a passing hiccup of the machine from an app that cannot open its window
  grep -q "could not reach the graphical session" "$WORK/demo.log" || exit 1
  echo "screenshots: the display refused the first window once; starting the demo again"
  wait "$APP_PID" 2>/dev/null || true
  START=$(date +%s%N)
  "$BIN" demo >"$WORK/demo.log" 2>&1 & APP_PID=$!
  WID=$(wait_window '^conda-connect' "$WORK/demo.log") || exit 1
fi
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
# expect NAME COLOUR MIN [GEOMETRY]: the last screenshot holds at least MIN pixels of COLOUR (within GEOMETRY,
# WxH+X+Y) — the design tokens' colours: what the screen must show is there
last() { printf '%s/%02d-%s.png' "$OUT" "$n" "$1"; }
expect() {
  local file count; file=$(last "$1")
  count=$("$CONVERT" "$file" ${4:+-crop "$4" +repage} -fuzz 3% -fill black +opaque "$2" -fill white -opaque "$2" \
    -format '%[fx:round(mean*w*h)]' info:)
  [ "$count" -ge "$3" ] || { echo "screenshots: $file shows $count pixels of $2, expected at least $3 ($5)"; exit 1; }
  echo "  $1: $count pixels of $2 ($5)"
}
FOCUS='#1a73e8'; ERROR_TEXT='#b3261e'; WARNING_TEXT='#553700'; DANGER_BG='#fde8e6'; SUCCESS_BG='#e3f4e8'
# expect_no_ring NAME GEOMETRY WHY: no bluish pixel (the focus ring, even faded into the background) in GEOMETRY
expect_no_ring() {
  local file count; file=$(last "$1")
  count=$("$CONVERT" "$file" -crop "$2" +repage -fx '(b-r)>0.12' -format '%[fx:round(mean*w*h)]' info:)
  [ "$count" -eq 0 ] || { echo "screenshots: $file shows $count bluish pixels in $2 ($3)"; exit 1; }
  echo "  $1: no ring pixel in $2 ($3)"
}
emu_fault() { curl -fsS -X "$1" "http://127.0.0.1:$PORT/__emulator/faults" ${2:+-H 'content-type: application/json' -d "$2"} >/dev/null; }
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
expect add-channels-focus-ring "$FOCUS" 40 "" "a focus ring"
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
# the keyboard only, down the channel table: the focused box is scrolled into view (its ring is on screen)
key ctrl+l; sleep 1.2
for _ in $(seq 36); do key Tab; done
                                  shot keyboard-channels-focus-scrolled 0.4
expect keyboard-channels-focus-scrolled "$FOCUS" 40 "" "the focus ring, in view"
# the headings were focused on the way down: no arc of their rings is left at the table's top edge
expect_no_ring keyboard-channels-focus-scrolled "800x8+116+211" "no leftover ring arcs"
key Escape; sleep 0.4
# a failed Update Index after a good one: the last good list stays, with its time
emu_fault POST '{"path_prefix":"/api/repo/","kind":"drop"}'
key F5;                           shot update-index-failed-kept 2
expect update-index-failed-kept "$WARNING_TEXT" 30 "" "the kept list's time"
expect update-index-failed-kept "$DANGER_BG" 2000 "" "the offline banner"
emu_fault DELETE
key F5; sleep 2
click $TOKENS_X $HEADER_Y;        shot tokens 1
key space;                        sleep 0.5
typ ci-pipeline;                  shot new-token 0.4
key Return;                       shot token-created 1.2
# leaving without a copy asks first; Esc goes back to the token, which is then copied (Tab to Copy, Space)
key Escape;                       shot token-not-copied 0.4
expect token-not-copied "$WARNING_TEXT" 30 "" "the not-copied question"
key Escape; sleep 0.3; key Tab; key space; sleep 0.3
key Escape; sleep 0.3; key Escape; sleep 0.3
key ctrl+d;                       shot diagnose 1.2
key Escape; sleep 0.3
click $PREFS_X $HEADER_Y;         shot preferences
# Esc with an error shown (the focus opens in the first field that can be edited: the certificate path): the
# unsaved-changes question comes beside the buttons, the error stays
typ /nowhere/ca.pem; key Return; sleep 0.4; key Escape
                                  shot preferences-esc-with-error 0.4
expect preferences-esc-with-error "$ERROR_TEXT" 30 "" "the error"
expect preferences-esc-with-error "$WARNING_TEXT" 30 "" "the unsaved-changes question"
key Escape; sleep 0.4
click $PREFS_X $HEADER_Y; sleep 0.8
# the dark theme: tick Dark, Apply, and look at the main window and the Channels screen in it
click "${DARK_X:-371}" "${DARK_Y:-488}"; sleep 0.2; key Return; shot dark-main 1
mean=$("$CONVERT" "$OUT/$(printf %02d $n)-dark-main.png" -colorspace Gray -format '%[fx:mean]' info:)
awk "BEGIN { exit !($mean < 0.5) }" || { echo "screenshots: the dark theme did not apply (mean grey $mean)"; exit 1; }
key ctrl+l;                       shot dark-channels 1.2
key Escape; sleep 0.3
key ctrl+d;                       shot dark-diagnose 1.2
key Escape; sleep 0.3
click $PREFS_X $HEADER_Y; sleep 0.5; click "${LIGHT_X:-292}" "${LIGHT_Y:-488}"; sleep 0.2; key Return; sleep 0.5
# the smallest window, with a notice (Channels → Apply leaves one): nothing squeezed, the notice in its corner
xdotool windowsize --sync "$WID" 900 620 2>/dev/null || xdotool windowsize "$WID" 900 620; sleep 0.5
key ctrl+l; sleep 1.2; key Return
                                  shot minimum-size-with-notice 2
expect minimum-size-with-notice "$SUCCESS_BG" 2000 "900x620+0+0" "the notice"
xdotool windowsize --sync "$WID" 1040 700 2>/dev/null || xdotool windowsize "$WID" 1040 700; sleep 0.5
click $CONNECT_X $HEADER_Y; sleep 0.4; key Return; shot sign-out
key Tab Return;                   shot signed-out 2.5
[ ! -e "$CONDA_CONNECT_DEMO_HOME/.condarc" ] || { echo "screenshots: ~/.condarc should be gone after sign-out"; exit 1; }

# ---- the keyboard-only path: no pointer at all (the focus came back to Connect when the sign-out closed)
                                  shot keyboard-focus-on-connect 0.4
expect keyboard-focus-on-connect "$FOCUS" 40 "" "the focus ring on Connect"
key Return; sleep 0.5; key Return; sleep 1.2
typ alice; key Tab; typ alice-password; key Return
                                  shot keyboard-add-channels-remembered 2
key Return;                       shot keyboard-signed-in 2.5
expect_file "$CONDA_CONNECT_DEMO_HOME/.condarc" "default_channels"
key ctrl+l;                       shot keyboard-channels 1.2
key Escape; sleep 0.3

# ---- several servers, by keyboard: Connect → Add another server… → its address, its sign-in, its channels
key ctrl+k; sleep 0.5; key Tab Return
typ "http://localhost:$SECOND_PORT"; shot add-another-server 0.5
key Return; sleep 1.2
typ alice; key Tab; typ alice-password; key Return
                                  shot second-server-channels 2
key Escape; sleep 0.5
expect_file "$CONDA_CONNECT_DEMO_HOME/.local/share/conda-connect/servers.json" "localhost:$SECOND_PORT"
key ctrl+k;                       shot connect-two-servers 0.6
key Escape; sleep 0.3

# ---- a broken policy on a managed desk: the app opens a window with the one sentence instead; Enter closes it
kill "$APP_PID" 2>/dev/null || true; wait "$APP_PID" 2>/dev/null || true
printf '{"domian": "https://x.example"}\n' >"$WORK/policy.json"; chmod 0644 "$WORK/policy.json"
HOME=$WORK/home CONDA_CONNECT_POLICY_FILE=$WORK/policy.json "$BIN" >"$WORK/refused.log" 2>&1 & APP_PID=$!
WID=$(wait_window '^conda-connect cannot start' "$WORK/refused.log") || exit 1
# no window manager here: the keyboard goes to the focused window, or to the one under the pointer
xdotool mousemove --window "$WID" 300 220; xdotool windowfocus --sync "$WID" 2>/dev/null || true
                                  shot policy-refused 1
expect policy-refused "$ERROR_TEXT" 300 "" "the policy's sentence"
key Return
for _ in $(seq 50); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$APP_PID" 2>/dev/null; then echo "screenshots: Enter did not close the refusal"; exit 1; fi
wait "$APP_PID" && { echo "screenshots: the refused start exited 0"; exit 1; }
expect_file "$WORK/refused.log" "domian: it is not a policy setting"
echo "screenshots: $n screens in $OUT"
