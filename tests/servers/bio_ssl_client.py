#!/usr/bin/env python3
"""An HTTPS client that talks through OpenSSL's SSL BIO (BIO_f_ssl, made
by BIO_new_ssl_connect), as C programs written against the BIO API do:
its reads and writes never call SSL_read or SSL_write. Calls libssl and
libcrypto through ctypes (Python's own `ssl` module is not used). Sends
one GET with `Connection: close`, reads to the end and prints the status
line and the number of bytes received."""

import argparse
import ctypes
import sys

BIO_C_SET_CONNECT = 100
BIO_C_DO_STATE_MACHINE = 101


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    args = ap.parse_args()
    ssl = ctypes.CDLL("libssl.so.3")
    crypto = ctypes.CDLL("libcrypto.so.3")
    vp = ctypes.c_void_p
    ssl.TLS_client_method.restype = vp
    ssl.SSL_CTX_new.restype = vp
    ssl.SSL_CTX_new.argtypes = [vp]
    ssl.BIO_new_ssl_connect.restype = vp
    ssl.BIO_new_ssl_connect.argtypes = [vp]
    crypto.BIO_ctrl.restype = ctypes.c_long
    crypto.BIO_ctrl.argtypes = [vp, ctypes.c_int, ctypes.c_long, vp]
    crypto.BIO_write.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    crypto.BIO_read.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    crypto.BIO_free_all.argtypes = [vp]

    # A client context verifies nothing unless told to: the test server's
    # certificate is self-signed.
    ctx = ssl.SSL_CTX_new(ssl.TLS_client_method())
    bio = ssl.BIO_new_ssl_connect(ctx)
    target = ctypes.create_string_buffer(b"127.0.0.1:%d" % args.port)
    crypto.BIO_ctrl(bio, BIO_C_SET_CONNECT, 0, ctypes.cast(target, vp))
    if crypto.BIO_ctrl(bio, BIO_C_DO_STATE_MACHINE, 0, None) <= 0:
        sys.exit("TLS handshake through the SSL BIO failed")
    request = (
        "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
        % (args.path, args.port)
    ).encode()
    if crypto.BIO_write(bio, request, len(request)) != len(request):
        sys.exit("BIO_write failed")
    received = b""
    buf = ctypes.create_string_buffer(16384)
    while True:
        n = crypto.BIO_read(bio, buf, len(buf))
        if n <= 0:
            break
        received += buf.raw[:n]
    crypto.BIO_free_all(bio)
    head, _, body = received.partition(b"\r\n\r\n")
    print(head.split(b"\r\n")[0].decode(), len(body))


if __name__ == "__main__":
    main()
