"""The loop the reframing scripts share (ethernet-to-wifi.py, ethernet-to-carrier.py).

rewrite(argv, linktypes, convert) reads the Ethernet capture argv[1] and
writes argv[2]/FRAMING.pcap for each FRAMING of argv[3:], in link type
linktypes[FRAMING], each frame turned into convert(data, index, framing).
convert may raise Refused(reason) to refuse the whole capture (exit 3).
Timestamps are kept.
"""
import sys

from scapy.all import PcapWriter, RawPcapReader


class Refused(Exception):
    """The capture has no equivalent in these framings."""


def rewrite(argv, linktypes, convert):
    src, outdir, framings = argv[1], argv[2], argv[3:]
    for framing in framings:
        if framing not in linktypes:
            sys.exit(f'unknown framing {framing}')
    writers = {}
    for framing in framings:
        writers[framing] = PcapWriter(f'{outdir}/{framing}.pcap', linktype=linktypes[framing], sync=False)
        writers[framing].write_header(None)
    reader = RawPcapReader(src)
    try:
        if reader.linktype != 1:
            sys.exit(f'{src}: not an Ethernet capture (link type {reader.linktype})')
        for i, (data, meta) in enumerate(reader):
            if len(data) < 14:
                continue
            usec = meta.usec // 1000 if getattr(reader, 'nano', False) else meta.usec
            for framing, out in writers.items():
                out.write_packet(convert(data, i, framing), sec=meta.sec, usec=usec)
    except Refused as why:
        sys.stderr.write(f'{why}\n')
        sys.exit(3)
    finally:
        reader.close()
    for out in writers.values():
        out.close()
