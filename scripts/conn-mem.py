#!/usr/bin/env python3
"""Resident memory per idle client connection, for any server on a port.

Opens N connections to 127.0.0.1:PORT, sends one PING on each and reads the
PONG, then reports the growth of the server's VmRSS divided by N, 0.5 s after the
replies and again at 4 s (once idle query buffers were given back).

Usage: scripts/conn-mem.py PORT PID [N]
"""
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    # One throw-away round so one-time allocations are not charged.
    warm = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
    for s in warm:
        s.sendall(b"PING\r\n")
    for s in warm:
        s.recv(16)
    for s in warm:
        s.close()
    time.sleep(0.5)
    before = rss_kib(pid)
    conns = []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        conns.append(s)
    for s in conns:
        s.sendall(b"PING\r\n")
    for s in conns:
        got = b""
        while not got.endswith(b"\r\n"):
            chunk = s.recv(16)
            if not chunk:
                raise RuntimeError("connection closed")
            got += chunk
        assert got == b"+PONG\r\n", got
    # Just after the reply, then once the server's cron has found the
    # connections idle (Redis 7.0 frees a query buffer idle over 2 s).
    waited = 0.0
    for settle in (0.5, 4.0):
        time.sleep(settle - waited)
        waited = settle
        after = rss_kib(pid)
        print(f"{n} connections, {settle} s after the replies: RSS {before} -> {after} KiB, "
              f"{(after - before) * 1024 / n:.0f} bytes per connection")
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
