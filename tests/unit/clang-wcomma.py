#!/usr/bin/env python3
"""Every project source compiles under clang's -Wcomma without a warning.

The comma operator used to pick an exit status (`rc = (error(...), 3)`) hides
which value a statement yields; commands pick exit statuses from error codes
instead. This check keeps it that way: it replays each translation unit of
omvdev's own sources from the build's compile_commands.json through clang with
-fsyntax-only -Wcomma -Werror=comma.
"""
import json
import os
import shlex
import subprocess
import sys

build, source = sys.argv[1], os.path.realpath(sys.argv[2])
with open(os.path.join(build, "compile_commands.json")) as f:
    entries = json.load(f)
checked = failed = 0
for e in entries:
    path = os.path.realpath(os.path.join(e["directory"], e["file"]))
    rel = os.path.relpath(path, source)
    if rel.startswith("..") or rel.startswith("tests/") or "/gen/" in path:
        continue
    args = e.get("arguments") or shlex.split(e["command"])
    # the same flags, with clang in gcc's place and no object written
    cmd = ["clang"]
    skip = False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a == "-c":
            continue
        cmd.append(a)
    cmd += ["-fsyntax-only", "-Wcomma", "-Werror=comma", "-Wno-unknown-warning-option"]
    r = subprocess.run(cmd, cwd=e["directory"], capture_output=True, text=True)
    checked += 1
    if r.returncode != 0 and "comma" in r.stderr:
        failed += 1
        sys.stderr.write(r.stderr)
    elif r.returncode != 0:
        failed += 1
        sys.stderr.write("clang could not compile %s:\n%s" % (rel, r.stderr))
print("%d passed, %d failed" % (checked - failed, failed))
sys.exit(1 if failed or checked == 0 else 0)
