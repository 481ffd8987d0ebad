#!/usr/bin/python3
"""Sends first-hop redundancy messages on an interface with scapy.

usage: fhrp-speaker.py hsrp IFACE MAC IP STATE PRIORITY GROUP VIP SECONDS
         A Cisco HSRPv1 router's hellos, once a second for SECONDS: from the
         group's virtual MAC in Active state (16), from MAC otherwise; IP TTL 1,
         the default key, hello 3 s, hold 10 s.
       fhrp-speaker.py vrrp IFACE MAC IP VRID PRIORITY VIP COUNT
         COUNT VRRPv2 advertisements (one a second) as a hand-made forgery sends
         them: from MAC (not the virtual MAC), with scapy's default IP TTL 64.
"""
import sys
import time

from scapy.all import Ether, IP, UDP, sendp
from scapy.layers.hsrp import HSRP
from scapy.layers.vrrp import VRRP


def hsrp(iface, mac, ip, state, prio, group, vip, secs):
    state, prio, group = int(state), int(prio), int(group)
    src = "00:00:0c:07:ac:%02x" % group if state == 16 else mac
    frame = (
        Ether(src=src, dst="01:00:5e:00:00:02")
        / IP(src=ip, dst="224.0.0.2", ttl=1)
        / UDP(sport=1985, dport=1985)
        / HSRP(opcode=0, state=state, hellotime=3, holdtime=10, priority=prio, group=group, auth=b"cisco\0\0\0", virtualIP=vip)
    )
    end = time.time() + float(secs)
    while time.time() < end:
        sendp(frame, iface=iface, verbose=False)
        time.sleep(1)


def vrrp(iface, mac, ip, vrid, prio, vip, count):
    frame = Ether(src=mac, dst="01:00:5e:00:00:12") / IP(src=ip, dst="224.0.0.18") / VRRP(vrid=int(vrid), priority=int(prio), addrlist=[vip], ipcount=1)
    for _ in range(int(count)):
        sendp(frame, iface=iface, verbose=False)
        time.sleep(1)


if __name__ == "__main__":
    modes = {"hsrp": (hsrp, 8), "vrrp": (vrrp, 7)}
    if len(sys.argv) < 2 or sys.argv[1] not in modes or len(sys.argv) != 2 + modes[sys.argv[1]][1]:
        sys.exit(__doc__)
    fn, _ = modes[sys.argv[1]]
    fn(*sys.argv[2:])
