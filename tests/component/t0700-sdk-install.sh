#!/usr/bin/env bash
# sdk install against a loopback HTTP(S) server with fault injection, and sdk
# list/path/verify/remove/env on the result. Real libcurl, liblzma, libarchive
# and file system; the server is tests/component/server.py.
. "$SOURCE_DIR/tests/cli/lib.sh"
comp="$SOURCE_DIR/tests/component"

case "$(uname -sm)" in
"Linux x86_64") plat=linux-x86_64 ;;
"Darwin arm64") plat=darwin-arm64 ;;
*) echo "no SDK is published for this platform"; exit 77 ;;
esac
V=1.6.0
TB=openmv-sdk-$V-$plat.tar.xz
dest=$HOME/openmv-sdk-$V
cache=$HOME/.cache/omvdev/downloads
www=$TMPD/www
mkdir -p "$www" "$TMPD/ref"
export OMVDEV_TEST_RETRY_DELAY_MS=20

python3 "$comp/mkarchive.py" good "$www/$TB" $V 1 || exit 1
tar -xJf "$www/$TB" --strip-components=1 -C "$TMPD/ref"

pids=()
start_server() { # start_server NAME [server args...]: sets $port
    local name=$1
    shift
    python3 "$comp/server.py" "$www" "$TMPD/$name.port" "$@" 2>"$TMPD/$name.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -s "$TMPD/$name.port" ] && break; sleep 0.05; done
    port=$(cat "$TMPD/$name.port")
}
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMPD"' EXIT
start_server http
base="http://127.0.0.1:$port"

reset_state() { rm -rf "$dest" "$HOME"/.openmv-sdk-* "$HOME/.cache"; }
install() { expect "$1" sdk install --version $V "${@:2}"; }
# Nothing at the destination, and no staging leftovers beside it.
nothing_at_dest() {
    if [ -e "$dest" ]; then fail "$dest exists"; else pass; fi
    if ls -A "$HOME" | grep -q 'staging\|manifest-\|\.old-'; then fail "leftovers: $(ls -A "$HOME")"; else pass; fi
}
# The installed tree is exactly the tarball's (byte for byte, links too).
same_tree() {
    local ref=${1:-$TMPD/ref}
    if diff -r --no-dereference -x .omvdev-manifest "$ref" "$dest" >"$TMPD/diff" 2>&1; then pass; else
        fail "tree differs: $(head -5 "$TMPD/diff")"
    fi
}
no_lock() { if ls -A "$HOME" | grep -q '\.lock$'; then fail "lock file left: $(ls -A "$HOME")"; else pass; fi; }
part_kept() { if [ -s "$cache/$TB.part" ]; then pass; else fail "no $cache/$TB.part"; fi; }
no_part() { if [ -e "$cache/$TB.part" ]; then fail "$cache/$TB.part is left"; else pass; fi; }

t "install from a loopback mirror"
install 0 --mirror "$base"
err_has "installed SDK $V in $dest"
same_tree
no_part
no_lock
[ "$(cat "$dest/sdk.version")" = $V ] && pass || fail "stamp"

t "rerun: already installed, no network (the mirror is a closed port)"
install 0 --mirror "http://127.0.0.1:1"
err_has "SDK $V is already installed in $dest"

t "sdk path / list / verify"
expect 0 sdk path --version $V
[ "$(cat "$out")" = "$dest" ] && pass || fail "sdk path"
expect 0 sdk list
out_has "$V"
out_has "$dest"
expect 0 sdk verify --version $V
out_has "0 missing, 0 changed"

t "verify finds an edited and a missing file, counts extras"
printf 'X' | dd of="$dest/README" bs=1 seek=3 conv=notrunc 2>/dev/null
rm "$dest/gcc/bin/arm-none-eabi-as"
: >"$dest/python/extra.pyc"
expect 1 sdk verify --version $V
out_has "changed  README: has changed content"
out_has "missing  gcc/bin/arm-none-eabi-as: is missing"
out_has "1 missing, 1 changed, 1 extra"
err_has "is damaged"
err_has "hint: reinstall it: omvdev sdk install --force --version $V"
expect 1 --json sdk verify --version $V
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["schema"]==1 and d["ok"] is False and d["missing"]==1 and d["changed"]==1, d' "$out" && pass || fail "verify --json"

ln -sfn elsewhere "$dest/python/bin/python3"
expect 1 sdk verify --version $V
out_has "changed  python/bin/python3: points elsewhere"
mv "$dest/.omvdev-manifest" "$TMPD/manifest"
expect 1 sdk verify --version $V
err_has "has no manifest (.omvdev-manifest)"
mv "$TMPD/manifest" "$dest/.omvdev-manifest"
expect 0 --json sdk list
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["schema"]==1 and any(s["version"]=="'$V'" for s in d["sdks"]), d' "$out" && pass || fail "list --json"

t "--force reinstalls over the damaged SDK"
install 0 --mirror "$base" --force
same_tree
expect 0 sdk verify --version $V

t "the manifest: version 2 (CRC-64 per file); an earlier omvdev's version 1 (SHA-256) still verifies"
head -1 "$dest/.omvdev-manifest" | grep -qx '# omvdev sdk manifest 2' && pass || fail "header"
grep '^f' "$dest/.omvdev-manifest" | grep -qvE '^f	[0-9a-f]{16}	[0-9]+	' && fail "f lines" || pass
cp "$dest/.omvdev-manifest" "$TMPD/manifest2"
python3 - "$dest" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
path = os.path.join(root, ".omvdev-manifest")
lines = open(path).read().split("\n")
out = ["# omvdev sdk manifest 1"]
for line in lines[1:]:
    f = line.split("\t")
    if f[0] == "f":
        f[1] = hashlib.sha256(open(os.path.join(root, f[3]), "rb").read()).hexdigest()
    out.append("\t".join(f))
open(path, "w").write("\n".join(out))
PY
expect 0 sdk verify --version $V
out_has "0 missing, 0 changed"
cp "$dest/README" "$TMPD/README"
printf 'X' | dd of="$dest/README" bs=1 seek=3 conv=notrunc 2>/dev/null
expect 1 sdk verify --version $V
out_has "changed  README: has changed content"
cp "$TMPD/README" "$dest/README"
sed -i '1s/.*/# omvdev sdk manifest 3/' "$dest/.omvdev-manifest"
expect 1 sdk verify --version $V
err_has "not an omvdev manifest"
cp "$TMPD/manifest2" "$dest/.omvdev-manifest"
expect 0 sdk verify --version $V

t "sdk env: upstream's PATH order, SDK_DIR"
expect 0 sdk env --version $V --shell bash
(eval "$(cat "$out")"; [ "$SDK_DIR" = "$dest" ] && case "$PATH" in "$dest/gcc/bin:$dest/llvm/bin:$dest/cmake/bin:$dest/python/bin:$dest/stcubeprog/bin:$dest/stedgeai/Utilities/linux:$dest/bin:$dest/make:"*) true ;; *) false ;; esac) && pass || fail "bash env: $(cat "$out")"
expect 0 sdk env --version $V --shell fish
if command -v fish >/dev/null; then
    fish -c "source $out; test \"\$SDK_DIR\" = '$dest'; and test \"\$PATH[1]\" = '$dest/gcc/bin'" && pass || fail "fish env"
fi

t "--json: newline-delimited events on stdout"
reset_state
install 0 --mirror "$base" --json
python3 - "$out" <<'PY' && pass || fail "json events"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
assert all(e["schema"] == 1 for e in events), events
assert any(e["event"] == "progress" for e in events), events
assert events[-1]["event"] == "installed" and events[-1]["already"] is False, events[-1]
PY

t "sdk remove"
expect 0 sdk remove $V
err_has "removed SDK $V"
nothing_at_dest
expect 1 sdk path --version $V
err_has "no SDK in $dest"

t "the version comes from the firmware repository's SDK_VERSION"
mkdir -p "$TMPD/fw/boards" "$TMPD/fw/ports" "$TMPD/fw/lib/micropython" && : >"$TMPD/fw/Makefile" && echo $V >"$TMPD/fw/SDK_VERSION"
expect 0 -C "$TMPD/fw" sdk install --mirror "$base"
err_has "installed SDK $V"
expect 0 -C "$TMPD/fw" sdk list
out_has "(needed here)"

# ---- faults ------------------------------------------------------------------

t "404"
reset_state
install 1 --mirror "$base/f/404"
err_has "error: HTTP 404 from $base/f/404/$TB"
err_has "hint: is SDK $V published"
nothing_at_dest
no_lock

t "a loopback mirror redirecting to plain http:// elsewhere: refused before connecting"
reset_state
install 2 --mirror "$base/f/tohost=192.0.2.1"
err_has "error: refusing plain http:// from 'http://192.0.2.1/$TB' (redirected from '$base/f/tohost=192.0.2.1/$TB'): nothing would protect the download"
err_has "hint: the mirror redirects to plain http://: use an https:// mirror, or pin the checksum"
nothing_at_dest
no_part
no_lock

t "a response header over libcurl's limit is named, not 'out of memory'"
reset_state
install 1 --mirror "$base/f/bighdr" --retries 0
err_has "error: the response from $base/f/bighdr/$TB has headers larger than libcurl accepts (100 KiB)"
if grep -qi "out of memory" "$err"; then fail "still 'out of memory'"; else pass; fi
nothing_at_dest

t "an SDK directory path too long for the system is named as such"
reset_state
long=$TMPD
while [ ${#long} -lt 4000 ]; do long=$long/$(printf 'd%.0s' $(seq 200)); done
long=$long/$(printf 'e%.0s' $(seq $((4058 - ${#long} - 1))))
[ ${#long} -eq 4058 ] && pass || fail "long path is ${#long}"
install 2 --mirror "$base" --dir "$long"
err_has "is 4058 characters long: too long for this system's paths"
err_has "hint: install into a shorter path: omvdev sdk install --dir D"
if grep -q "sdk.version stamp" "$err"; then fail "blames the stamp"; else pass; fi
[ -e "$TMPD/dddd" ] || [ -e "${long%/*}" ] && fail "created directories" || pass

t "500 once, then success (retried)"
reset_state
install 0 --mirror "$base/f/500x1" --retries 2
err_has "HTTP 500 from"
err_has "retrying"
same_tree

t "500 every time: bounded retries"
reset_state
install 1 --mirror "$base/f/500" --retries 2
err_has "error: HTTP 500 from $base/f/500/$TB"
nothing_at_dest

t "redirect"
reset_state
install 0 --mirror "$base/f/redirect"
same_tree

t "a redirect loop is bounded"
reset_state
install 1 --mirror "$base/f/loop"
err_has "redirects followed"
nothing_at_dest

t "network faults and a bad checksum leave a previous install intact"
reset_state
install 0 --mirror "$base"
for fault in trunc badsum 404; do
    install 1 --mirror "$base/f/$fault" --force --retries 0
    err_has "nothing was changed in $dest"
    same_tree
    if ls -A "$HOME" | grep -q 'staging\|manifest-\|\.old-'; then fail "leftovers: $(ls -A "$HOME")"; else pass; fi
done
expect 0 sdk verify --version $V

t "slow link; without a terminal, progress is a line per 10 %"
reset_state
install 0 --mirror "$base/f/slow"
same_tree
lines=$(grep -c '^omvdev: download  *[0-9]*% (' "$err")
[ "$lines" -ge 2 ] && [ "$lines" -le 10 ] && pass || fail "$lines progress lines"
grep '^omvdev: download' "$err" | awk '{print $3}' | tr -d '%' | sort -c -n -u && pass || fail "deciles not increasing"
err_has "omvdev: download 100% (323."

t "on a terminal, a progress bar on stderr"
if command -v script >/dev/null; then
    reset_state
    HOME=$HOME script -qec "$OMVDEV sdk install --version $V --mirror $base/f/slow" /dev/null >"$TMPD/tty.out" 2>&1 &&
        pass || fail "install on a pty: $(tail -3 "$TMPD/tty.out")"
    grep -q $'\r'"$V *download .*KiB/s" "$TMPD/tty.out" && pass || fail "no bar: $(head -c 400 "$TMPD/tty.out" | cat -v)"
    same_tree
fi

for fault in trunc reset shortlen longlen; do
    t "$fault: fails, keeps the part, the rerun resumes"
    reset_state
    install 1 --mirror "$base/f/$fault" --retries 0
    err_has "error: "
    err_has "nothing was changed in $dest"
    err_has "hint: run 'omvdev sdk install' again: it resumes from '$cache/$TB.part'"
    nothing_at_dest
    part_kept
    install 0 --mirror "$base"
    err_has "resuming after the"
    same_tree
    no_part
done

t "reset once: resumed within the same run"
reset_state
install 0 --mirror "$base/f/resetx1" --retries 2
err_has "retrying"
same_tree

t "stall: the stall timeout fires, the rerun resumes"
reset_state
install 1 --mirror "$base/f/stall" --retries 0 --stall-timeout 1
err_has "stalled"
nothing_at_dest
part_kept
install 0 --mirror "$base"
err_has "resuming after the"
same_tree

t "wrong checksum"
reset_state
install 1 --mirror "$base/f/badsum"
err_has "error: checksum mismatch for $TB: expected 0000000000000000"
err_has "hint: the download was discarded"
nothing_at_dest
no_part

t ".sha256 missing, then pinned"
reset_state
install 1 --mirror "$base/f/nosum"
err_has "error: no checksum at '$base/f/nosum/$TB.sha256' (HTTP 404)"
err_has "hint: pin the checksum instead: omvdev sdk install --sha256"
nothing_at_dest
install 0 --mirror "$base/f/nosum" --sha256 "$(cut -c1-64 "$www/$TB.sha256")"
same_tree

t ".sha256 malformed"
reset_state
install 1 --mirror "$base/f/junksum"
err_has "error: $base/f/junksum/$TB.sha256: checksum file"
nothing_at_dest
install 2 --mirror "$base" --sha256 nothex
err_has "'nothex' is not a SHA-256"
nothing_at_dest

t "server ignores Range: the rerun starts again cleanly"
reset_state
install 1 --mirror "$base/f/trunc" --retries 0
part_kept
install 0 --mirror "$base/f/norange"
err_has "the server sent the whole file again: starting the download again"
same_tree

t "file changed between attempts (If-Range): starts again, gets the new file"
reset_state
install 1 --mirror "$base/f/trunc" --retries 0
part_kept
cp "$www/$TB" "$TMPD/v1.tar.xz" && cp "$www/$TB.sha256" "$TMPD/v1.tar.xz.sha256"
python3 "$comp/mkarchive.py" good "$www/$TB" $V 2
mkdir -p "$TMPD/ref2" && tar -xJf "$www/$TB" --strip-components=1 -C "$TMPD/ref2"
install 0 --mirror "$base"
err_has "starting the download again"
same_tree "$TMPD/ref2"
cmp -s "$TMPD/ref/gcc/bin/arm-none-eabi-gcc" "$dest/gcc/bin/arm-none-eabi-gcc" && fail "old content" || pass
cp "$TMPD/v1.tar.xz" "$www/$TB" && cp "$TMPD/v1.tar.xz.sha256" "$www/$TB.sha256"

t "plain http:// to another host is refused; unsupported schemes too"
reset_state
install 2 --mirror "http://download.example.invalid/sdk"
err_has "refusing plain http:// from 'http://download.example.invalid/sdk/$TB'"
install 2 --url "ftp://127.0.0.1/$TB"
err_has "unsupported URL"
nothing_at_dest

t "file:// URL and --from"
reset_state
install 0 --url "file://$www/$TB"
same_tree
reset_state
install 0 --from "$www/$TB"
same_tree
reset_state
cp "$www/$TB" "$TMPD/lonely.tar.xz"
install 1 --from "$TMPD/lonely.tar.xz"
err_has "no checksum file '$TMPD/lonely.tar.xz.sha256'"
nothing_at_dest
install 1 --from "$TMPD/nonexistent.tar.xz"
err_has "error: cannot open '$TMPD/nonexistent.tar.xz': No such file or directory"
nothing_at_dest

t "--keep-download: a later install works offline"
reset_state
install 0 --mirror "$base" --keep-download
[ -s "$cache/$TB" ] && [ -s "$cache/$TB.sha256" ] && pass || fail "kept download"
cmp -s "$cache/$TB" "$www/$TB" && pass || fail "kept bytes"
rm -rf "$dest"
install 0 --mirror "http://127.0.0.1:1"
err_has "installing from $cache/$TB"
same_tree

t "a damaged kept download is dropped, not used again"
rm -rf "$dest"
printf 'X' | dd of="$cache/$TB" bs=1 seek=100 conv=notrunc 2>/dev/null
install 1 --mirror "http://127.0.0.1:1"
err_has "error: checksum mismatch for $TB"
if [ -e "$cache/$TB" ]; then fail "damaged kept download is still there"; else pass; fi
nothing_at_dest
install 0 --mirror "$base"
same_tree

t "[sdk] root, \$SDK_DIR and --dir choose the directory"
reset_state
expect 0 -c sdk.root="$TMPD/root" sdk install --version $V --mirror "$base"
[ "$(cat "$TMPD/root/openmv-sdk-$V/sdk.version" 2>/dev/null)" = $V ] && pass || fail "[sdk] root"
SDK_DIR="$TMPD/envsdk" expect 0 -c sdk.root="$TMPD/root" sdk install --version $V --mirror "$base"
[ "$(cat "$TMPD/envsdk/sdk.version" 2>/dev/null)" = $V ] && pass || fail "\$SDK_DIR"
expect 0 sdk install --version $V --dir "$TMPD/exact" --mirror "$base"
[ "$(cat "$TMPD/exact/sdk.version" 2>/dev/null)" = $V ] && pass || fail "--dir"
expect 0 sdk verify --dir "$TMPD/exact"
expect 0 sdk remove --dir "$TMPD/exact"
[ -e "$TMPD/exact" ] && fail "--dir not removed" || pass
expect 2 sdk remove
err_has "name a version or --dir D"
expect 1 sdk remove 9.9.9
err_has "no SDK in $HOME/openmv-sdk-9.9.9"
nothing_at_dest

t "leftovers of a killed install are cleaned up by the next one"
reset_state
mkdir -p "$HOME/.openmv-sdk-$V.staging-99999/gcc" "$HOME/.openmv-sdk-$V.old-99999"
: >"$HOME/.openmv-sdk-$V.manifest-99999"
install 0 --mirror "$base"
if ls -A "$HOME" | grep -q '99999'; then fail "leftovers stayed: $(ls -A "$HOME")"; else pass; fi
same_tree

t "a directory holding something else is not replaced without --force"
reset_state
mkdir -p "$dest" && echo mine >"$dest/notes.txt"
install 1 --mirror "$base"
err_has "error: '$dest' exists but holds no complete SDK"
err_has "hint: replace it: omvdev sdk install --force"
[ "$(cat "$dest/notes.txt")" = mine ] && pass || fail "notes.txt touched"

t "lock: a second install waits, then finds it installed"
reset_state
"$OMVDEV" sdk install --version $V --mirror "$base/f/slow,rate=200000" >"$TMPD/a.out" 2>"$TMPD/a.err" &
apid=$!
for _ in $(seq 100); do
    [ -e "$HOME/.openmv-sdk-$V.lock" ] && ! flock -n "$HOME/.openmv-sdk-$V.lock" true && break
    sleep 0.05
done
install 0 --mirror "$base"
wait $apid && pass || fail "first install: $(cat "$TMPD/a.err")"
err_has "waiting for another omvdev installing the same SDK"
err_has "SDK $V is already installed in $dest"
same_tree
no_lock

t "lock: two installs at once (--force) run one after the other, both succeed"
reset_state
for i in 1 2; do
    "$OMVDEV" sdk install --version $V --force --mirror "$base/f/slow,rate=400000" >"$TMPD/p$i.out" 2>"$TMPD/p$i.err" &
    eval "pid$i=\$!"
done
wait $pid1 && wait $pid2 && pass || fail "parallel installs: $(cat "$TMPD/p1.err" "$TMPD/p2.err")"
cat "$TMPD/p1.err" "$TMPD/p2.err" | grep -c "waiting for another omvdev" | grep -qx 1 && pass || fail "no one waited: $(cat "$TMPD/p1.err" "$TMPD/p2.err")"
same_tree
no_lock
expect 0 sdk verify --version $V

t "lock: after kill -9 of the holder the next install proceeds"
reset_state
"$OMVDEV" sdk install --version $V --mirror "$base/f/stall" >"$TMPD/k.out" 2>"$TMPD/k.err" &
kpid=$!
for _ in $(seq 100); do [ -s "$cache/$TB.part" ] && break; sleep 0.05; done
kill -9 $kpid
wait $kpid 2>/dev/null
ls -A "$HOME" | grep -q 'staging' && pass || fail "the killed install left no staging tree to test with"
install 0 --mirror "$base"
err_has "resuming after the"
if grep -q "waiting for another" "$err"; then fail "waited for a dead holder"; else pass; fi
same_tree
no_lock
if ls -A "$HOME" | grep -q 'staging\|trash\|manifest-\|\.old-'; then fail "leftovers stayed: $(ls -A "$HOME")"; else pass; fi

t "resume twice: the part grows over two broken runs, the third completes"
reset_state
install 1 --mirror "$base/f/trunc" --retries 0
s1=$(stat -c %s "$cache/$TB.part")
install 1 --mirror "$base/f/trunc" --retries 0
err_has "resuming after the"
s2=$(stat -c %s "$cache/$TB.part")
[ "$s2" -gt "$s1" ] && pass || fail "the part did not grow ($s1 -> $s2)"
nothing_at_dest
install 0 --mirror "$base"
same_tree
no_part
expect 0 sdk verify --version $V

t "Ctrl-C during a resume (the rest downloading while the part is decoded)"
reset_state
install 1 --mirror "$base/f/trunc" --retries 0
s1=$(stat -c %s "$cache/$TB.part")
"$OMVDEV" sdk install --version $V --mirror "$base/f/stall" >"$TMPD/r.out" 2>"$TMPD/r.err" &
rpid=$!
for _ in $(seq 100); do [ "$(stat -c %s "$cache/$TB.part")" -gt "$s1" ] && break; sleep 0.05; done
sleep 0.2
kill -INT $rpid
t0=$(date +%s)
wait $rpid
[ $? -eq 1 ] && pass || fail "exit status after SIGINT"
[ $(($(date +%s) - t0)) -le 5 ] && pass || fail "took $(($(date +%s) - t0)) s to stop"
grep -q "error: interrupted" "$TMPD/r.err" && pass || fail "no 'interrupted': $(cat "$TMPD/r.err")"
grep -q "resuming after the" "$TMPD/r.err" && pass || fail "did not resume: $(cat "$TMPD/r.err")"
[ "$(stat -c %s "$cache/$TB.part")" -gt "$s1" ] && pass || fail "the part did not keep the new bytes"
nothing_at_dest
no_lock
install 0 --mirror "$base"
same_tree
no_part

t "resume: a part that does not belong to the file fails the checksum and is dropped"
reset_state
install 1 --mirror "$base/f/trunc" --retries 0
printf 'XXXX' | dd of="$cache/$TB.part" bs=1 seek=2000 conv=notrunc 2>/dev/null
install 1 --mirror "$base"
err_has "error: "
nothing_at_dest
no_part
install 0 --mirror "$base"
same_tree

t "Ctrl-C: rolled back, the part is kept, the rerun resumes"
reset_state
"$OMVDEV" sdk install --version $V --mirror "$base/f/stall" >"$TMPD/c.out" 2>"$TMPD/c.err" &
cpid=$!
for _ in $(seq 100); do [ -s "$cache/$TB.part" ] && break; sleep 0.05; done
sleep 0.2
kill -INT $cpid
wait $cpid
[ $? -eq 1 ] && pass || fail "exit status after SIGINT"
grep -q "error: interrupted" "$TMPD/c.err" && pass || fail "no 'interrupted': $(cat "$TMPD/c.err")"
nothing_at_dest
part_kept
no_lock
install 0 --mirror "$base"
err_has "resuming after the"
same_tree
no_lock
if ls -A "$HOME" | grep -q 'trash\|staging'; then fail "the interrupted tree stayed: $(ls -A "$HOME")"; else pass; fi

# ---- TLS ------------------------------------------------------------------------

t "https with a test CA (--cacert), and an untrusted certificate"
tls=$TMPD/tls
mkdir -p "$tls"
(
    cd "$tls" &&
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
            -subj "/CN=omvdev test CA" &&
        openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" &&
        printf 'subjectAltName=IP:127.0.0.1\n' >ext.cnf &&
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
            -days 2 -extfile ext.cnf
) >"$TMPD/openssl.log" 2>&1 && pass || fail "openssl: $(tail -3 "$TMPD/openssl.log")"
start_server https --tls "$tls/srv.pem" "$tls/srv.key"
sbase="https://127.0.0.1:$port"
reset_state
install 1 --mirror "$sbase"
err_has "certificate"
err_has "hint: the server's certificate is not trusted; for a private CA: omvdev sdk install --cacert FILE"
nothing_at_dest
install 0 --mirror "$sbase" --cacert "$tls/ca.pem"
same_tree

t "https never follows a redirect to plain http"
reset_state
install 2 --mirror "$sbase/f/tohttp=${base##*:}" --cacert "$tls/ca.pem"
err_has "error: refusing plain http:// from '$base/$TB' (redirected from '$sbase/f/tohttp=${base##*:}/$TB'): a redirect never leaves https"
nothing_at_dest
no_lock

t "a refused entry while the rest of the download is still on its way: the entry is the cause"
# The reader decodes ahead of the parser; when the parser refuses an entry, the
# reader is waiting for bytes the slow server has not sent yet. The message must
# be the parser's, not "truncated xz stream" or a network error.
mkdir -p "$TMPD/www-abs"
python3 "$comp/mkarchive.py" abs-then-data "$TMPD/www-abs/$TB" $V 1 || fail "mkarchive abs-then-data"
python3 "$comp/server.py" "$TMPD/www-abs" "$TMPD/abs.port" 2>"$TMPD/abs.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$TMPD/abs.port" ] && break; sleep 0.05; done
reset_state
install 1 --mirror "http://127.0.0.1:$(cat "$TMPD/abs.port")/f/slow"
err_has "omvdev: error: absolute path '/tmp/omvdev-evil'"
err_lacks "truncated"
nothing_at_dest
if [ -e /tmp/omvdev-evil ]; then fail "/tmp/omvdev-evil was written"; else pass; fi
no_lock

finish
