#!/bin/sh
# Install Backoffice for the current user (no root needed), from the unpacked tarball:
#
#   ./install.sh              install or update
#   ./install.sh --uninstall  remove the program, its menu entry, icon and command
#
# Where things go (XDG_DATA_HOME defaults to ~/.local/share):
#   $XDG_DATA_HOME/backoffice/app/                      the program (the bundle folder)
#   ~/.local/bin/backoffice                             a link to it, for the command line
#   $XDG_DATA_HOME/applications/backoffice.desktop      the menu entry
#   $XDG_DATA_HOME/icons/hicolor/{256x256,scalable}/apps/backoffice.{png,svg}
#
# The program goes in the app/ sub-folder because $XDG_DATA_HOME/backoffice is also where Backoffice
# keeps your data (the embedded SQLite store, the image store): uninstalling removes app/ only and
# never touches your data.
set -eu

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
bin_dir=${BACKOFFICE_BIN_DIR:-$HOME/.local/bin}
app_dir=$data_home/backoffice/app
desktop_file=$data_home/applications/backoffice.desktop
icon_png=$data_home/icons/hicolor/256x256/apps/backoffice.png
icon_svg=$data_home/icons/hicolor/scalable/apps/backoffice.svg
link=$bin_dir/backoffice

refresh_menus() {
    # Optional helpers of the desktop environments; missing ones are fine.
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$data_home/applications" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$data_home/icons/hicolor" || true
}

uninstall() {
    # The link only if it points into our folder: never remove someone else's `backoffice`.
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$app_dir/backoffice" ]; then
        rm -f "$link"
    fi
    rm -f "$desktop_file" "$icon_png" "$icon_svg"
    rm -rf "$app_dir"
    refresh_menus
    echo "Backoffice removed (your data in $data_home/backoffice is kept)."
}

install() {
    if [ ! -x "$here/backoffice/backoffice" ]; then
        echo "install.sh: error: $here/backoffice/backoffice not found: run install.sh from the unpacked tarball" >&2
        exit 1
    fi
    mkdir -p "$data_home/backoffice" "$bin_dir" "$(dirname "$desktop_file")" "$(dirname "$icon_png")" \
        "$(dirname "$icon_svg")"
    # Copy beside the old version, then swap: a failed copy leaves the installed version working.
    staging=$data_home/backoffice/app.new.$$
    rm -rf "$staging"
    cp -R "$here/backoffice" "$staging"
    cp "$here/install.sh" "$staging/install.sh"
    cp "$here/backoffice.desktop" "$here/backoffice.png" "$here/backoffice.svg" "$staging/"
    rm -rf "$app_dir.old"
    [ -e "$app_dir" ] && mv "$app_dir" "$app_dir.old"
    mv "$staging" "$app_dir"
    rm -rf "$app_dir.old"

    ln -sfn "$app_dir/backoffice" "$link"
    cp "$here/backoffice.png" "$icon_png"
    cp "$here/backoffice.svg" "$icon_svg"
    # The menu entry names the program by its full path: ~/.local/bin is not on every session's PATH.
    sed -e "s|^Exec=.*|Exec=\"$app_dir/backoffice\"|" -e "s|^TryExec=.*|TryExec=$app_dir/backoffice|" \
        "$here/backoffice.desktop" > "$desktop_file"
    chmod 644 "$desktop_file"
    refresh_menus

    echo "Backoffice $("$app_dir/backoffice" --version | sed 's/.*version //') installed in $app_dir"
    echo "  command:   $link"
    echo "  menu:      $desktop_file"
    echo "  uninstall: $app_dir/install.sh --uninstall"
    case ":$PATH:" in
        *":$bin_dir:"*) ;;
        *) echo "  note: $bin_dir is not on your PATH; add it to run \`backoffice\` from a terminal." ;;
    esac
}

case "${1:-}" in
    "") install ;;
    --uninstall|uninstall) uninstall ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) echo "install.sh: error: unknown option $1 (use --uninstall or nothing)" >&2; exit 2 ;;
esac
