#!/usr/bin/env python3
"""A minimal TDS 7.4 login responder for the MS-SQL end-to-end test.

Microsoft SQL Server is not packaged in Debian, so the server side of the test
is this script; the clients are FreeTDS's tsql and impacket's TDS client.

By default it answers a PRELOGIN with "encryption not supported", so the
client sends its LOGIN7 outside TLS. With "off CERT KEY" it answers
"encryption off" as SQL Server does when encryption is available but not
forced: the TLS handshake runs inside PRELOGIN packets, the LOGIN7 alone
travels in TLS records, and everything after it in clear.

A SQL Server login's user and password are checked against the one account
given. A Windows login (integrated security: an NTLM NEGOTIATE in the LOGIN7)
gets an SSPI token with an NTLM CHALLENGE, and the client's SSPI packet's
NTLMv2 response is checked against the account's password. Either way the
answer is a LOGINACK or error 18456 ("Login failed"); after a login every SQL
batch gets an empty DONE.

usage: tds-server.py ADDRESS PORT USER PASSWORD [off CERT KEY]
"""
import hmac
import os
import socket
import ssl
import struct
import sys

address, port, account, secret = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
encryption_off = len(sys.argv) > 5 and sys.argv[5] == 'off'
TLS = None
if encryption_off:
    TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # SQL Server speaks TLS 1.2 inside TDS 7.x.
    TLS.maximum_version = ssl.TLSVersion.TLSv1_2
    TLS.load_cert_chain(sys.argv[6], sys.argv[7])


def packet(payload, kind=4):
    return struct.pack('>BBHHBB', kind, 1, 8 + len(payload), 0, 1, 0) + payload


def take(read, n):
    data = b''
    while len(data) < n:
        chunk = read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_packet(conn, read=None):
    read = read or conn.recv
    head = take(read, 8)
    if head is None:
        return None, None
    body = take(read, struct.unpack('>H', head[2:4])[0] - 8)
    return (head[0], body) if body is not None else (None, None)


def prelogin_response():
    # VERSION, ENCRYPTION (2: not supported, 0: off), INSTOPT and THREADID, in the order clients expect; then the terminator.
    options = [(0, struct.pack('>IH', 0x0F000000, 0)), (1, bytes([0 if encryption_off else 2])), (2, b'\x00'), (3, b'')]
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


def encrypted_login(conn):
    """The TLS handshake inside PRELOGIN packets, then the LOGIN7 read from the raw TLS records that follow."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = TLS.wrap_bio(incoming, outgoing, server_side=True)
    while True:
        kind, data = read_packet(conn)
        if kind != 0x12:
            return None, None
        incoming.write(data)
        try:
            tls.do_handshake()
            conn.sendall(packet(outgoing.read(), 0x12))
            break
        except ssl.SSLWantReadError:
            conn.sendall(packet(outgoing.read(), 0x12))

    def read_plain(n):
        while True:
            try:
                return tls.read(n)
            except ssl.SSLWantReadError:
                record = take(conn.recv, 5)
                if record is None:
                    return b''
                incoming.write(record + take(conn.recv, struct.unpack('>H', record[3:5])[0]))
    return read_packet(conn, read_plain)


def md4(data):
    """RFC 1320, for the NT hash: OpenSSL 3 keeps MD4 in its legacy provider only."""
    def rotl(x, n):
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF
    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    msg = data + b'\x80' + b'\x00' * ((55 - len(data)) % 64) + struct.pack('<Q', len(data) * 8)
    for i in range(0, len(msg), 64):
        x = struct.unpack('<16I', msg[i:i + 64])
        a, b, c, d = h
        for k in range(16):
            a, b, c, d = d, rotl((a + ((b & c) | (~b & d)) + x[k]) & 0xFFFFFFFF, (3, 7, 11, 19)[k % 4]), b, c
        for k in range(16):
            j = (k % 4) * 4 + k // 4
            a, b, c, d = d, rotl((a + ((b & c) | (b & d) | (c & d)) + x[j] + 0x5A827999) & 0xFFFFFFFF, (3, 5, 9, 13)[k % 4]), b, c
        for k in range(16):
            j = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[k]
            a, b, c, d = d, rotl((a + (b ^ c ^ d) + x[j] + 0x6ED9EBA1) & 0xFFFFFFFF, (3, 9, 11, 15)[k % 4]), b, c
        h = [(v + w) & 0xFFFFFFFF for v, w in zip(h, (a, b, c, d))]
    return struct.pack('<4I', *h)


def av_pair(av_id, value):
    return struct.pack('<HH', av_id, len(value)) + value


def ntlm_challenge(server_challenge):
    """An NTLM CHALLENGE ([MS-NLMP] 2.2.1.2) for domain TEST, with the target information NTLMv2 clients put in their blob."""
    target = ucs2('TEST')
    info = (av_pair(2, ucs2('TEST')) + av_pair(1, ucs2('SQL')) + av_pair(4, ucs2('test.lan')) + av_pair(3, ucs2('sql.test.lan'))
            + av_pair(7, struct.pack('<Q', 0)) + av_pair(0, b''))
    flags = 0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00010000 | 0x00080000 | 0x00800000 | 0x02000000 | 0x20000000 | 0x80000000
    head_len = 56
    return (b'NTLMSSP\x00' + struct.pack('<I', 2) + struct.pack('<HHI', len(target), len(target), head_len) + struct.pack('<I', flags)
            + server_challenge + b'\x00' * 8 + struct.pack('<HHI', len(info), len(info), head_len + len(target))
            + bytes([10, 0, 0x61, 0x4a, 0, 0, 0, 15]) + target + info)


def ntlm_field(message, at):
    length, _, offset = struct.unpack('<HHI', message[at:at + 8])
    return message[offset:offset + length]


def ntlmv2_ok(authenticate, server_challenge):
    """Whether an AUTHENTICATE's NTLMv2 response was made with the account's password."""
    nt = ntlm_field(authenticate, 20)
    domain, user = ntlm_field(authenticate, 28).decode('utf-16-le'), ntlm_field(authenticate, 36).decode('utf-16-le')
    if user.lower() != account.lower() or len(nt) <= 24:
        return False, user
    key = hmac.new(md4(ucs2(secret)), ucs2(user.upper() + domain), 'md5').digest()
    proof = hmac.new(key, server_challenge + nt[16:], 'md5').digest()
    return hmac.compare_digest(proof, nt[:16]), user


def windows_login(conn):
    """The NTLM exchange of a Windows login, in clear after the LOGIN7: CHALLENGE in an SSPI token, AUTHENTICATE in an SSPI packet."""
    server_challenge = os.urandom(8)
    challenge = ntlm_challenge(server_challenge)
    conn.sendall(packet(b'\xed' + struct.pack('<H', len(challenge)) + challenge))
    kind, authenticate = read_packet(conn)
    if kind != 0x11:
        return False, ''
    return ntlmv2_ok(authenticate, server_challenge)


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
        kind, login = encrypted_login(conn) if encryption_off else read_packet(conn)
        if kind != 0x10:
            continue
        if login[25] & 0x80:
            ok, user = windows_login(conn)
        else:
            user = field(login, 1).decode('utf-16-le')
            ok = user == account and reveal(field(login, 2)).decode('utf-16-le') == secret
        print('login', user, 'accepted' if ok else 'refused', flush=True)
        conn.sendall(packet(login_response(ok, user)))
        while ok:
            kind, _ = read_packet(conn)
            if kind is None:
                break
            conn.sendall(packet(b'\xfd' + struct.pack('<HHQ', 0, 0, 0)))
    except (OSError, ValueError, IndexError, struct.error, ssl.SSLError) as e:
        print('error', e, flush=True)
    finally:
        conn.close()
