import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { newRawFrame, type RawFrame } from '../frame.js';
import { CARRIER_ETHERTYPES } from '../../decode/carriers.js';
import { HSRP6_PORT, HSRP_PORT, IPPROTO_VRRP } from '../../decode/fhrp.js';
import { IPPROTO_OSPF } from '../../decode/routing-auth.js';
import { isWlanLinktype, LINKTYPE_ETHERNET, LINKTYPE_RAW } from '../linktypes.js';

// Live capture from a network interface through the native libpcap addon
// (native/pcap). One LiveCapture per interface; packets arrive in batches in
// one reused buffer and are handed on as one reused RawFrame, exactly like the
// file reader does, so the engine cannot tell live from recorded traffic.

export const ADDON_PATH = fileURLToPath(new URL('../../../../native/pcap/build/Release/sniffwatch_pcap.node', import.meta.url));
export const ADDON_MISSING_MESSAGE =
  'live capture needs the native pcap addon: apt-get install build-essential libpcap-dev && npm run build:native';
export const PERMISSION_MESSAGE =
  'live capture needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode): run with sudo, or grant them to node once: ' +
  'sudo setcap cap_net_raw,cap_net_admin=eip $(readlink -f $(which node))';

/** UDP ports of the protocols the analyzers read; anything else on UDP is not captured. */
const ANALYZED_UDP_PORTS = [
  53, // DNS (name-resolution spoofing)
  67, 68, // DHCP server/client (rogue DHCP, starvation)
  88, // Kerberos (crackable pre-authentication and AS-REP)
  137, // NBNS (NetBIOS name poisoning)
  161, 162, // SNMP and traps (community strings, mirroring configuration)
  520, // RIPv2 (routing keys)
  546, 547, // DHCPv6 client/server (rogue DHCPv6)
  5060, // SIP (crackable Digest responses)
  4789, 8472, // VXLAN (IANA, Linux default): mirrored and tunnelled traffic
  5353, // mDNS poisoning
  5355, // LLMNR poisoning
  6081, // GENEVE tunnels
  37008, // TZSP: traffic mirrored to a collector
  HSRP_PORT, HSRP6_PORT, // HSRP gateway takeovers
];

/**
 * What the analyzers need, as a BPF expression for the kernel: everything else
 * is dropped before it is copied to user space.
 */
export const ANALYZED_TRAFFIC = [
  'arp', // ARP poisoning and gateway impersonation
  'tcp', // credential and TLS analyzers follow whole streams, so all of TCP (handshakes, payload, resets)
  'icmp', // ICMP redirects, and ICMP inside tunnels
  'icmp6', // neighbour discovery, router advertisements, redirects (IPv6 AitM)
  'proto gre', // GRE and ERSPAN: mirrored traffic (T1020.001), over IPv4 or IPv6
  'proto 4 or proto 41', // IP in IP (ipip, sit, ip6tnl tunnels): tunnelled and mirrored traffic
  `proto ${IPPROTO_VRRP}`, // VRRP gateway takeovers
  `proto ${IPPROTO_OSPF}`, // OSPF routing keys
  `(udp and (${ANALYZED_UDP_PORTS.map((p) => `port ${p}`).join(' or ')}))`,
  '(ip[6:2] & 0x1fff != 0)', // later IPv4 fragments carry no ports; the decoder judges fragments itself
  '(ip6 and (ip6[6] == 0 or ip6[6] == 44))', // IPv6 with hop-by-hop (MLD, router alert) or fragment headers: ICMPv6/UDP behind them
].join(' or ');

/**
 * Frames whose IP packet sits behind another header (decode/carriers.ts):
 * MPLS, PPPoE sessions, MACsec, NSH, and switch or tap headers (Arista
 * timestamps, Cisco MetaData, VN-Tag, E-Tag, PBB). Kept whole: by
 * EtherType, because libpcap's `mpls` and `pppoes` keywords, like `vlan`,
 * shift the offsets for the rest of the expression.
 */
const CARRIERS = CARRIER_ETHERTYPES.map((t) => `ether proto 0x${t.toString(16)}`).join(' or ');

/**
 * The kernel filter for Ethernet interfaces: the analysed traffic and the
 * carriers untagged, 802.1Q-tagged and QinQ-tagged (trunk ports and mirror
 * sessions carry tags; libpcap matches both in-frame tags and tags the kernel
 * moved to metadata). Nested, not "A or (vlan and A) or (vlan and vlan and
 * A)": each `vlan` shifts the offsets for the REST of the expression
 * (pcap-filter(7)), so a third clause would really test for three tags.
 */
const ETHERNET_PAYLOADS = `(${ANALYZED_TRAFFIC}) or ${CARRIERS}`;
export const LIVE_CAPTURE_FILTER = `${ETHERNET_PAYLOADS} or (vlan and (${ETHERNET_PAYLOADS} or (vlan and (${ETHERNET_PAYLOADS}))))`;

/**
 * The filter for a monitor-mode (802.11) interface: management frames (the
 * Wi-Fi analyzer's) and data frames, whose payload may be encrypted and so
 * cannot be filtered by protocol; control frames (acknowledgements, RTS/CTS),
 * about half of the air, are dropped.
 */
export const WLAN_CAPTURE_FILTER = 'type mgt or type data';

/** libpcap's compiler refusing a link type as a whole (not an error in the expression). */
const UNFILTERABLE = /link-layer type filtering not implemented/;

/** The filter for a link type: VLAN matching only exists on Ethernet-like links. */
export function captureFilterFor(linktype: number): string {
  if (linktype === LINKTYPE_ETHERNET) return LIVE_CAPTURE_FILTER;
  return isWlanLinktype(linktype) ? WLAN_CAPTURE_FILTER : ANALYZED_TRAFFIC;
}

// ---- the addon's interface (native/pcap/src/pcap_addon.c) ----

export interface PcapStats {
  /** Packets the kernel passed through the filter (including those then dropped). */
  received: number;
  /** Dropped because the kernel ring was full: we did not read fast enough. */
  dropped: number;
  /** Dropped by the interface or its driver before the kernel saw them. */
  ifdropped: number;
}

export interface PcapHandleInfo {
  datalink: number;
  datalinkName: string | null;
  fd: number;
  snaplen: number;
  nanoTimestamps: boolean;
  warning: string | null;
}

export interface NativePcapHandle {
  setFilter(filter: string): void;
  /** Copies up to maxPackets packets into buffer (header records, then data); returns how many. */
  dispatch(buffer: Buffer, maxPackets: number): number;
  stats(): PcapStats;
  info(): PcapHandleInfo;
  datalink(): number;
  /** Calls back on the main loop when packets are ready (0) or the fd failed (< 0, polling stops). */
  poll(callback: (status: number) => void): void;
  close(): void;
}

export interface PcapDevice {
  name: string;
  description: string | null;
  loopback: boolean;
  up: boolean;
  running: boolean;
  wireless: boolean;
}

export interface PcapAddon {
  PcapHandle: new (
    device: string,
    opts: { snaplen?: number; promisc?: boolean; bufferSize?: number; immediate?: boolean; timeoutMs?: number },
  ) => NativePcapHandle;
  findAllDevs(): PcapDevice[];
  compileFilter(filter: string, linktype?: number, snaplen?: number): number;
  offlineFilter(filter: string, linktype: number, packet: Buffer): boolean;
  /** CLOCK_REALTIME in milliseconds, the clock packet timestamps use. */
  clockRealtime(): number;
  libVersion(): string;
  HEADER_BYTES: number;
}

export type LiveErrorKind = 'addon-missing' | 'permission' | 'no-device' | 'not-up' | 'filter' | 'read' | 'other';

/** A capture problem with a kind the CLI can act on (permission: exit 2 with advice; not-up: retry). */
export class LiveCaptureError extends Error {
  constructor(
    readonly kind: LiveErrorKind,
    message: string,
    readonly pcapCode?: string,
  ) {
    super(message);
    this.name = 'LiveCaptureError';
  }
}

let addon: PcapAddon | undefined;

/** The native addon, loaded once; throws LiveCaptureError('addon-missing') saying what to install. */
export function loadPcapAddon(path = ADDON_PATH): PcapAddon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)(path) as PcapAddon;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'MODULE_NOT_FOUND' ? `${path} not found` : (err.message ?? String(e)).split('\n')[0];
    throw new LiveCaptureError('addon-missing', `${ADDON_MISSING_MESSAGE} (${why})`);
  }
  return addon;
}

function classify(e: unknown): LiveCaptureError {
  if (e instanceof LiveCaptureError) return e;
  const err = e as { code?: string; message?: string };
  const code = typeof err.code === 'string' ? err.code : undefined;
  const message = err.message ?? String(e);
  switch (code) {
    case 'PCAP_ERROR_PERM_DENIED':
    case 'PCAP_ERROR_PROMISC_PERM_DENIED':
      return new LiveCaptureError('permission', message, code);
    case 'PCAP_ERROR_NO_SUCH_DEVICE':
      return new LiveCaptureError('no-device', message, code);
    case 'PCAP_ERROR_IFACE_NOT_UP':
      return new LiveCaptureError('not-up', message, code);
    case 'PCAP_ERROR_FILTER':
      return new LiveCaptureError('filter', message, code);
    case 'PCAP_ERROR_READ':
      return new LiveCaptureError('read', message, code);
    default:
      return new LiveCaptureError('other', message, code);
  }
}

/** libpcap reports DLT_* values; the few that differ from LINKTYPE_* on Linux are mapped (DLT_RAW is 12). */
export function dltToLinktype(dlt: number): number {
  return dlt === 12 ? LINKTYPE_RAW : dlt;
}

/**
 * Block timeout of buffered capture: the kernel hands over a partly filled
 * block after this long, which bounds the added detection latency.
 */
export const BLOCK_TIMEOUT_MS = 1;

export interface LiveCaptureOptions {
  promisc: boolean;
  /** Kernel ring size in bytes: the burst we absorb while busy. */
  bufferBytes: number;
  /**
   * libpcap immediate mode. On Linux it means TPACKET_V2, one ring slot per
   * packet sized for the largest packet: on interfaces with receive offload a
   * slot is ~64 KiB, so 8 MiB hold only ~128 packets. Off (the default),
   * packets are packed into TPACKET_V3 blocks (8 MiB hold thousands) handed
   * over at the latest after BLOCK_TIMEOUT_MS.
   */
  immediate: boolean;
  /** BPF expression; default: captureFilterFor(the interface's link type). */
  filter?: string;
}

// One batch buffer for every capture: each batch is fully handled before the
// next dispatch, and frames are only valid during the callback anyway.
const BATCH_PACKETS = 512;
const BATCH_BYTES = 4 << 20;
/** Batches read per wake-up before yielding to the event loop (the poll fires again if more are waiting). */
const BATCHES_PER_WAKEUP = 16;
let batch: { buffer: Buffer; headers: Uint32Array } | undefined;

function batchBuffer(): { buffer: Buffer; headers: Uint32Array } {
  if (!batch) {
    // An ArrayBuffer of its own, so the header words are 4-byte aligned.
    const ab = new ArrayBuffer(BATCH_BYTES);
    batch = { buffer: Buffer.from(ab), headers: new Uint32Array(ab, 0, BATCH_PACKETS * 5) };
  }
  return batch;
}

/** Per-capture counters, summed over every time the interface was (re)opened. */
export interface LiveCaptureTotals extends PcapStats {
  /** Frames handed to the engine. */
  delivered: number;
  opens: number;
}

const U32 = 2 ** 32;

/**
 * A live capture on one interface. open() and close() may be called
 * repeatedly (interface down and up again); frame numbers and totals continue.
 */
export class LiveCapture {
  readonly totals: LiveCaptureTotals = { received: 0, dropped: 0, ifdropped: 0, delivered: 0, opens: 0 };
  linktype = LINKTYPE_ETHERNET;
  info: PcapHandleInfo | undefined;
  /** Instructions of the installed BPF program; 0 when none is installed (see `unfiltered`). */
  filterInstructions = 0;
  /** libpcap cannot filter this link type (NFLOG, IP over InfiniBand, PKTAP...): every frame is read. */
  unfiltered = false;
  private handle: NativePcapHandle | undefined;
  private readonly frame: RawFrame = newRawFrame();
  private frameNo = 0;
  private last: PcapStats = { received: 0, dropped: 0, ifdropped: 0 };
  private readonly addon: PcapAddon;

  constructor(
    readonly iface: string,
    private readonly opts: LiveCaptureOptions,
    /** Gets every frame; the frame and its bytes are valid only during the call. */
    private readonly onFrame: (frame: RawFrame) => void,
    /** The capture failed while running (interface down or gone); it is already closed. */
    private readonly onError: (err: LiveCaptureError) => void,
    /** An exception from onFrame: reported, and the capture goes on with the next frame. */
    private readonly onFrameError: (err: unknown) => void,
  ) {
    this.addon = loadPcapAddon();
  }

  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  /** Opens, filters and starts polling the interface; throws LiveCaptureError. */
  open(): void {
    if (this.handle) return;
    let h: NativePcapHandle;
    try {
      h = new this.addon.PcapHandle(this.iface, { promisc: this.opts.promisc, bufferSize: this.opts.bufferBytes, immediate: this.opts.immediate, timeoutMs: BLOCK_TIMEOUT_MS });
    } catch (e) {
      throw classify(e);
    }
    try {
      this.info = h.info();
      this.linktype = dltToLinktype(this.info.datalink);
      const filter = this.opts.filter ?? captureFilterFor(this.linktype);
      try {
        this.filterInstructions = this.addon.compileFilter(filter, this.info.datalink, this.info.snaplen);
        h.setFilter(filter);
        this.unfiltered = false;
      } catch (e) {
        // Without a filter of the operator's own, the decoder picks what it reads from every frame.
        if (this.opts.filter !== undefined || !UNFILTERABLE.test(e instanceof Error ? e.message : String(e))) throw e;
        this.filterInstructions = 0;
        this.unfiltered = true;
      }
      this.last = { received: 0, dropped: 0, ifdropped: 0 };
      this.handle = h;
      this.totals.opens++;
      h.poll((status) => this.onReadable(status));
    } catch (e) {
      h.close();
      this.handle = undefined;
      throw classify(e);
    }
  }

  /** Reads what is waiting (bounded), refreshes the totals and closes the handle. Safe to call twice. */
  close(): void {
    const h = this.handle;
    if (!h) return;
    try {
      this.drain();
    } catch {
      // a failing interface has nothing more to give
    }
    this.refreshStats();
    this.handle = undefined;
    h.close();
  }

  /** Adds what libpcap counted since the last call to the totals (its counters are 32-bit and wrap). */
  refreshStats(): void {
    const h = this.handle;
    if (!h) return;
    let s: PcapStats;
    try {
      s = h.stats();
    } catch {
      return;
    }
    this.totals.received += (s.received - this.last.received + U32) % U32;
    this.totals.dropped += (s.dropped - this.last.dropped + U32) % U32;
    this.totals.ifdropped += (s.ifdropped - this.last.ifdropped + U32) % U32;
    this.last = s;
  }

  private onReadable(status: number): void {
    if (!this.handle) return;
    try {
      this.drain();
    } catch (e) {
      this.fail(classify(e));
      return;
    }
    // A poll error without a read error (libuv stopped polling): still a dead capture.
    if (status < 0 && this.handle) this.fail(new LiveCaptureError('read', `${this.iface}: capture descriptor failed (libuv status ${status})`));
  }

  private fail(err: LiveCaptureError): void {
    const h = this.handle;
    if (!h) return;
    this.refreshStats();
    this.handle = undefined;
    h.close();
    this.onError(err);
  }

  /** Reads up to BATCHES_PER_WAKEUP batches; throws the addon's read error. */
  private drain(): void {
    const { buffer, headers } = batchBuffer();
    const frame = this.frame;
    frame.data = buffer;
    frame.linktype = this.linktype;
    for (let b = 0; b < BATCHES_PER_WAKEUP && this.handle; b++) {
      const n = this.handle.dispatch(buffer, BATCH_PACKETS);
      for (let i = 0; i < n; i++) {
        const w = i * 5;
        frame.tsSec = headers[w]!;
        frame.tsNsec = headers[w + 1]!;
        frame.caplen = headers[w + 2]!;
        frame.origlen = headers[w + 3]!;
        frame.offset = headers[w + 4]!;
        frame.frameNo = ++this.frameNo;
        this.totals.delivered++;
        try {
          this.onFrame(frame);
        } catch (e) {
          this.onFrameError(e);
        }
      }
      if (n === 0) break;
    }
  }
}
