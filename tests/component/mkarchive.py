#!/usr/bin/env python3
"""Make SDK tarballs for the tests: a small good one, and hostile ones.

    mkarchive.py CASE OUT.tar.xz VERSION [SEED]

The good tree is openmv-sdk-<VERSION>-linux-x86_64/ with sdk.version, a few
binaries (random bytes), a symlink and a hardlink. Each other CASE changes
one thing (see CASES). Compressed like upstream (xz -3) in small blocks on
two threads, so the stream has many blocks, and a .sha256 is written beside.
"""
import hashlib
import io
import os
import random
import subprocess
import sys
import tarfile

CASES = ["good", "abs", "abs-then-data", "dotdot", "symlink-escape", "symlink-abs", "symlink-through", "hardlink-escape",
         "hardlink-abs", "device",
         "fifo", "setuid", "two-top", "no-stamp", "wrong-stamp", "truncated-xz", "garbage",
         "bomb", "not-tar", "dup", "mode000"]


def add_file(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1700000000
    tar.addfile(info, io.BytesIO(data))


def add_special(tar, name, kind, target="", mode=0o755):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.mode = mode
    info.mtime = 1700000000
    tar.addfile(info)


def build(case, version, seed):
    rnd = random.Random(seed)
    top = "openmv-sdk-%s-linux-x86_64" % version
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        add_special(tar, top, tarfile.DIRTYPE)
        for d in ("gcc", "gcc/bin", "python", "python/bin", "bin", "make"):
            add_special(tar, "%s/%s" % (top, d), tarfile.DIRTYPE)
        gcc = rnd.randbytes(200000)
        add_file(tar, top + "/gcc/bin/arm-none-eabi-gcc", gcc, 0o755)
        add_file(tar, top + "/gcc/bin/arm-none-eabi-as", gcc[:50000] * 3, 0o755)
        add_file(tar, top + "/python/bin/python3.12", b"#!/bin/sh\necho python\n" * 400, 0o755)
        add_special(tar, top + "/python/bin/python3", tarfile.SYMTYPE, "python3.12")
        add_special(tar, top + "/bin/gcc", tarfile.SYMTYPE, "../gcc/bin/arm-none-eabi-gcc")
        add_special(tar, top + "/make/make", tarfile.LNKTYPE, top + "/python/bin/python3.12")
        add_file(tar, top + "/README", b"OpenMV SDK %s\n" % version.encode())
        if case == "abs":
            add_file(tar, "/tmp/omvdev-evil", b"evil\n")
        elif case == "abs-then-data":
            # refused early, with 2 MB still to come (incompressible)
            add_file(tar, "/tmp/omvdev-evil", b"evil\n")
            add_file(tar, top + "/gcc/bin/more", rnd.randbytes(2 << 20), 0o755)
        elif case == "dotdot":
            add_file(tar, top + "/../omvdev-evil", b"evil\n")
        elif case == "symlink-escape":
            add_special(tar, top + "/esc", tarfile.SYMTYPE, "../..")
            add_file(tar, top + "/esc/omvdev-evil", b"evil\n")
        elif case == "symlink-abs":
            add_special(tar, top + "/esc", tarfile.SYMTYPE, "/tmp")
            add_file(tar, top + "/esc/omvdev-evil", b"evil\n")
        elif case == "symlink-through":
            add_special(tar, top + "/lnk", tarfile.SYMTYPE, "gcc")
            add_file(tar, top + "/lnk/omvdev-evil", b"evil\n")
        elif case == "hardlink-abs":
            add_special(tar, top + "/passwd", tarfile.LNKTYPE, "/etc/passwd")
        elif case == "hardlink-escape":
            add_special(tar, top + "/passwd", tarfile.LNKTYPE, "../../etc/passwd")
        elif case == "device":
            info = tarfile.TarInfo(top + "/bin/null")
            info.type = tarfile.CHRTYPE
            info.devmajor, info.devminor = 1, 3
            tar.addfile(info)
        elif case == "fifo":
            add_special(tar, top + "/bin/fifo", tarfile.FIFOTYPE, mode=0o644)
        elif case == "setuid":
            add_file(tar, top + "/bin/su", b"#!/bin/sh\n", 0o4755)
        elif case == "two-top":
            add_file(tar, "other-dir/file", b"x\n")
        elif case == "dup":
            # listed twice: tar keeps the later one; so must the SDK and its manifest
            add_file(tar, top + "/README", b"the later README wins\n")
            add_file(tar, top + "/python/bin/python3.12", b"#!/bin/sh\necho later\n", 0o755)
            add_special(tar, top + "/gcc", tarfile.DIRTYPE)
            add_special(tar, top + "/python/bin/python3", tarfile.SYMTYPE, "python3.12")
        elif case == "mode000":
            add_file(tar, top + "/locked", b"nobody may read me\n", 0o000)
            add_special(tar, top + "/closed", tarfile.DIRTYPE, mode=0o000)
            add_file(tar, top + "/closed/inside", b"inside a mode-000 directory\n", 0o644)
        elif case == "bomb":
            add_file(tar, top + "/zeros", bytes(64 << 20))
        if case not in ("no-stamp",):
            stamp = "1.5.0" if case == "wrong-stamp" else version
            add_file(tar, top + "/sdk.version", (stamp + "\n").encode())
    data = buf.getvalue()
    if case == "not-tar":
        data = rnd.randbytes(20000)
    xz = subprocess.run(["xz", "-3", "-T2", "--block-size=65536", "-c"], input=data,
                        stdout=subprocess.PIPE, check=True).stdout
    if case == "truncated-xz":
        xz = xz[: len(xz) * 2 // 3]
    elif case == "garbage":
        xz += b"this is not xz data at all\n"
    return xz


def main():
    case, out, version = sys.argv[1], sys.argv[2], sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    if case not in CASES:
        sys.exit("mkarchive: unknown case %s (one of %s)" % (case, ", ".join(CASES)))
    data = build(case, version, seed)
    with open(out, "wb") as f:
        f.write(data)
    with open(out + ".sha256", "w") as f:
        f.write("%s  %s\n" % (hashlib.sha256(data).hexdigest(), os.path.basename(out)))


if __name__ == "__main__":
    main()
