#!/usr/bin/env python3
"""Small DNS helpers for the bench scripts, loopback only.

  dns.py respond PORT
      An upstream on 127.0.0.1:PORT: every A question gets 192.0.2.1,
      every AAAA 2001:db8::1 (TTL 300), anything else an empty answer.
  dns.py send HOST:PORT QPS SECONDS NAMES [BLOCKED SHARE]
      Sends A queries at QPS for SECONDS, names drawn from the file NAMES
      (one a line); with BLOCKED (a file) a SHARE of them from it instead.
      Reads and drops the answers; prints how many were sent to stderr.
"""
import random
import socket
import struct
import sys
import time


def respond(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    while True:
        q, addr = s.recvfrom(4096)
        if len(q) < 12:
            continue
        qid = struct.unpack(">H", q[:2])[0]
        end = 12
        while end < len(q) and q[end] != 0:
            end += q[end] + 1
        question = q[12:end + 5]
        qtype = struct.unpack(">H", q[end + 1:end + 3])[0] if end + 3 <= len(q) else 0
        answer = b""
        if qtype == 1:
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + bytes([192, 0, 2, 1])
        elif qtype == 28:
            answer = b"\xc0\x0c" + struct.pack(">HHIH", 28, 1, 300, 16) + bytes([0x20, 1, 0x0D, 0xB8] + [0] * 11 + [1])
        header = struct.pack(">HHHHHH", qid, 0x8180, 1, 1 if answer else 0, 0, 0)
        s.sendto(header + question + answer, addr)


def names_of(path):
    return [line.split()[-1] for line in open(path) if line.strip() and not line.startswith("#")]


def send(target, qps, seconds, names_path, blocked_path=None, share=0.0):
    host, port = target.rsplit(":", 1)
    names = names_of(names_path)
    blocked = names_of(blocked_path) if blocked_path else []
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    end, n = time.time() + seconds, 0
    while time.time() < end:
        pool = blocked if blocked and random.random() < share else names
        name = random.choice(pool)
        q = struct.pack(">HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
        q += b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
        s.sendto(q, (host, int(port)))
        n += 1
        time.sleep(1 / qps)
        try:
            while True:
                s.recv(4096)
        except BlockingIOError:
            pass
    print(n, file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1] == "respond":
        respond(int(sys.argv[2]))
    elif sys.argv[1] == "send":
        args = sys.argv[2:]
        send(args[0], float(args[1]), float(args[2]), args[3],
             args[4] if len(args) > 4 else None, float(args[5]) if len(args) > 5 else 0.0)
    else:
        sys.exit(__doc__)
