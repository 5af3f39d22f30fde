#!/bin/sh
# Install Studio from this unpacked folder: for you (default, into ~/.local) or for everyone
# (sudo ./install.sh --prefix /usr/local). ./install.sh --uninstall removes it again.
# Your images, documents and models (in ~/.local/share/Studio) are never touched by either.
set -eu
PREFIX="${HOME}/.local"
ACTION=install
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX="$2"; shift 2 ;;
        --uninstall) ACTION=uninstall; shift ;;
        -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
done
ID=app.studio.Studio
HERE="$(cd "$(dirname "$0")" && pwd)"
LIB="$PREFIX/lib/studio"
SHARE="$PREFIX/share"

refresh() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$SHARE/applications" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" || true
}

if [ "$ACTION" = uninstall ]; then
    rm -rf "$LIB"
    rm -f "$PREFIX/bin/studio" "$SHARE/applications/$ID.desktop" "$SHARE/metainfo/$ID.metainfo.xml"
    find "$SHARE/icons/hicolor" -name "$ID.*" -delete 2>/dev/null || true
    refresh
    echo "Studio removed from $PREFIX (your work in ~/.local/share/Studio is kept)."
    exit 0
fi

mkdir -p "$LIB" "$PREFIX/bin" "$SHARE/applications" "$SHARE/metainfo"
# the program: everything but the desktop files, replacing an earlier version in one step
rm -rf "$LIB.new"
mkdir -p "$LIB.new"
for item in "$HERE"/*; do
    case "$(basename "$item")" in share|install.sh) ;; *) cp -a "$item" "$LIB.new/" ;; esac
done
rm -rf "$LIB.old"
[ -d "$LIB" ] && mv "$LIB" "$LIB.old"
mv "$LIB.new" "$LIB"
rm -rf "$LIB.old"
ln -sf "$LIB/studio" "$PREFIX/bin/studio"
sed "s|^Exec=studio|Exec=$PREFIX/bin/studio|; s|^TryExec=studio|TryExec=$PREFIX/bin/studio|" \
    "$HERE/share/applications/$ID.desktop" > "$SHARE/applications/$ID.desktop"
cp "$HERE/share/metainfo/$ID.metainfo.xml" "$SHARE/metainfo/"
cp -r "$HERE/share/icons" "$SHARE/"
refresh
echo "Studio installed: $PREFIX/bin/studio (and in your applications menu)."
