import assert from 'node:assert/strict';
import { newRawFrame } from '../../src/capture/frame.js';
import { LINKTYPE_ETHERNET } from '../../src/capture/linktypes.js';
import { decodeFrame } from '../../src/decode/decoder.js';
import { Packet } from '../../src/decode/packet.js';

// Decodes crafted bytes as one captured frame, the way the engine does.

export interface FrameMeta {
  linktype?: number;
  /** Bytes captured, when fewer than the frame's (a snapped capture). */
  caplen?: number;
  /** The frame's length on the wire, when `bytes` holds only what was captured of it. */
  origlen?: number;
  frameNo?: number;
  tsSec?: number;
  tsNsec?: number;
}

export function decodeBytes(bytes: Buffer, meta: FrameMeta = {}): Packet {
  const f = newRawFrame();
  f.data = bytes;
  f.caplen = meta.caplen ?? bytes.length;
  f.origlen = meta.origlen ?? bytes.length;
  f.linktype = meta.linktype ?? LINKTYPE_ETHERNET;
  f.frameNo = meta.frameNo ?? 1;
  f.tsSec = meta.tsSec ?? 0;
  f.tsNsec = meta.tsNsec ?? 0;
  const pkt = new Packet();
  assert.ok(decodeFrame(f, pkt), `link type ${f.linktype} not supported`);
  return pkt;
}
