import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRawFrame } from '../../src/capture/frame.js';
import { LINKTYPE_ETHERNET } from '../../src/capture/linktypes.js';
import { tcpFrame, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TcpConversation, type TcpEndpoint } from '../../src/craft/frames.js';
import { decodeFrame } from '../../src/decode/decoder.js';
import { Packet } from '../../src/decode/packet.js';
import { TcpReassembler, type CloseReason, type ReassemblerOptions, type TcpFlow } from '../../src/analyzers/tcp/reassembly.js';

// The reassembler alone, fed crafted frames through the real decoder.

const CLIENT: TcpEndpoint = { mac: '02:00:00:00:00:10', ip: '198.18.0.10', port: 40000 };
const SERVER: TcpEndpoint = { mac: '02:00:00:00:00:01', ip: '198.18.0.1', port: 21 };
const PSH = TCP_ACK | TCP_PSH;

interface Seen {
  /** Bytes delivered per direction, as text. */
  client: string;
  server: string;
  gaps: { fromClient: boolean; skipped: number }[];
  closes: { flow: TcpFlow; reason: CloseReason }[];
  flows: Set<TcpFlow>;
  roles: string[];
}

function harness(opts: Partial<ReassemblerOptions<unknown>> = {}): { r: TcpReassembler; seen: Seen; feed: (frames: { t: number; frame: Buffer }[] | Buffer, t?: number) => void } {
  const seen: Seen = { client: '', server: '', gaps: [], closes: [], flows: new Set(), roles: [] };
  const r = new TcpReassembler({
    onData: (flow, fromClient, buf, start, end) => {
      seen.flows.add(flow);
      const s = buf.toString('latin1', start, end);
      if (fromClient) seen.client += s;
      else seen.server += s;
      const role = `${flow.clientEndpoint()}>${flow.serverEndpoint()}`;
      if (!seen.roles.includes(role)) seen.roles.push(role);
    },
    onGap: (_flow, fromClient, skipped) => seen.gaps.push({ fromClient, skipped }),
    onClose: (flow, reason) => seen.closes.push({ flow, reason }),
    hashSeed: 1,
    ...opts,
  });
  const pkt = new Packet();
  const raw = newRawFrame();
  const feedOne = (frame: Buffer, t: number): void => {
    raw.data = frame;
    raw.offset = 0;
    raw.caplen = raw.origlen = frame.length;
    raw.linktype = LINKTYPE_ETHERNET;
    raw.tsSec = Math.floor(t);
    raw.tsNsec = Math.round((t - Math.floor(t)) * 1e9);
    raw.frameNo++;
    assert.ok(decodeFrame(raw, pkt));
    r.handle(pkt);
  };
  const feed = (frames: { t: number; frame: Buffer }[] | Buffer, t = 0): void => {
    if (Buffer.isBuffer(frames)) feedOne(frames, t);
    else for (const f of frames) feedOne(f.frame, f.t);
  };
  return { r, seen, feed };
}

/** A data segment from the client with an explicit sequence number. */
function clientSeg(seq: number, data: string, flags = PSH): Buffer {
  return tcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, CLIENT.port, SERVER.port, seq, 5001, flags, Buffer.from(data, 'latin1'));
}

function serverSeg(seq: number, data: string, ack: number, flags = PSH): Buffer {
  return tcpFrame(SERVER.mac, CLIENT.mac, SERVER.ip, CLIENT.ip, SERVER.port, CLIENT.port, seq, ack, flags, Buffer.from(data, 'latin1'));
}

test('in-order data both ways, roles from the SYN, FIN both ways closes and frees the flow', () => {
  const { r, seen, feed } = harness();
  const c = new TcpConversation({ ...CLIENT, port: 50000 }, { ...SERVER, port: 60000 }).handshake();
  c.server('220 ready\r\n').client('USER alice\r\n').server('331 pass\r\n').client('PASS x\r\n').close();
  feed(c.frames);
  assert.equal(seen.client, 'USER alice\r\nPASS x\r\n');
  assert.equal(seen.server, '220 ready\r\n331 pass\r\n');
  // Both ports are high: only the SYN can tell which side is the client.
  assert.deepEqual(seen.roles, ['198.18.0.10:50000>198.18.0.1:60000']);
  assert.deepEqual(seen.closes.map((x) => x.reason), ['fin']);
  assert.equal(r.size, 0);
  assert.equal(r.bufferedBytes, 0);
});

test('roles come from the SYN-ACK when the SYN was missed, and from the well-known port mid-stream', () => {
  {
    const { seen, feed } = harness();
    const c = new TcpConversation({ ...CLIENT, port: 50000 }, { ...SERVER, port: 60000 }).handshake();
    c.client('hello\r\n');
    feed(c.frames.slice(1));
    assert.deepEqual(seen.roles, ['198.18.0.10:50000>198.18.0.1:60000']);
    assert.equal(seen.client, 'hello\r\n');
  }
  {
    const { seen, feed } = harness();
    // First packet seen is the server's answer: port 21 is the server's.
    feed(serverSeg(9000, '220 hi\r\n', 100));
    feed(clientSeg(100, 'USER bob\r\n'));
    assert.deepEqual(seen.roles, ['198.18.0.10:40000>198.18.0.1:21']);
    assert.equal(seen.server, '220 hi\r\n');
    assert.equal(seen.client, 'USER bob\r\n');
  }
});

test('out-of-order segments are buffered and delivered in sequence order', () => {
  const { r, seen, feed } = harness();
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  feed(c.frames);
  const base = c.clientSeq;
  feed(clientSeg(base + 6, 'world '));
  feed(clientSeg(base + 12, 'again'));
  assert.equal(seen.client, '');
  assert.equal(r.bufferedBytes, 11);
  feed(clientSeg(base, 'hello '));
  assert.equal(seen.client, 'hello world again');
  assert.equal(r.bufferedBytes, 0);
});

test('overlaps are resolved first-wins: retransmissions cannot rewrite delivered or buffered bytes', () => {
  const { seen, feed, r } = harness();
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  feed(c.frames);
  const base = c.clientSeq;
  feed(clientSeg(base, 'AAAA'));
  // Retransmission of delivered bytes with different content, extending by two new bytes.
  feed(clientSeg(base + 2, 'XXYY'));
  assert.equal(seen.client, 'AAAAYY');
  // Buffered future segment, then an in-order segment covering it with different bytes.
  feed(clientSeg(base + 8, 'CCCC'));
  feed(clientSeg(base + 6, 'ZZZZZZZZ'));
  assert.equal(seen.client, 'AAAAYYZZCCCCZZ');
  assert.equal(r.bufferedBytes, 0);
  assert.ok(r.stats.overlapsTrimmed >= 2);
});

test('overlap details: the buffered bytes win over a later in-order segment that covers them', () => {
  const { seen, feed } = harness();
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  feed(c.frames);
  const base = c.clientSeq;
  feed(clientSeg(base + 4, 'BBBB')); // buffered [4,8)
  feed(clientSeg(base, '00001111222')); // in order [0,11): [4,8) already supplied by the buffered segment
  assert.equal(seen.client, '0000BBBB222');
  // A keep-alive probe (one old byte) and a zero-length segment deliver nothing.
  feed(clientSeg(base + 10, 'k'));
  feed(clientSeg(base + 11, ''));
  assert.equal(seen.client, '0000BBBB222');
});

test('sequence numbers wrap around 2^32', () => {
  const { seen, feed } = harness();
  const c = new TcpConversation(CLIENT, SERVER, { clientIsn: 0xfffffff8 }).handshake();
  feed(c.frames);
  const base = c.clientSeq; // 0xfffffff9
  feed(clientSeg(base + 10, 'KLMNOP')); // past the wrap, out of order
  feed(clientSeg(base, 'ABCDEFGHIJ')); // crosses the wrap
  assert.equal(seen.client, 'ABCDEFGHIJKLMNOP');
});

test('a hole the receiver acknowledged past is skipped with a gap notice', () => {
  const { seen, feed } = harness();
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  feed(c.frames);
  const base = c.clientSeq;
  feed(clientSeg(base, 'one '));
  feed(clientSeg(base + 8, 'three')); // "two " was not captured
  assert.equal(seen.client, 'one ');
  // The server acknowledges everything: the capture lost the bytes, they will not come.
  feed(serverSeg(5001, '', base + 13, TCP_ACK));
  assert.equal(seen.client, 'one three');
  assert.deepEqual(seen.gaps, [{ fromClient: true, skipped: 4 }]);
});

test('a hole open longer than the gap timeout is skipped when any later packet arrives', () => {
  const { seen, feed } = harness({ gapTimeoutMs: 1000 });
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  feed(c.frames);
  const base = c.clientSeq;
  feed(clientSeg(base + 3, 'late'), 1);
  // Another flow's packet two seconds later expires the hole.
  feed(tcpFrame('02:00:00:00:00:20', SERVER.mac, '198.18.0.20', SERVER.ip, 41000, 80, 1, 0, TCP_SYN, Buffer.alloc(0)), 3);
  assert.equal(seen.client, 'late');
  assert.deepEqual(seen.gaps, [{ fromClient: true, skipped: 3 }]);
});

test('only the first maxBytesPerDirection bytes are delivered; nothing beyond is buffered', () => {
  const { r, seen, feed } = harness({ maxBytesPerDirection: 10 });
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  feed(c.frames);
  const base = c.clientSeq;
  feed(clientSeg(base + 20, 'far future'));
  assert.equal(r.bufferedBytes, 0, 'beyond the cap: not buffered');
  feed(clientSeg(base, '0123456'));
  feed(clientSeg(base + 7, '789abcdef'));
  assert.equal(seen.client, '0123456789');
  feed(clientSeg(base + 16, 'more'));
  assert.equal(seen.client, '0123456789');
  assert.equal(r.bufferedBytes, 0);
});

test('a flood of 1-byte out-of-order segments stays within the segment cap', () => {
  const { r, seen, feed } = harness({ maxSegmentsPerDirection: 16 });
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  feed(c.frames);
  const base = c.clientSeq;
  // Every other byte, so nothing coalesces: 1000 one-byte holes.
  for (let i = 1; i < 2000; i += 2) {
    feed(clientSeg(base + i, String.fromCharCode(0x41 + (i % 26))));
    assert.ok(r.bufferedBytes <= 16);
  }
  assert.ok(seen.gaps.length > 900, `gaps: ${seen.gaps.length}`);
  assert.ok(seen.client.length > 900);
});

test('the global buffer cap holds across flows: the oldest buffered direction is flushed first', () => {
  const { r, seen, feed } = harness({ maxBufferedBytes: 100, maxBufferedPerDirection: 80 });
  for (let f = 0; f < 20; f++) {
    const c = new TcpConversation({ ...CLIENT, port: 42000 + f }, SERVER).handshake();
    feed(c.frames);
    feed(tcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, 42000 + f, SERVER.port, c.clientSeq + 5, 5001, PSH, Buffer.alloc(30, 0x61)));
    assert.ok(r.bufferedBytes <= 100, `buffered ${r.bufferedBytes}`);
  }
  assert.ok(seen.gaps.length >= 16, 'older flows had their holes skipped');
});

test('the flow table is capped: least recently active flows are evicted, active ones kept', () => {
  const keepClosed: CloseReason[] = [];
  const { r, seen, feed } = harness({ maxFlows: 100, onClose: (flow, reason) => flow.clientPort === 1111 && keepClosed.push(reason) });
  const keep = new TcpConversation({ ...CLIENT, port: 1111 }, SERVER).handshake();
  feed(keep.frames);
  let sent = '';
  for (let i = 0; i < 10_000; i++) {
    // Ten new flows per second of capture time; the kept flow sends a byte every five seconds.
    const t = i / 10;
    feed(tcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, 2000 + (i % 60000), 22, i, 0, TCP_SYN, Buffer.alloc(0)), t);
    if (i % 50 === 0) {
      feed(tcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, 1111, SERVER.port, keep.clientSeq + sent.length, 5001, PSH, Buffer.from('k')), t);
      sent += 'k';
    }
    assert.ok(r.size <= 100);
  }
  assert.ok(r.stats.flowsEvicted >= 9_800);
  assert.deepEqual(keepClosed, [], 'the active flow was never evicted');
  assert.equal(seen.client, sent, 'the active flow kept its stream: every byte delivered once, in order');
  assert.equal(seen.flows.size, 1);
});

test('flows reused after close or eviction carry nothing over: data, roles, FIN state and buffered segments are each connection\'s own', () => {
  const got: string[] = [];
  const { r, seen, feed } = harness({
    maxFlows: 3,
    onData: (flow, fromClient, buf, start, end) => got.push(`${flow.clientEndpoint()}>${flow.serverEndpoint()} ${fromClient ? 'c' : 's'} ${buf.toString('latin1', start, end)}`),
  });
  const want: string[] = [];
  for (let i = 0; i < 40; i++) {
    // Odd connections: the server port is high and the client's is well known, so only the SYN gives the roles.
    const client = { ...CLIENT, port: i % 2 === 0 ? 41000 + i : 80 };
    const server = { ...SERVER, ip: `198.18.1.${i + 1}`, port: i % 2 === 0 ? 21 : 50000 + i };
    const c = new TcpConversation(client, server, { clientIsn: 1000 * i, serverIsn: 7 + i, start: i }).handshake();
    const ends = `${client.ip}:${client.port}>${server.ip}:${server.port}`;
    // Every third connection leaves a hole before its last bytes and is evicted or closed with them buffered.
    if (i % 3 === 0) {
      c.segment(true, c.clientSeq + 5, PSH, Buffer.from(`tail${i}`));
      want.push(`${ends} c tail${i}`);
    } else {
      c.client(`hello ${i}`).server(`hi ${i}`);
      want.push(`${ends} c hello ${i}`, `${ends} s hi ${i}`);
      if (i % 3 === 1) c.close();
    }
    feed(c.frames);
  }
  r.finish();
  assert.deepEqual(got.slice().sort(), want.slice().sort());
  assert.equal(r.size, 0);
  assert.equal(r.bufferedBytes, 0);
  assert.ok(seen.closes.length >= 40);
});

test('a million flows (SYN flood with random ports) stay bounded', () => {
  const { r, feed } = harness({ maxFlows: 4096, hashSeed: 12345 });
  const frame = tcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, 1, 80, 1, 0, TCP_SYN, Buffer.alloc(0));
  // Rewrite source address and port in place: the loop allocates no frames.
  for (let i = 0; i < 1_000_000; i++) {
    frame.writeUInt32BE((0xc6120000 + (i >>> 16)) >>> 0, 26);
    frame.writeUInt16BE(i & 0xffff, 34);
    feed(frame);
  }
  assert.ok(r.size <= 4096);
  assert.equal(r.stats.flowsCreated, 1_000_000 - r.stats.flowsRefused);
  assert.equal(r.bufferedBytes, 0);
});

test('the table grows with its flows: thousands open at once each keep their own stream', () => {
  const got = new Map<string, string>();
  const { r, feed } = harness({
    onData: (flow, fromClient, buf, start, end) => {
      const k = `${flow.clientEndpoint()} ${fromClient ? 'c' : 's'}`;
      got.set(k, (got.get(k) ?? '') + buf.toString('latin1', start, end));
    },
  });
  const n = 5000;
  const convs: TcpConversation[] = [];
  for (let i = 0; i < n; i++) {
    const c = new TcpConversation({ ...CLIENT, ip: `198.18.${2 + (i >> 8)}.${i & 0xff}`, port: 30000 + i }, SERVER, { clientIsn: i * 7919 }).handshake().client(`a${i};`);
    convs.push(c);
    feed(c.frames);
  }
  assert.equal(r.size, n);
  // Second round after every flow exists: each segment must find its own flow in the grown table.
  for (let i = n - 1; i >= 0; i--) {
    const c = convs[i]!;
    c.frames.length = 0;
    c.client(`b${i};`).server(`ok${i}`);
    feed(c.frames);
  }
  assert.equal(r.stats.flowsCreated, n);
  assert.equal(r.size, n);
  for (let i = 0; i < n; i++) {
    const ip = `198.18.${2 + (i >> 8)}.${i & 0xff}`;
    assert.equal(got.get(`${ip}:${30000 + i} c`), `a${i};b${i};`);
    assert.equal(got.get(`${ip}:${30000 + i} s`), `ok${i}`);
  }
});

test('an ignored flow is kept alive by its segments and still closed by FIN both ways or RST', () => {
  const { r, seen, feed } = harness({ idleTimeoutMs: 60_000 });
  const c = new TcpConversation(CLIENT, SERVER).handshake().client('one');
  feed(c.frames);
  r.ignore([...seen.flows][0]!);
  for (let t = 50; t <= 300; t += 50) feed(clientSeg(c.clientSeq, 'more'), t);
  assert.equal(r.size, 1, 'segments every 50 s keep a flow with a 60 s idle timeout');
  assert.equal(seen.client, 'one');
  feed(clientSeg(c.clientSeq, '', TCP_FIN | TCP_ACK), 301);
  feed(serverSeg(5001, '', c.clientSeq + 1, TCP_FIN | TCP_ACK), 301);
  assert.equal(r.size, 0);
  assert.deepEqual(seen.closes.map((x) => x.reason), ['fin']);
  const d = new TcpConversation({ ...CLIENT, port: 40002 }, SERVER, { start: 400 }).handshake().client('two');
  feed(d.frames);
  const flow = [...seen.flows].find((f) => f.clientPort === 40002)!;
  r.ignore(flow);
  feed(tcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, 40002, SERVER.port, d.clientSeq, 5001, TCP_RST | TCP_ACK, Buffer.alloc(0)), 401);
  assert.equal(r.size, 0);
  assert.deepEqual(seen.closes.map((x) => x.reason), ['fin', 'rst']);
});

test('RST closes the flow; a RST far outside the window is ignored', () => {
  const { r, seen, feed } = harness();
  const c = new TcpConversation(CLIENT, SERVER).handshake().client('abc');
  feed(c.frames);
  feed(clientSeg(c.clientSeq + 5_000_000, '', TCP_RST));
  assert.equal(r.size, 1, 'blind RST with a wild sequence number does not close');
  feed(clientSeg(c.clientSeq, '', TCP_RST | TCP_ACK));
  assert.equal(r.size, 0);
  assert.deepEqual(seen.closes.map((x) => x.reason), ['rst']);
});

test('idle flows close after the idle timeout; finish() closes the rest and delivers what is buffered', () => {
  const { r, seen, feed } = harness({ idleTimeoutMs: 60_000 });
  const a = new TcpConversation(CLIENT, SERVER).handshake().client('x');
  feed(a.frames);
  const b = new TcpConversation({ ...CLIENT, port: 40001 }, SERVER, { start: 120 }).handshake();
  feed(b.frames);
  feed(tcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, 40001, SERVER.port, b.clientSeq + 2, 5001, PSH, Buffer.from('tail')), 121);
  assert.deepEqual(seen.closes.map((x) => x.reason), ['idle']);
  r.finish();
  assert.deepEqual(seen.closes.map((x) => x.reason), ['idle', 'end']);
  assert.equal(seen.client, 'xtail');
  assert.deepEqual(seen.gaps.at(-1), { fromClient: true, skipped: 2 });
  assert.equal(r.size, 0);
});

test('bare ACKs cost no lookup while nothing is buffered: they neither create flows nor keep one alive', () => {
  const { r, seen, feed } = harness({ idleTimeoutMs: 60_000 });
  const a = new TcpConversation(CLIENT, SERVER).handshake().client('x');
  feed(a.frames);
  assert.equal(r.size, 1);
  // Only acknowledgements for 70 s: the flow's idle clock runs on data, so it closes as idle.
  for (let t = 10; t <= 70; t += 10) feed(serverSeg(5001, '', a.clientSeq, TCP_ACK), t);
  assert.deepEqual(seen.closes.map((x) => x.reason), ['idle']);
  assert.equal(r.size, 0);
  // A bare ACK of an unknown flow creates nothing.
  feed(tcpFrame(CLIENT.mac, SERVER.mac, CLIENT.ip, SERVER.ip, 40009, SERVER.port, 7, 9, TCP_ACK, Buffer.alloc(0)), 71);
  assert.equal(r.size, 0);
});

test('a new SYN on a finished address pair starts a new connection; a repeated SYN does not', () => {
  const { seen, feed } = harness();
  const c1 = new TcpConversation(CLIENT, SERVER, { clientIsn: 100 }).handshake().client('first');
  feed(c1.frames);
  feed(c1.frames[0]!.frame); // SYN retransmission
  const c2 = new TcpConversation(CLIENT, SERVER, { clientIsn: 900000, start: 1 }).handshake().client('second');
  feed(c2.frames);
  assert.equal(seen.client, 'firstsecond');
  assert.deepEqual(seen.closes.map((x) => x.reason), ['reused']);
});

test('IPv6 flows, and two flows between the same host on different ports, are told apart', () => {
  const { seen, feed } = harness();
  const v6c: TcpEndpoint = { mac: CLIENT.mac, ip: '2001:db8::10', port: 40000 };
  const v6s: TcpEndpoint = { mac: SERVER.mac, ip: '2001:db8::1', port: 143 };
  feed(new TcpConversation(v6c, v6s).handshake().client('v6 ').frames);
  const self: TcpEndpoint = { mac: CLIENT.mac, ip: '198.18.0.5', port: 43090 };
  feed(new TcpConversation(self, { ...self, port: 8000 }).handshake().client('loop ').server('back').frames);
  assert.equal(seen.client, 'v6 loop ');
  assert.equal(seen.server, 'back');
  assert.deepEqual(seen.roles, ['[2001:db8::10]:40000>[2001:db8::1]:143', '198.18.0.5:43090>198.18.0.5:8000']);
});

test('a snapped segment (captured shorter than its IP length) leaves a known gap', () => {
  const { seen, feed } = harness();
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  feed(c.frames);
  const full = clientSeg(c.clientSeq, 'abcdefgh');
  feed(full.subarray(0, full.length - 4)); // snap length cut "efgh"
  feed(clientSeg(c.clientSeq + 8, 'ijk'));
  assert.equal(seen.client, 'abcdijk');
  assert.deepEqual(seen.gaps, [{ fromClient: true, skipped: 4 }]);
});

test('ignore() stops delivery but keeps the flow so its packets cost only a lookup; swapRoles() fixes a wrong guess', () => {
  const { r, seen, feed } = harness();
  feed(clientSeg(100, 'one'));
  const flow = [...seen.flows][0]!;
  r.ignore(flow);
  feed(clientSeg(103, 'two'));
  assert.equal(seen.client, 'one');
  assert.equal(r.size, 1);
  // Mid-stream between two high ports: the guess can be wrong; the consumer may swap.
  const h = harness();
  h.feed(tcpFrame(SERVER.mac, CLIENT.mac, '198.18.0.7', '198.18.0.8', 50000, 60000, 1, 1, PSH, Buffer.from('GET / HTTP/1.1\r\n')));
  const f = [...h.seen.flows][0]!;
  assert.equal(f.clientEndpoint(), '198.18.0.8:60000');
  assert.ok(h.r.swapRoles(f));
  assert.equal(f.clientEndpoint(), '198.18.0.7:50000');
  h.feed(tcpFrame(SERVER.mac, CLIENT.mac, '198.18.0.7', '198.18.0.8', 50000, 60000, 17, 1, PSH, Buffer.from('Host: x\r\n')));
  assert.equal(h.seen.client, 'Host: x\r\n', 'after the swap the same sender is the client');
  assert.equal(h.seen.server, 'GET / HTTP/1.1\r\n');
});

test('FIN is honoured only once the data before it is delivered', () => {
  const { r, seen, feed } = harness();
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  feed(c.frames);
  const base = c.clientSeq;
  feed(clientSeg(base + 3, 'def', TCP_FIN | TCP_ACK)); // FIN arrives before the bytes ahead of it
  feed(serverSeg(5001, '', base, TCP_FIN | TCP_ACK));
  assert.equal(r.size, 1);
  feed(clientSeg(base, 'abc'));
  assert.equal(seen.client, 'abcdef');
  assert.deepEqual(seen.closes.map((x) => x.reason), ['fin']);
});

test('skipAhead passes over the bytes after the chunk being delivered, out-of-order ones and holes included; only from that delivery', () => {
  let client = '';
  let server = '';
  let refused = 0;
  let seenFlow: TcpFlow | undefined;
  const gaps: { fromClient: boolean; skipped: number }[] = [];
  const r: TcpReassembler = new TcpReassembler({
    onData: (flow, fromClient, buf, start, end) => {
      seenFlow = flow;
      const text = buf.toString('latin1', start, end);
      if (!fromClient) {
        server += text;
        // Asked from the other direction's delivery: refused.
        if (!r.skipAhead(flow, true, 99)) refused++;
        return;
      }
      client += text;
      // "len:N|" at the end of a chunk announces N bytes the consumer has no use for.
      const m = /len:(\d+)\|$/.exec(text);
      if (m) assert.ok(r.skipAhead(flow, true, Number(m[1])));
    },
    onGap: (_flow, fromClient, skipped) => gaps.push({ fromClient, skipped }),
    hashSeed: 1,
  });
  const pkt = new Packet();
  const raw = newRawFrame();
  const feed = (frame: Buffer): void => {
    raw.data = frame;
    raw.offset = 0;
    raw.caplen = raw.origlen = frame.length;
    raw.linktype = LINKTYPE_ETHERNET;
    raw.frameNo++;
    assert.ok(decodeFrame(raw, pkt));
    r.handle(pkt);
  };
  const c = new TcpConversation(CLIENT, SERVER).handshake();
  for (const f of c.frames) feed(f.frame);
  const base = c.clientSeq;
  // 10 bytes announced arrive in three segments, the last two out of order, the third with the next message.
  feed(clientSeg(base, 'len:10|'));
  feed(clientSeg(base + 11, 'cccc'));
  feed(clientSeg(base + 7, 'aaaa'));
  feed(clientSeg(base + 15, 'bbNEXT len:6|'));
  feed(serverSeg(5001, 'reply', base + 28));
  assert.equal(client, 'len:10|NEXT len:6|');
  assert.equal(server, 'reply');
  assert.equal(refused, 1);
  // A hole inside the announced bytes is no gap; one reaching past them is a gap of the rest.
  feed(clientSeg(base + 28 + 8, 'after'));
  feed(serverSeg(5006, '', base + 28 + 13, TCP_ACK));
  assert.equal(client, 'len:10|NEXT len:6|after');
  assert.deepEqual(gaps, [{ fromClient: true, skipped: 2 }]);
  assert.equal(r.stats.bytesDelivered, 'len:10|NEXT len:6|'.length + 'reply'.length + 'after'.length);
  // Outside any delivery: refused.
  assert.equal(r.skipAhead(seenFlow!, true, 5), false);
});
