#!/usr/bin/python3
"""Rewrites an Ethernet capture in carrier and WAN framings, with scapy.

usage: ethernet-to-carrier.py IN OUTDIR FRAMING...
OUTDIR/FRAMING.pcap is written for each FRAMING:

  mpls      each IPv4/IPv6 frame behind one MPLS label (EtherType 0x8847)
  mpls2     the same behind a two-label stack
  eompls    every frame carried whole in an Ethernet pseudowire (RFC 4448:
            two labels, control word) between two provider routers
  pppoe     each IPv4/IPv6 frame in a PPPoE session (EtherType 0x8864)
  ipip      each IPv4/IPv6 packet in IPv4 (protocol 4, or 41 for IPv6) between
            two tunnel endpoints, one per direction of each conversation
  pktap     every frame behind Apple's PKTAP header (link type 258)
  cmd       every frame with a Cisco MetaData header (TrustSec SGT 42)
  vntag     every frame with a VN-Tag (Cisco fabric extenders)
  etag      every frame with an 802.1BR E-Tag
  pbb       every frame whole inside 802.1ah provider backbone bridging
  ppp       link type 9: IP packets in PPP with HDLC-like framing
  ppp-hdlc  link type 50: IP packets in PPP in HDLC-like framing
  chdlc     link type 104: IP packets in Cisco HDLC
  nflog     link type 239: IP packets as Linux NFLOG logs them (other
            frames as the bridge family logs them, from the network header)

The IP-only link types keep every other frame too, so frame numbers match
the original: PPP carries it as a Bridging PDU (BCP), Cisco HDLC as
transparent bridging (0x6558), NFLOG under the bridge family. The pseudowire
label of eompls is 77 (Wireshark guesses whether a control word is there;
`-d mpls.label==77,pwethcw` tells it). Timestamps are kept.
"""
import struct
import sys

from reframe_pcap import rewrite
from scapy.all import raw
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP
from scapy.layers.l2 import Ether
from scapy.layers.ppp import HDLC, PPP, PPPoE
from scapy.packet import Raw

LINKTYPES = {
    'mpls': 1, 'mpls2': 1, 'eompls': 1, 'pppoe': 1, 'ipip': 1, 'cmd': 1, 'vntag': 1, 'etag': 1, 'pbb': 1,
    'pktap': 258, 'ppp': 9, 'ppp-hdlc': 50, 'chdlc': 104, 'nflog': 239,
}
PE_A = '02:00:5e:00:53:a1'
PE_B = '02:00:5e:00:53:b2'
PW_LABEL = 77
TUNNEL_A = '198.18.254.1'
TUNNEL_B = '198.18.254.2'
PPP_PROTOCOLS = {0x0800: 0x0021, 0x86DD: 0x0057}
PPP_BRIDGING_PDU = 0x0031
CHDLC_BRIDGING = 0x6558
# The header each switch framing puts between the MAC addresses and the frame's own EtherType.
SHIMS = {
    'cmd': struct.pack('>HBBHH', 0x8909, 1, 1, 0x0001, 42),
    'vntag': struct.pack('>HI', 0x8926, 0x80010002),
    'etag': struct.pack('>HHHH', 0x893F, 0x0000, 0x0005, 0x0000),
}
AF_INET, AF_INET6, NFPROTO_BRIDGE = 2, 10, 7
NFULA_PACKET_HDR, NFULA_PAYLOAD, NFULA_PREFIX = 1, 9, 10


def ether_type(data):
    return struct.unpack('>H', data[12:14])[0]


def l2(data, new_type, payload):
    """The frame's own MAC addresses with another EtherType and payload."""
    return data[0:12] + struct.pack('>H', new_type) + raw(payload)


def tlv(kind, value):
    """An NFLOG TLV in little-endian host order, padded to four bytes."""
    body = struct.pack('<HH', 4 + len(value), kind) + value
    return body + bytes(-len(body) % 4)


def nflog(family, hw_protocol, payload):
    """Header, packet header TLV (hardware protocol, hook), log prefix, then the network-layer packet."""
    hdr = struct.pack('>BBH', family, 0, 5)
    return hdr + tlv(NFULA_PACKET_HDR, struct.pack('>HBB', hw_protocol, 3, 0)) + tlv(NFULA_PREFIX, b'sniffwatch\x00') + tlv(NFULA_PAYLOAD, payload)


def pktap(frame):
    """struct pktap_header (108 bytes, little-endian): length, type 1 (packet), DLT 1 (Ethernet), interface en0."""
    hdr = struct.pack('<III24sIIIIi17s3xIHHi17s3x', 108, 1, 1, b'en0', 0, AF_INET, 0, 0, 4242, b'curl', 0, 6, 0, 4242, b'curl')
    assert len(hdr) == 108, len(hdr)
    return hdr + frame


def ipip(data, t):
    inner = data[14:]
    forward = inner[12:16] <= inner[16:20] if t == 0x0800 else inner[8:24] <= inner[24:40]
    src, dst = (TUNNEL_A, TUNNEL_B) if forward else (TUNNEL_B, TUNNEL_A)
    return l2(data, 0x0800, IP(src=src, dst=dst, proto=4 if t == 0x0800 else 41, ttl=63) / Raw(inner))


def carrier_frame(data, framing):
    t = ether_type(data)
    is_ip = t in PPP_PROTOCOLS
    payload = data[14:]
    if framing == 'mpls':
        return l2(data, 0x8847, MPLS(label=1000, s=1, ttl=64) / Raw(payload)) if is_ip else data
    if framing == 'mpls2':
        return l2(data, 0x8847, MPLS(label=2000, s=0, ttl=64) / MPLS(label=1000, s=1, ttl=64) / Raw(payload)) if is_ip else data
    if framing == 'eompls':
        pw = MPLS(label=3000, s=0, ttl=255) / MPLS(label=PW_LABEL, s=1, ttl=255) / Raw(bytes(4) + data)
        return raw(Ether(src=PE_A, dst=PE_B, type=0x8847) / pw)
    if framing == 'pppoe':
        return l2(data, 0x8864, PPPoE(sessionid=0x1234) / PPP(proto=PPP_PROTOCOLS[t]) / Raw(payload)) if is_ip else data
    if framing == 'ipip':
        return ipip(data, t) if is_ip else data
    if framing == 'pktap':
        return pktap(data)
    if framing in SHIMS:
        return data[0:12] + SHIMS[framing] + data[12:]
    if framing == 'pbb':
        return raw(Ether(src=PE_A, dst=PE_B, type=0x88E7)) + struct.pack('>I', 0x0000002A) + data
    if framing in ('ppp', 'ppp-hdlc'):
        if is_ip:
            return raw(HDLC(address=0xFF, control=0x03) / PPP(proto=PPP_PROTOCOLS[t]) / Raw(payload))
        return raw(HDLC(address=0xFF, control=0x03) / PPP(proto=PPP_BRIDGING_PDU) / Raw(b'\x00\x01' + data))
    if framing == 'chdlc':
        return b'\x0f\x00' + struct.pack('>H', t if is_ip else CHDLC_BRIDGING) + (payload if is_ip else data)
    if framing == 'nflog':
        return nflog(AF_INET if t == 0x0800 else AF_INET6 if is_ip else NFPROTO_BRIDGE, t, payload)
    raise ValueError(framing)


if __name__ == '__main__':
    rewrite(sys.argv, LINKTYPES, lambda data, _i, framing: carrier_frame(data, framing))
