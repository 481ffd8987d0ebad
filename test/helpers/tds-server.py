#!/usr/bin/env python3
"""A minimal TDS 7.4 login responder for the MS-SQL end-to-end test.

Microsoft SQL Server is not packaged in Debian, so the server side of the test
is this script; the client is FreeTDS's tsql. It answers a PRELOGIN with
"encryption not supported" (so the client sends its LOGIN7 outside TLS),
checks the LOGIN7's user and password against the one account given, and
answers with a LOGINACK or with error 18456 ("Login failed"), as SQL Server
does; after a login every SQL batch gets an empty DONE.

usage: tds-server.py ADDRESS PORT USER PASSWORD
"""
import socket
import struct
import sys

address, port, account, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def packet(payload):
    return struct.pack('>BBHHBB', 4, 1, 8 + len(payload), 0, 1, 0) + payload


def read_packet(conn):
    def take(n):
        data = b''
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data
    head = take(8)
    if head is None:
        return None, None
    body = take(struct.unpack('>H', head[2:4])[0] - 8)
    return (head[0], body) if body is not None else (None, None)


def prelogin_response():
    # VERSION (token 0) and ENCRYPTION (token 1) = 2, not supported; then the terminator.
    options = [(0, struct.pack('>IH', 0x0F000000, 0)), (1, bytes([2]))]
    table, data = b'', b''
    start = 5 * len(options) + 1
    for token, value in options:
        table += struct.pack('>BHH', token, start + len(data), len(value))
        data += value
    return table + b'\xff' + data


def ucs2(text):
    return text.encode('utf-16-le')


def login_response(ok, user):
    if ok:
        name = 'sniffwatch-test'
        body = struct.pack('>BI', 1, 0x74000004) + bytes([len(name)]) + ucs2(name) + bytes([15, 0, 0, 0])
        token = b'\xad' + struct.pack('<H', len(body)) + body
    else:
        message, server = ucs2("Login failed for user '%s'." % user), ucs2('test')
        body = struct.pack('<IBBH', 18456, 1, 14, len(message) // 2) + message + bytes([len(server) // 2]) + server + b'\x00' + struct.pack('<I', 1)
        token = b'\xaa' + struct.pack('<H', len(body)) + body
    return token + b'\xfd' + struct.pack('<HHQ', 0 if ok else 2, 0, 0)


def reveal(data):
    """SQL Server's password obfuscation undone: XOR 0xA5, then swap the nibbles."""
    return bytes(((b ^ 0xA5) >> 4 | ((b ^ 0xA5) & 0x0F) << 4) & 0xFF for b in data)


def field(login, index):
    offset, chars = struct.unpack('<HH', login[36 + 4 * index:40 + 4 * index])
    return login[offset:offset + 2 * chars]


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind((address, port))
listener.listen(8)
print('listening', flush=True)
while True:
    conn, _ = listener.accept()
    try:
        kind, _ = read_packet(conn)
        if kind != 0x12:
            continue
        conn.sendall(packet(prelogin_response()))
        kind, login = read_packet(conn)
        if kind != 0x10:
            continue
        user = field(login, 1).decode('utf-16-le')
        ok = user == account and reveal(field(login, 2)).decode('utf-16-le') == secret
        conn.sendall(packet(login_response(ok, user)))
        while ok:
            kind, _ = read_packet(conn)
            if kind is None:
                break
            conn.sendall(packet(b'\xfd' + struct.pack('<HHQ', 0, 0, 0)))
    except (OSError, ValueError, struct.error) as e:
        print('error', e, flush=True)
    finally:
        conn.close()
