import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readCapture } from '../../src/capture/reader.js';
import { decodeFrame } from '../../src/decode/decoder.js';
import { Packet } from '../../src/decode/packet.js';

// Which frames of a capture carry an IP packet, as tshark and as sniffwatch's
// decoder see them: comparing the two checks the decoding of every link,
// carrier and tunnel layer on captures made by other tools.

export function tsharkAvailable(): boolean {
  return spawnSync('tshark', ['--version']).status === 0;
}

/** Frame numbers in which tshark shows an IPv4 or IPv6 header (in the frames it read before any error in the file). */
export function tsharkIpFrames(path: string, options: readonly string[] = []): number[] {
  const r = spawnSync('tshark', ['-n', ...options, '-r', path, '-Y', 'ip || ipv6', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  assert.ok(r.status !== null, `tshark -r ${path} died (${r.signal ?? r.error?.message})`);
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

/**
 * Frame numbers in which sniffwatch reads an IPv4 or IPv6 header (or finds
 * one cut short, as tshark still shows it); null when the capture holds a
 * link type sniffwatch does not decode.
 */
export async function sniffwatchIpFrames(path: string): Promise<number[] | null> {
  const frames: number[] = [];
  const pkt = new Packet();
  let decoded = true;
  await readCapture(path, (f) => {
    if (!decodeFrame(f, pkt)) decoded = false;
    else if (pkt.ipVersion !== 0 || pkt.malformedLayer === 'ipv4' || pkt.malformedLayer === 'ipv6') frames.push(f.frameNo);
  });
  return decoded ? frames : null;
}
