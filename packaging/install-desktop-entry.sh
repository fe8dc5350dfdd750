#!/usr/bin/env bash
# Adds Citewise to the desktop's application menu for this user (Linux, freedesktop.org):
# the .desktop entry in ~/.local/share/applications and the icon in the hicolor theme.
# Run from the bundle (dist/Citewise/install-desktop-entry.sh) or from a source checkout.
# --uninstall removes both again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
entry="$data/applications/citewise.desktop"
icon="$data/icons/hicolor/scalable/apps/citewise.svg"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$entry" "$icon"
    echo "removed $entry and $icon"
    exit 0
fi

if [ -x "$here/citewise" ]; then            # the bundle: the launcher sits beside this script
    exe="$here/citewise"; src_icon="$here/share/icons/hicolor/scalable/apps/citewise.svg"
    src_entry="$here/share/applications/citewise.desktop"
else                                       # a source checkout (make setup made .venv)
    root="$(cd "$here/.." && pwd)"
    exe="$root/.venv/bin/citewise"; src_icon="$root/ui/citewise.svg"; src_entry="$here/citewise.desktop"
fi
[ -x "$exe" ] || { echo "install-desktop-entry: no Citewise launcher at $exe" >&2; exit 1; }

mkdir -p "$(dirname "$entry")" "$(dirname "$icon")"
cp "$src_icon" "$icon"
# the entry's Exec/TryExec name the launcher by absolute path (quoted: the folder may hold spaces)
sed -e "s|^Exec=citewise|Exec=\"$exe\"|" -e "s|^TryExec=citewise|TryExec=$exe|" "$src_entry" > "$entry.tmp"
mv "$entry.tmp" "$entry"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
echo "installed $entry (runs $exe) and $icon"
