"""A server that answers hostile and malformed traffic, and sends hostile
responses, over raw sockets (no HTTP library that would refuse a request
before it could leak).

It reads one request per connection, as leniently as a careless server
would (the head up to its blank line, however long or malformed; a body by
its first Content-Length), answers according to the path, and closes. The
planted values come from a JSON file the test writes, so the test knows
every raw value and can check the sensor never repeats one.

Paths:
  /badchunk          chunked: a chunk with the leak, then a chunk-size line
                     that is not hex, then close
  /bigchunked/N      chunked: N chunks of 1 MiB, each written at once (so
                     the capture limit cuts it), then a last chunk with the
                     leak, then the end
  /download/N        N bytes of filler with Content-Length, 64 KiB writes
  /chunked-download/N  N bytes of filler, chunked in 1 MiB chunks, 64 KiB writes
  anything else      200 with a JSON body holding the leak
"""

import argparse
import json
import socket
import socketserver
import sys

MIB = 1 << 20
MAX_HEAD = 4 * MIB


def leak_body(values):
    return json.dumps(
        {"customer": {"ssn": values["ssn"], "card_number": values["card"]}}
    ).encode()


class Handler(socketserver.BaseRequestHandler):
    values = {}

    def read_request(self):
        sock = self.request
        data = b""
        while b"\r\n\r\n" not in data and b"\n\n" not in data:
            more = sock.recv(65536)
            if not more:
                return None, b""
            data += more
            if len(data) > MAX_HEAD:
                return None, b""
        end = data.find(b"\r\n\r\n")
        end = end + 4 if end >= 0 else data.find(b"\n\n") + 2
        head, rest = data[:end], data[end:]
        first = head.split(b"\n", 1)[0]
        parts = first.split(b" ")
        path = parts[1] if len(parts) > 1 else b"/"
        length = 0
        for line in head.split(b"\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip().split(b",")[0])
                except ValueError:
                    length = 0
                break
        while len(rest) < min(length, MAX_HEAD):
            more = sock.recv(65536)
            if not more:
                break
            rest += more
        return path, rest

    def handle(self):
        try:
            path, _ = self.read_request()
            if path is None:
                return
            self.answer(path)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def answer(self, path):
        sock = self.request
        leak = leak_body(self.values)
        if path.startswith(b"/badchunk"):
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n" % len(leak)
                + leak
                + b"\r\nZZZZ not a size\r\n"
            )
        elif path.startswith(b"/bigchunked/"):
            n = int(path.rsplit(b"/", 1)[1])
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            filler = b"x" * MIB
            for _ in range(n):
                sock.sendall(b"%x\r\n" % MIB + filler + b"\r\n")
            last = b"aws_access_key_id = " + self.values["aws_key_id"].encode() + b"\n"
            sock.sendall(b"%x\r\n" % len(last) + last + b"\r\n0\r\n\r\n")
        elif path.startswith(b"/download/"):
            n = int(path.rsplit(b"/", 1)[1])
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\n\r\n" % n
            )
            # 64 KiB writes: each is captured whole (the default capture
            # limit), so every byte goes through the ring buffer.
            filler = b"\0" * 65536
            while n > 0:
                sock.sendall(filler[: min(n, 65536)])
                n -= 65536
        elif path.startswith(b"/chunked-download/"):
            n = int(path.rsplit(b"/", 1)[1])
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            filler = b"\0" * MIB
            while n > 0:
                k = min(n, MIB)
                sock.sendall(b"%x\r\n" % k)
                for at in range(0, k, 65536):
                    sock.sendall(filler[at : min(k, at + 65536)])
                sock.sendall(b"\r\n")
                n -= k
            sock.sendall(b"0\r\n\r\n")
        else:
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(leak)
                + leak
            )
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--values", required=True)
    args = parser.parse_args()
    with open(args.values) as f:
        Handler.values = json.load(f)
    server = Server(("127.0.0.1", args.port), Handler)
    print("listening", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
