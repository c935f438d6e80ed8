#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and script what a person at it does.

    console-pty.py [STEP...] -- COMMAND ARGS...

Steps run in order: 'sleep:S', 'send:TEXT' (Python escapes: \\x03 is Ctrl-C),
'wait:TEXT' (until the output has TEXT, at most 20 s), 'signal:NAME' (sent to the
command). The terminal starts in the usual cooked mode; when the command has exited,
the last line printed is 'termios restored' or 'termios changed', then 'exit N'
(128+signal when a signal ended it). Everything the command printed comes first."""
import os
import select
import signal
import subprocess
import sys
import termios
import time

sep = sys.argv.index("--")
steps, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
master, slave = os.openpty()
before = termios.tcgetattr(slave)
proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
out = bytearray()


def pump(seconds):
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([master], [], [], left)
        if r:
            try:
                out.extend(os.read(master, 65536))
            except OSError:
                return


for step in steps:
    kind, _, arg = step.partition(":")
    if kind == "sleep":
        pump(float(arg))
    elif kind == "send":
        os.write(master, arg.encode().decode("unicode_escape").encode("latin-1"))
    elif kind == "wait":
        end = time.monotonic() + 20
        while arg.encode() not in out and time.monotonic() < end and proc.poll() is None:
            pump(0.05)
    elif kind == "signal":
        proc.send_signal(getattr(signal, arg))
deadline = time.monotonic() + 20
while proc.poll() is None and time.monotonic() < deadline:
    pump(0.05)
if proc.poll() is None:
    proc.kill()
pump(0.2)
status = proc.wait()
after = termios.tcgetattr(slave)
sys.stdout.buffer.write(bytes(out))
print("\ntermios " + ("restored" if after == before else "changed"))
print("exit %d" % (128 - status if status < 0 else status))
