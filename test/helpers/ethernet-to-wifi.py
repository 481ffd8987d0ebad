#!/usr/bin/python3
"""Rewrites an Ethernet capture as a monitor-mode Wi-Fi capture, with scapy.

usage: ethernet-to-wifi.py IN OUTDIR FRAMING...
FRAMING: radiotap, radiotap-fcs, ppi, prism, avs, bare, amsdu; OUTDIR/FRAMING.pcap is written for each.

Each Ethernet II frame becomes an 802.11 data frame of one infrastructure
network (BSSID 02:00:5e:00:53:ff) carrying the same payload behind LLC/SNAP,
with the same source and destination stations: frames alternate between
station-to-AP (To DS) and AP-to-station (From DS) addressing, and every third
one is a QoS data frame (with an HT control field under radiotap). `amsdu`
puts each frame in a one-subframe A-MSDU. Timestamps are kept. Frames that
are not Ethernet II (802.3 lengths) keep their LLC payload as it is. A
capture with 802.1Q/802.1ad-tagged frames, which Wi-Fi does not carry, is
refused with exit status 3.
"""
import struct
import sys

from reframe_pcap import Refused, rewrite
from scapy.all import raw
from scapy.layers.dot11 import Dot11, Dot11QoS, PrismHeader, RadioTap
from scapy.layers.l2 import LLC, SNAP
from scapy.layers.ppi import PPI, PPI_Hdr
from scapy.packet import Raw

BSSID = '02:00:5e:00:53:ff'
LINKTYPES = {'radiotap': 127, 'radiotap-fcs': 127, 'ppi': 192, 'prism': 119, 'avs': 163, 'bare': 105, 'amsdu': 127}


class EthernetFrame:
    """The captured bytes as they are (a dissect-and-rebuild would re-encode some payloads)."""

    def __init__(self, data):
        self.dst_bytes = data[0:6]
        self.src_bytes = data[6:12]
        self.dst = ':'.join(f'{b:02x}' for b in data[0:6])
        self.src = ':'.join(f'{b:02x}' for b in data[6:12])
        self.type = struct.unpack('>H', data[12:14])[0]
        self.payload = data[14:]


def body_of(eth):
    """LLC/SNAP + payload for an Ethernet II frame, the LLC payload for 802.3."""
    if eth.type >= 0x0600:
        return raw(LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=eth.type)) + eth.payload
    return eth.payload


def wifi_frame(eth, i, framing):
    to_ds = i % 2 == 0
    qos = framing == 'amsdu' or i % 3 == 0
    if to_ds:
        dot11 = Dot11(type=2, subtype=8 if qos else 0, FCfield='to-DS', addr1=BSSID, addr2=eth.src, addr3=eth.dst, SC=(i % 4096) << 4)
    else:
        dot11 = Dot11(type=2, subtype=8 if qos else 0, FCfield='from-DS', addr1=eth.dst, addr2=BSSID, addr3=eth.src, SC=(i % 4096) << 4)
    body = body_of(eth)
    if framing == 'amsdu':
        sub = eth.dst_bytes + eth.src_bytes + struct.pack('>H', len(body)) + body
        frame = dot11 / Dot11QoS(TID=0, A_MSDU_Present=1) / Raw(sub)
    elif qos:
        ht = framing == 'radiotap' and i % 2 == 1
        if ht:
            dot11.FCfield |= 0x80  # Order: an HT control field follows the QoS control field
            frame = dot11 / Dot11QoS(TID=5) / Raw(b'\x00\x00\x00\x00' + body)
        else:
            frame = dot11 / Dot11QoS(TID=5) / Raw(body)
    else:
        frame = dot11 / Raw(body)
    data = raw(frame)
    if framing in ('radiotap', 'amsdu'):
        return raw(RadioTap(present='Flags+Rate+Channel', Flags=0, Rate=2, ChannelFrequency=2437, ChannelFlags='2GHz+CCK') / Raw(data))
    if framing == 'radiotap-fcs':
        fcs = struct.pack('<I', __import__('zlib').crc32(data) & 0xFFFFFFFF)
        return raw(RadioTap(present='TSFT+Flags', mac_timestamp=i, Flags='FCS') / Raw(data + fcs))
    if framing == 'ppi':
        return raw(PPI(headers=[PPI_Hdr(pfh_type=2) / Raw(struct.pack('<QHHHHbbH', i, 0, 0, 2437, 0xA0, -40, -90, 0))], dlt=105) / Raw(data))
    if framing == 'prism':
        return raw(PrismHeader(len=144) / Raw(data))
    if framing == 'avs':
        # wlan-ng AVS header, version 1, 64 bytes, big-endian.
        return struct.pack('>II', 0x80211001, 64) + bytes(56) + data
    return data


def convert(data, i, framing):
    eth = EthernetFrame(data)
    if eth.type in (0x8100, 0x88A8, 0x9100):
        raise Refused('VLAN-tagged frames: no Wi-Fi equivalent')
    return wifi_frame(eth, i, framing)


if __name__ == '__main__':
    rewrite(sys.argv, LINKTYPES, convert)
