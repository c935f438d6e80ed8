#!/usr/bin/env python3
"""Run a command on a pseudo-terminal (stdin, stdout and stderr all the pty), type the
lines of $PTY_INPUT into it, copy what it prints to our stdout, and exit with its status.
Used to test what omvdev does when a person sits at a terminal."""
import os
import pty
import sys

pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
os.write(fd, os.environ.get("PTY_INPUT", "").encode())
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:  # EIO: the child closed the terminal
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8)
