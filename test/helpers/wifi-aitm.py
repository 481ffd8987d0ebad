#!/usr/bin/python3
"""Writes monitor-mode (radiotap) captures of Wi-Fi evil-twin scenarios with scapy.

usage: wifi-aitm.py OUTDIR

twin.pcap    CorpWiFi from two WPA2 access points (roaming) and one WPA3-transition
             access point, plus an open copy of CorpWiFi from 02:00:00:00:66:66
karma.pcap   a station probing for five remembered networks, and 02:00:00:00:77:77
             answering every one of them (KARMA/MANA)
deauth.pcap  aireplay-ng style: 64 deauthentications claiming to come from
             CorpWiFi's access point 02:00:00:00:0a:01, to station 02:00:00:00:00:c1
clone.pcap   an open copy that clones CorpWiFi's BSSID 02:00:00:00:0a:01 (airbase-ng -a),
             and a WPA2 copy of 02:00:00:00:0a:02 on another channel
benign.pcap  several networks, a hidden one, roaming access points, a station
             probing, an access point dropping three stations and one moving
             to another channel
"""
import sys

from scapy.all import wrpcap
from scapy.layers.dot11 import (
    AKMSuite,
    Dot11,
    Dot11Beacon,
    Dot11Deauth,
    Dot11Disas,
    Dot11Elt,
    Dot11EltRSN,
    Dot11ProbeReq,
    Dot11ProbeResp,
    RadioTap,
    RSNCipherSuite,
)

BCAST = 'ff:ff:ff:ff:ff:ff'
AP1, AP2, AP3 = '02:00:00:00:0a:01', '02:00:00:00:0a:02', '02:00:00:00:0a:03'
TWIN, KARMA = '02:00:00:00:66:66', '02:00:00:00:77:77'
STATION = '02:00:00:00:00:c1'
T0 = 1_700_000_000.0


def rsn(*akms):
    return Dot11EltRSN(
        group_cipher_suite=RSNCipherSuite(cipher=4),
        pairwise_cipher_suites=[RSNCipherSuite(cipher=4)],
        akm_suites=[AKMSuite(suite=a) for a in akms],
    )


def advert(kind, bssid, ssid, protected, *extra, dst=BCAST, channel=6):
    cap = 'ESS+privacy' if protected else 'ESS'
    body = Dot11Beacon(cap=cap) if kind == 'beacon' else Dot11ProbeResp(cap=cap)
    frame = (
        RadioTap()
        / Dot11(type=0, subtype=8 if kind == 'beacon' else 5, addr1=dst, addr2=bssid, addr3=bssid)
        / body
        / Dot11Elt(ID='SSID', info=ssid)
        / Dot11Elt(ID='Rates', info=b'\x82\x84\x8b\x96')
        / Dot11Elt(ID='DSset', info=bytes([channel]))
    )
    for e in extra:
        frame = frame / e
    return frame


def probe(station, ssid):
    return RadioTap() / Dot11(type=0, subtype=4, addr1=BCAST, addr2=station, addr3=BCAST) / Dot11ProbeReq() / Dot11Elt(ID='SSID', info=ssid)


def deauth(bssid, station, reason):
    return RadioTap() / Dot11(type=0, subtype=12, addr1=station, addr2=bssid, addr3=bssid) / Dot11Deauth(reason=reason)


def at(frames):
    for i, (t, f) in enumerate(frames):
        f.time = T0 + t
    return [f for _, f in frames]


def corp_beacons(seconds):
    out = []
    for s in range(seconds):
        out.append((s + 0.00, advert('beacon', AP1, 'CorpWiFi', True, rsn(2))))
        out.append((s + 0.03, advert('beacon', AP2, 'CorpWiFi', True, rsn(2), channel=11)))
        out.append((s + 0.06, advert('beacon', AP3, 'CorpWiFi', True, rsn(2, 8), channel=36)))
    return out


def main():
    out = sys.argv[1]
    twin = corp_beacons(5) + [(s + 0.5, advert('beacon', TWIN, 'CorpWiFi', False, channel=1)) for s in range(2, 5)]
    wrpcap(f'{out}/twin.pcap', at(sorted(twin, key=lambda x: x[0])), linktype=127)

    names = ['Home', 'Airport_Free_WiFi', 'Hotel-Guest', 'CoffeeShop', 'eduroam']
    karma = corp_beacons(2)
    for i, n in enumerate(names):
        karma.append((0.2 + i * 0.2, probe(STATION, n)))
        karma.append((0.21 + i * 0.2, advert('probe', KARMA, n, False, dst=STATION)))
    wrpcap(f'{out}/karma.pcap', at(sorted(karma, key=lambda x: x[0])), linktype=127)

    flood = corp_beacons(2) + [(1.0 + i * 0.008, deauth(AP1, STATION, 7)) for i in range(64)]
    wrpcap(f'{out}/deauth.pcap', at(sorted(flood, key=lambda x: x[0])), linktype=127)

    clone = corp_beacons(4)
    for s in range(4):
        clone.append((s + 0.5, advert('beacon', AP1, 'CorpWiFi', False, channel=1)))
        clone.append((s + 0.6, advert('beacon', AP2, 'CorpWiFi', True, rsn(2), channel=3)))
    wrpcap(f'{out}/clone.pcap', at(sorted(clone, key=lambda x: x[0])), linktype=127)

    benign = corp_beacons(3)
    for s in range(4):
        benign.append((s + 0.7, advert('beacon', '02:00:00:00:0e:01', 'Office', True, rsn(2), channel=52 if s < 2 else 100)))
    for s in range(3):
        benign.append((s + 0.1, advert('beacon', '02:00:00:00:0b:01', 'Guest', False)))
        benign.append((s + 0.2, advert('beacon', '02:00:00:00:0b:02', 'Guest', False, channel=11)))
        benign.append((s + 0.3, advert('beacon', '02:00:00:00:0c:01', '', True, rsn(1))))
        benign.append((s + 0.4, advert('beacon', '02:00:00:00:0d:01', 'Lab', True, rsn(1))))
        benign.append((s + 0.45, advert('beacon', '02:00:00:00:0d:02', 'Lab-IoT', True, rsn(2))))
    benign.append((1.5, probe(STATION, 'CorpWiFi')))
    benign.append((1.51, advert('probe', AP1, 'CorpWiFi', True, rsn(2), dst=STATION)))
    for i, sta in enumerate(['02:00:00:00:00:d1', '02:00:00:00:00:d2', '02:00:00:00:00:d3']):
        benign.append((2.0 + i * 0.01, deauth(AP2, sta, 3)))
    benign.append((2.5, RadioTap() / Dot11(type=0, subtype=10, addr1=STATION, addr2=AP1, addr3=AP1) / Dot11Disas(reason=8)))
    wrpcap(f'{out}/benign.pcap', at(sorted(benign, key=lambda x: x[0])), linktype=127)


if __name__ == '__main__':
    main()
