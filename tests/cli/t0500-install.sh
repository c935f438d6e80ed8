#!/usr/bin/env bash
# `cmake --install` puts the binary, the man page and the completions in place.
. "$(dirname "$0")/lib.sh"

: "${BUILD_DIR:?}"
t "install into a staging prefix"
cmake --install "$BUILD_DIR" --prefix "$TMPD/prefix" >"$out" 2>"$err" && pass || fail "cmake --install"
for f in bin/omvdev share/man/man1/omvdev.1.gz share/bash-completion/completions/omvdev \
    share/zsh/vendor-completions/_omvdev share/fish/vendor_completions.d/omvdev.fish; do
    [ -s "$TMPD/prefix/$f" ] && pass || fail "missing $f"
done
"$TMPD/prefix/bin/omvdev" --version >"$out" 2>"$err" && pass || fail "installed binary runs"
gzip -dc "$TMPD/prefix/share/man/man1/omvdev.1.gz" >"$TMPD/omvdev.1"
head -1 "$TMPD/omvdev.1" | grep -q '^\.TH OMVDEV 1' && pass || fail ".TH"
if command -v groff >/dev/null; then
    groff -man -Tutf8 -ww -z "$TMPD/omvdev.1" 2>"$err"
    err_empty
fi

finish
