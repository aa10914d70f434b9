#!/usr/bin/python3
"""bench/idle.py — hold N idle HTTP/1.1 keep-alive connections open.

Used by bench/run to measure a server's memory per idle connection: it
opens N connections to HOST:PORT (a bounded number in flight at a time, so
the listen backlog never overflows), sends one keep-alive GET on each and
reads the whole response, so every connection has been through a real
request and sits idle in keep-alive. Then it prints `ready OK FAILED` and
holds the sockets until stdin is closed (or a line arrives), and exits.

    bench/idle.py 127.0.0.1 8080 10000 /hello.txt
"""
import selectors
import socket
import sys
import time

IN_FLIGHT = 256
TIMEOUT = 60.0


def response_done(buf):
    """True once buf holds a full response with a Content-Length body."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return len(buf) >= end + 4 + length


def open_all(host, port, n, path):
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (path, host, port)).encode()
    sel = selectors.DefaultSelector()
    held, failed, started = [], 0, 0
    pending = {}
    deadline = time.time() + TIMEOUT
    while (started < n or pending) and time.time() < deadline:
        while started < n and len(pending) < IN_FLIGHT:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex((host, port))
            pending[s] = [b"", False]
            sel.register(s, selectors.EVENT_WRITE)
            started += 1
        for key, ev in sel.select(timeout=1.0):
            s = key.fileobj
            state = pending[s]
            try:
                if not state[1]:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, "connect")
                    s.send(req)
                    state[1] = True
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                chunk = s.recv(65536)
                if not chunk:
                    raise OSError("closed by server")
                state[0] += chunk
                if response_done(state[0]):
                    sel.unregister(s)
                    del pending[s]
                    held.append(s)
            except OSError:
                sel.unregister(s)
                del pending[s]
                s.close()
                failed += 1
    for s in list(pending):
        s.close()
        failed += 1
    return held, failed + (n - started)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: bench/idle.py HOST PORT N PATH")
    host, port, n, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    held, failed = open_all(host, port, n, path)
    print("ready %d %d" % (len(held), failed), flush=True)
    sys.stdin.readline()
    alive = 0
    for s in held:   # count the ones the server kept open while we waited
        try:
            s.setblocking(False)
            alive += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
        s.close()
    print("closed %d %d" % (len(held), alive), flush=True)


if __name__ == "__main__":
    main()
