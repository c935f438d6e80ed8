#!/usr/bin/env python3
"""A loopback HTTP(S) file server for the sdk component tests and the benchmark.

    server.py ROOT PORTFILE [--tls CERT KEY] [--rate BYTES_PER_SECOND]

Serves ROOT with ETag/Last-Modified, Range and If-Range. A path
/f/<tokens>/<file> serves <file> with faults; tokens are comma-separated and a
token may end in xN to hit only the first N requests for that path:

  trunc     announce the full length, send half, close
  reset     send half, then reset the connection (RST)
  stall     send half, then send nothing for 60 s
  slow      send in 2 KiB pieces, 2 ms apart
  404, 500  answer with that status
  redirect  302 to /<file> (without the faults)
  loop      302 to the same URL, forever
  tohttp=P  302 (for the tarball) to http://127.0.0.1:P/<file>
  tohost=H  302 (for the tarball) to http://H/<file> (H is never contacted by the tests)
  bighdr    a response header of 150 KB before the tarball
  shortlen  Content-Length 1000 bytes short (and only that much)
  longlen   Content-Length 1000 bytes long (then close)
  norange   ignore Range
  badsum    <file>.sha256 holds another digest
  nosum     <file>.sha256 is 404
  junksum   <file>.sha256 is not in sha256sum format
  rate=N    at most N bytes per second

Faults other than the *sum ones apply to the tarball, not to <file>.sha256.
"""
import hashlib
import http.server
import mmap
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
from email.utils import formatdate

counts = {}
counts_lock = threading.Lock()


etags = {}


def file_etag(path, st, data):
    key = (path, st.st_mtime_ns, st.st_size, st.st_ino)
    with counts_lock:
        if key not in etags:
            etags[key] = hashlib.sha256(data).hexdigest()[:20]
        return etags[key]


def hits(key):
    with counts_lock:
        counts[key] = counts.get(key, 0) + 1
        return counts[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root = "."
    rate = 0

    def log_message(self, fmt, *args):
        if os.environ.get("SERVER_LOG"):
            sys.stderr.write("server: " + fmt % args + "\n")

    def faults(self):
        parts = self.path.split("?")[0].split("/")
        if len(parts) >= 4 and parts[1] == "f":
            tokens, name = parts[2].split(","), "/".join(parts[3:])
        else:
            tokens, name = [], "/".join(parts[1:])
        n = hits(self.path)
        active = set()
        rate = self.rate
        for t in tokens:
            m = re.match(r"^(.*?)x(\d+)$", t)
            base = m.group(1) if m else t
            if m and n > int(m.group(2)):
                continue
            if base.startswith("rate="):
                rate = int(base[5:])
            else:
                active.add(base)
        return active, name, rate

    def send_status(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.close_connection = True
        active, name, rate = self.faults()
        if "loop" in active:
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            return
        if "redirect" in active:
            self.send_response(302)
            self.send_header("Location", "/" + name)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            return
        path = os.path.join(self.root, name)
        is_sum = name.endswith(".sha256")
        if is_sum:
            if "nosum" in active:
                return self.send_status(404, b"no\n")
            if "junksum" in active:
                return self.send_status(200, b"hello world\n")
            if "badsum" in active:
                return self.send_status(200, b"0" * 64 + b"  " + os.path.basename(name[:-7]).encode() + b"\n")
        else:
            for t in active:
                if t.startswith("tohttp=") or t.startswith("tohost="):
                    host = "127.0.0.1:" + t[7:] if t.startswith("tohttp=") else t[7:]
                    self.send_response(302)
                    self.send_header("Location", "http://%s/%s" % (host, name))
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return
            for code in ("404", "500"):
                if code in active:
                    return self.send_status(int(code), b"fault\n")
        try:
            f = open(path, "rb")
        except OSError:
            return self.send_status(404, b"not found\n")
        with f:
            self.send_file(f, path, name, active, rate, is_sum)

    def send_file(self, f, path, name, active, rate, is_sum):
        st = os.fstat(f.fileno())
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if st.st_size else b""
        mtime = st.st_mtime
        etag = '"%s"' % file_etag(path, st, data)
        lastmod = formatdate(mtime, usegmt=True)
        start = 0
        rng = self.headers.get("Range")
        if rng and not is_sum and "norange" not in active and rng.startswith("bytes="):
            if_range = self.headers.get("If-Range")
            if if_range is None or if_range in (etag, lastmod):
                first = rng[6:].split("-")[0]
                start = int(first) if first.isdigit() else 0
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % len(data))
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return
        body = memoryview(data)[start:]
        length = len(body)
        if not is_sum and "shortlen" in active:
            length = max(0, length - 1000)
            body = body[:length]
        if not is_sum and "longlen" in active:
            length += 1000
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(length))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", lastmod)
        self.send_header("Accept-Ranges", "bytes")
        if not is_sum and "bighdr" in active:
            self.send_header("X-Padding", "x" * 150000)
        self.send_header("Connection", "close")
        self.end_headers()
        if is_sum:
            self.wfile.write(body)
            return
        half = len(body) // 2
        if "trunc" in active:
            self.wfile.write(body[:half])
            self.wfile.flush()
            return
        if "reset" in active:
            self.wfile.write(body[:half])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if "stall" in active:
            self.wfile.write(body[:half])
            self.wfile.flush()
            time.sleep(60)
            return
        try:
            if not active and not rate:
                # As a production server does: the kernel copies the file to
                # the socket, so that the benchmark's unthrottled case does not
                # time this script.
                self.wfile.flush()
                self.connection.sendfile(f, start, length)
                return
            self.send_body(body, rate, "slow" in active)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def send_body(self, body, rate, slow):
        view = memoryview(body)
        if slow:
            for i in range(0, len(view), 2048):
                self.wfile.write(view[i:i + 2048])
                self.wfile.flush()
                time.sleep(0.002)
            return
        if not rate:
            self.wfile.write(view)
            return
        t0 = time.monotonic()
        sent = 0
        piece = max(1024, rate // 100)
        while sent < len(view):
            self.wfile.write(view[sent:sent + piece])
            sent += min(piece, len(view) - sent)
            ahead = sent / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)


def main():
    args = sys.argv[1:]
    root, portfile = args[0], args[1]
    tls = None
    if "--tls" in args:
        i = args.index("--tls")
        tls = (args[i + 1], args[i + 2])
    if "--rate" in args:
        Handler.rate = int(args[args.index("--rate") + 1])
    Handler.root = root
    http.server.ThreadingHTTPServer.daemon_threads = True
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls[0], tls[1])
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % httpd.server_address[1])
    os.rename(portfile + ".tmp", portfile)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
