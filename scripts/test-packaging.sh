#!/usr/bin/env bash
# Check the installers the packaging scripts make, with executables the test run has already built (no release
# build here):
# - macOS: scripts/package-macos.sh --binary lays out conda-connect.app; the bundle's files, Info.plist (parsed)
#   and the zip (the executable keeps its mode) are checked.
# - Windows (when wixl and Wine are there): scripts/package-windows.sh --exe packs the Windows build; the .zip's
#   files and the .msi's tables are checked, then the .msi is installed silently in the Wine prefix of the Windows
#   run, the installed conda-connect.exe runs, the Start-menu shortcut is there, and uninstalling removes both.
# Usage: scripts/test-packaging.sh LINUX_BINARY [WINDOWS_EXE]
set -euo pipefail
cd "$(dirname "$0")/.."
LINUX_BIN=$1
WIN_EXE=${2:-}
CACHE=${CONDA_CONNECT_CI_CACHE:-$HOME/.cache/conda-connect-ci}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
fail() { echo "packaging: $*"; exit 1; }

# ---- macOS bundle layout
bash scripts/package-macos.sh --binary "$LINUX_BIN" "$OUT/macos" >/dev/null
APP="$OUT/macos/conda-connect.app/Contents"
for f in Info.plist PkgInfo MacOS/conda-connect Resources/conda-connect.icns Resources/LICENSE; do
  [ -f "$APP/$f" ] || fail "the app bundle lacks Contents/$f"
done
[ -x "$APP/MacOS/conda-connect" ] || fail "the bundle's executable is not executable"
python3 - "$APP/Info.plist" "$VERSION" "$OUT/macos/conda-connect-$VERSION-macos.zip" <<'PY'
import plistlib, sys, zipfile
plist = plistlib.load(open(sys.argv[1], "rb"))
want = {"CFBundleExecutable": "conda-connect", "CFBundleIdentifier": "io.github.conda_connect.CondaConnect",
        "CFBundleIconFile": "conda-connect", "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": sys.argv[2], "NSHighResolutionCapable": True}
wrong = {k: plist.get(k) for k, v in want.items() if plist.get(k) != v}
assert not wrong, f"Info.plist: {wrong}"
with zipfile.ZipFile(sys.argv[3]) as z:
    exe = z.getinfo("conda-connect.app/Contents/MacOS/conda-connect")
    assert (exe.external_attr >> 16) & 0o111, "the zipped executable lost its mode"
    assert z.read("conda-connect.app/Contents/Resources/conda-connect.icns")[:4] == b"icns"
PY
echo "packaging: macOS bundle and Info.plist checked"

# ---- Windows zip and msi
if [ -z "$WIN_EXE" ] || ! command -v wixl >/dev/null || ! command -v msiinfo >/dev/null; then
  echo "packaging: Windows installer skipped (needs the Windows build, wixl and msitools)"
  exit 0
fi
bash scripts/package-windows.sh --exe "$WIN_EXE" "$OUT/windows" >/dev/null
NAME="conda-connect-$VERSION-windows-x86_64"
python3 - "$OUT/windows/$NAME.zip" <<'PY'
import sys, zipfile
names = sorted(zipfile.ZipFile(sys.argv[1]).namelist())
assert names == ["LICENSE.txt", "README.txt", "conda-connect.exe", "conda-connect.ico"], names
PY
MSI="$OUT/windows/$NAME.msi"
# each table is read whole first: `grep -q` stops reading at the first match, and under pipefail the writer's
# SIGPIPE would fail a check that passed
files=$(msiinfo export "$MSI" File) || fail "msiinfo cannot read the msi's File table"
shortcuts=$(msiinfo export "$MSI" Shortcut) || fail "msiinfo cannot read the msi's Shortcut table"
grep -q "conda-connect.exe" <<<"$files" || fail "the msi does not install conda-connect.exe"
grep -q "ProgramMenuFolder" <<<"$shortcuts" || fail "the msi has no Start-menu shortcut"
echo "packaging: Windows .zip and .msi tables checked"
command -v wine >/dev/null || { echo "packaging: installing the msi skipped (no Wine)"; exit 0; }

export WINEPREFIX="$CACHE/windows/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
INSTALLED="$WINEPREFIX/drive_c/Program Files/conda-connect"
wine msiexec /x "$(winepath -w "$MSI")" /qn >/dev/null 2>&1 || true
# a silent roll-out: the installer's properties become the machine policy that conda-connect reads
wine msiexec /i "$(winepath -w "$MSI")" /qn DOMAIN=https://repo.example.com SIGN_IN=sso >/dev/null 2>&1 \
  || fail "msiexec /i failed"
[ -f "$INSTALLED/conda-connect.exe" ] || fail "nothing installed in $INSTALLED"
[ -f "$INSTALLED/LICENSE.txt" ] || fail "the licence was not installed"
LINK=$(find "$WINEPREFIX/drive_c" -iname 'conda-connect.lnk' -path '*Start Menu*' | head -n 1)
[ -n "$LINK" ] || fail "no Start-menu shortcut after installing"
# Wine 8 only: the installed exe needs the ProcessPrng shim beside it to start (never part of the package)
cp "$CACHE/windows/bcryptprimitives.dll" "$INSTALLED/"
got=$(wine "$INSTALLED/conda-connect.exe" --version 2>/dev/null | tr -d '\r')
[ "$got" = "conda-connect $VERSION" ] || fail "the installed conda-connect.exe printed '$got'"
PROFILE=$(mktemp -d)
policy=$(USERPROFILE="$(winepath -w "$PROFILE")" LOCALAPPDATA="$(winepath -w "$PROFILE")\\AppData\\Local" \
  APPDATA="$(winepath -w "$PROFILE")\\AppData\\Roaming" wine "$INSTALLED/conda-connect.exe" status --json 2>/dev/null \
  | tr -d '\r')
rm -rf "$PROFILE"
python3 -c '
import json, sys
status = json.loads(sys.argv[1])
policy = status["policy"]
assert policy["settings"] == {"domain": "https://repo.example.com", "sign_in": "sso"}, policy
assert policy["sources"] == ["HKLM\\SOFTWARE\\Policies\\conda-connect"], policy
assert status["domain"] == "https://repo.example.com", status
' "$policy" || fail "status does not report the policy the msi wrote: $policy"
rm -f "$INSTALLED/bcryptprimitives.dll"
wine msiexec /x "$(winepath -w "$MSI")" /qn >/dev/null 2>&1 || fail "msiexec /x failed"
[ ! -e "$INSTALLED/conda-connect.exe" ] || fail "uninstalling left conda-connect.exe"
[ ! -e "$LINK" ] || fail "uninstalling left the Start-menu shortcut"
! wine reg query 'HKLM\SOFTWARE\Policies\conda-connect' /v domain >/dev/null 2>&1 \
  || fail "uninstalling left the machine policy"
echo "packaging: the msi installs with DOMAIN/SIGN_IN as machine policy (reported by status), runs ($got) and uninstalls under Wine"
