#!/usr/bin/env python3
"""Write .dfu files for the tests, from the DFU 1.1 spec (appendix B) and ST's
UM0391 (DfuSe file format). Written for omvdev's tests, not taken from any tool.

  mkdfu.py plain OUT VID:PID PAYLOAD            plain DFU file (payload + suffix)
  mkdfu.py dfuse OUT VID:PID ADDR=FILE [...]    DfuSe file, one target (alt 0), one
                                                element per ADDR=FILE
  --corrupt-crc    flip the suffix CRC
"""
import struct
import sys
import zlib


def suffix(body, vid, pid, bcd_dfu):
    head = struct.pack("<HHHH3sB", 0xFFFF, pid, vid, bcd_dfu, b"UFD", 16)
    crc = zlib.crc32(body + head) ^ 0xFFFFFFFF  # DFU's CRC: no final XOR
    return head + struct.pack("<I", crc)


def main(argv):
    corrupt = "--corrupt-crc" in argv
    argv = [a for a in argv if a != "--corrupt-crc"]
    kind, out, ids = argv[0], argv[1], argv[2]
    vid, pid = (int(x, 16) for x in ids.split(":"))
    if kind == "plain":
        body = open(argv[3], "rb").read()
        data = body + suffix(body, vid, pid, 0x0100)
    else:
        elems = b""
        count = 0
        for spec in argv[3:]:
            addr, path = spec.split("=", 1)
            blob = open(path, "rb").read()
            elems += struct.pack("<II", int(addr, 0), len(blob)) + blob
            count += 1
        name = b"omvdev test".ljust(255, b"\0")
        target = struct.pack("<6sBI255sII", b"Target", 0, 1, name, len(elems), count) + elems
        prefix = struct.pack("<5sBIB", b"DfuSe", 1, 11 + len(target), 1)
        body = prefix + target
        data = body + suffix(body, vid, pid, 0x011A)
    if corrupt:
        data = data[:-4] + bytes(b ^ 0xFF for b in data[-4:])
    open(out, "wb").write(data)


main(sys.argv[1:])
