#!/usr/bin/env python3
"""Check that every system file `make demo` used comes from a package it installs.

usage: demo-deps.py TRACE_DIR PACKAGE...

TRACE_DIR holds the per-process files of `strace -ff -z -s 4096 -e trace=openat,execve
-o TRACE_DIR/t make demo`. Every program the demo executed and every shared library (ELF
file) it opened under /usr, /bin, /sbin, /lib*, /etc or /opt is looked up with
`dpkg-query -S`. Other files it opened are data it reads when present (udev rules that
`doctor` inspects, openssl.cnf, locale aliases) and are not required; so are the plugins
the binutils load from every file in /usr/lib/bfd-plugins (LLVMgold when clang is
installed) and the libraries those plugins link, in the process that loaded them. Its package must be one of PACKAGE...
(the demo's own list), a package those depend on (Depends/Pre-Depends, transitively), or a
package a minimal Debian system always has (Essential: yes or Priority: required, with their
dependencies). A package that only a test list or a developer's machine brought in fails the
check, because a fresh machine running `make demo` would not have it.

Programs and libraries that no package owns fail too (from /usr/local or a manual install).
Exit status: 0 when everything is provided, 1 otherwise, 2 on bad usage.
"""

import os
import re
import subprocess
import sys

SYSTEM_PREFIXES = ("/usr/", "/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/",
                   "/etc/", "/opt/")
PLUGIN_DIRS = ("/usr/lib/bfd-plugins/", "/lib/bfd-plugins/")
LINE = re.compile(r'^(openat|execve)\((?:AT_FDCWD, |\d+, )?"((?:[^"\\]|\\.)*)"')


def plugin_libraries(plugin):
    """Real paths of the shared libraries PLUGIN links (ldd), PLUGIN included."""
    r = subprocess.run(["ldd", plugin], capture_output=True, text=True, check=False)
    libs = {os.path.realpath(plugin)}
    for m in re.finditer(r"=> (/\S+)", r.stdout):
        libs.add(os.path.realpath(m.group(1)))
    return libs


def traced_files(trace_dir):
    """(opened, executed): sets of absolute system paths found in the trace files."""
    opened, executed = set(), set()
    for name in os.listdir(trace_dir):
        libs, plugins = set(), set()
        with open(os.path.join(trace_dir, name), encoding="utf-8", errors="replace") as f:
            for line in f:
                m = LINE.match(line)
                if not m or not m.group(2).startswith(SYSTEM_PREFIXES):
                    continue
                path = os.path.normpath(m.group(2))
                if m.group(1) == "execve":
                    executed.add(path)
                elif path.startswith(PLUGIN_DIRS):
                    plugins.add(path)
                elif is_elf(path):
                    libs.add(path)
        optional = set().union(*(plugin_libraries(p) for p in plugins))
        opened |= {p for p in libs if os.path.realpath(p) not in optional}
    return opened, executed


def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def candidates(path):
    """The spellings dpkg may have recorded for PATH (merged /usr, symlinks)."""
    out = [path, os.path.realpath(path)]
    for p in list(out):
        for a, b in (("/usr/lib/", "/lib/"), ("/usr/bin/", "/bin/"), ("/usr/sbin/", "/sbin/"),
                     ("/usr/lib64/", "/lib64/")):
            if p.startswith(a):
                out.append(b + p[len(a):])
            elif p.startswith(b):
                out.append(a + p[len(b):])
    return list(dict.fromkeys(out))


def owners(paths):
    """{path: set of packages} for the paths dpkg knows; unknown paths are left out."""
    owned = {}
    paths = sorted(paths)
    for i in range(0, len(paths), 400):
        r = subprocess.run(["dpkg-query", "-S", "--"] + paths[i:i + 400], capture_output=True,
                           text=True, check=False)
        for line in r.stdout.splitlines():
            if line.startswith("diversion ") or ": " not in line:
                continue
            pkgs, path = line.split(": ", 1)
            owned.setdefault(path, set()).update(p.strip().split(":")[0] for p in pkgs.split(","))
    return owned


def package_db():
    """{package: (essential_or_required, [dependency alternatives])} and {virtual: [providers]}."""
    fmt = "${Package}\t${Status}\t${Essential}\t${Priority}\t${Depends}\t${Pre-Depends}\t${Provides}\n"
    r = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True, check=True)
    db, provides = {}, {}
    for line in r.stdout.splitlines():
        name, status, essential, priority, dep, predep, prov = line.split("\t")
        if not status.endswith(" installed"):
            continue
        deps = []
        for clause in filter(None, (c.strip() for c in (dep + "," + predep).split(","))):
            deps.append([re.split(r"[\s(:]", alt.strip())[0] for alt in clause.split("|")])
        db[name] = (essential == "yes" or priority == "required", deps)
        for p in filter(None, (re.split(r"[\s(]", x.strip())[0] for x in prov.split(","))):
            provides.setdefault(p, []).append(name)
    return db, provides


def closure(roots, db, provides):
    """Every installed package ROOTS pull in through Depends and Pre-Depends."""
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen or p not in db:
            continue
        seen.add(p)
        for alts in db[p][1]:
            for a in alts:
                installed = [a] if a in db else provides.get(a, [])
                if installed:
                    todo.extend(installed)
                    break
    return seen


def main(argv):
    if len(argv) < 3 or not os.path.isdir(argv[1]):
        print("usage: demo-deps.py TRACE_DIR PACKAGE...", file=sys.stderr)
        return 2
    listed = argv[2:]
    db, provides = package_db()
    base = closure([p for p, (req, _) in db.items() if req], db, provides)
    allowed = closure(listed, db, provides) | base
    opened, executed = traced_files(argv[1])
    spellings = {p: candidates(p) for p in opened | executed}
    owned = owners({c for cs in spellings.values() for c in cs})
    missing, unowned, bad = {}, [], 0
    for path in sorted(spellings):
        pkgs = set().union(*(owned.get(c, set()) for c in spellings[path]))
        if not pkgs:
            unowned.append(path)
            print(f"demo-deps: error: the demo uses '{path}', which no package provides",
                  file=sys.stderr)
            bad += 1
        elif not pkgs & allowed:
            missing.setdefault(" | ".join(sorted(pkgs)), []).append(path)
    for pkgs, paths in sorted(missing.items()):
        print(f"demo-deps: error: the demo uses {paths[0]}"
              f"{f' (and {len(paths) - 1} more)' if len(paths) > 1 else ''} from '{pkgs}',"
              " which the demo's package list does not install", file=sys.stderr)
        print(f"hint: add {pkgs.split(' | ')[0]} to PACKAGES in the Makefile", file=sys.stderr)
        bad += 1
    print(f"demo-deps: {len(executed)} programs and {len(opened)} libraries checked against "
          f"{len(listed)} listed packages ({len(allowed)} with their dependencies and the base "
          f"system): {'ok' if not bad else f'{bad} problems'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
