#!/usr/bin/env bash
# Build the macOS app bundle, on a Mac (Xcode's command-line tools; rustup target add aarch64-apple-darwin
# x86_64-apple-darwin):
#
#   scripts/package-macos.sh [--binary PATH] [OUT]      (OUT defaults to dist/)
#
# gives OUT/conda-connect.app (Contents/Info.plist, MacOS/conda-connect — universal when both targets are
# installed —, Resources/conda-connect.icns and LICENSE) and OUT/conda-connect-<version>-macos.zip of it. The app
# is signed ad hoc (codesign -s -), enough to run on the machine that built it; a release is signed with a
# Developer ID and notarised by whoever holds that certificate. With --binary the given executable is laid out as
# is (no build; any OS), which is how the test command checks the bundle's layout and Info.plist on Linux.
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=""
if [ "${1:-}" = "--binary" ]; then BINARY=$2; shift 2; fi
OUT=${1:-dist}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
APP_ID=io.github.conda_connect.CondaConnect

if [ -z "$BINARY" ]; then
  [ "$(uname -s)" = Darwin ] || { echo "package-macos: building needs a Mac (or --binary PATH)"; exit 1; }
  built=()
  for target in aarch64-apple-darwin x86_64-apple-darwin; do
    if grep -qx "$target" <<<"$(rustup target list --installed 2>/dev/null)"; then
      cargo build --release --locked --target "$target" --bin conda-connect
      built+=("${CARGO_TARGET_DIR:-target}/$target/release/conda-connect")
    fi
  done
  [ ${#built[@]} -gt 0 ] || { echo "package-macos: rustup target add aarch64-apple-darwin x86_64-apple-darwin"; exit 1; }
  BINARY=$(mktemp)
  if [ ${#built[@]} -gt 1 ]; then lipo -create -output "$BINARY" "${built[@]}"; else cp "${built[0]}" "$BINARY"; fi
fi
[ -f "$BINARY" ] || { echo "package-macos: $BINARY does not exist"; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
APP="$OUT/conda-connect.app"
rm -rf "$APP"
mkdir -p "$APP/Contents/MacOS" "$APP/Contents/Resources"
cp "$BINARY" "$APP/Contents/MacOS/conda-connect"
chmod 755 "$APP/Contents/MacOS/conda-connect"
cp assets/icons/conda-connect.icns "$APP/Contents/Resources/conda-connect.icns"
cp LICENSE "$APP/Contents/Resources/LICENSE"
cat >"$APP/Contents/Info.plist" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>CFBundleDevelopmentRegion</key><string>en</string>
  <key>CFBundleDisplayName</key><string>conda-connect</string>
  <key>CFBundleExecutable</key><string>conda-connect</string>
  <key>CFBundleIconFile</key><string>conda-connect</string>
  <key>CFBundleIdentifier</key><string>$APP_ID</string>
  <key>CFBundleInfoDictionaryVersion</key><string>6.0</string>
  <key>CFBundleName</key><string>conda-connect</string>
  <key>CFBundlePackageType</key><string>APPL</string>
  <key>CFBundleShortVersionString</key><string>$VERSION</string>
  <key>CFBundleVersion</key><string>$VERSION</string>
  <key>LSApplicationCategoryType</key><string>public.app-category.developer-tools</string>
  <key>LSMinimumSystemVersion</key><string>11.0</string>
  <key>NSHighResolutionCapable</key><true/>
  <key>NSHumanReadableCopyright</key><string>Copyright 2026, conda-connect developers. BSD 3-Clause.</string>
</dict>
</plist>
PLIST
printf 'APPL????' >"$APP/Contents/PkgInfo"
if command -v codesign >/dev/null; then codesign --force --sign - "$APP"; fi
ZIP="$OUT/conda-connect-$VERSION-macos.zip"
rm -f "$ZIP"
if command -v ditto >/dev/null; then
  ditto -c -k --keepParent "$APP" "$ZIP"
else
  (cd "$OUT" && python3 -m zipfile -c "$ZIP" conda-connect.app)
fi
echo "package-macos: $APP"
echo "package-macos: $ZIP"
