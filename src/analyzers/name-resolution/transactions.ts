import { IP6_WORDS, storedIp6ToString, storeIp6 } from '../../decode/ip6-addr.js';
import { FifoMap } from './fifo-map.js';

// The DNS transaction table of the spoofing tracker: one row of a Float64Array
// per transaction (256 bytes, four cache lines, the lookup fields in the
// first), and the kept IPv6 answers in a Uint32Array beside it. As objects,
// each transaction was seven heap objects (~900 bytes with a typed array and
// two lists): 14 MiB and as many cache misses per lookup once the table had
// filled, and all of it garbage collector work while it filled.

/** Addresses the query was sent to, answer addresses of each family kept per transaction. */
export const MAX_SERVERS_PER_QUERY = 4;
export const MAX_KEPT_ADDRESSES = 4;

/** Which known spoofer built an answer (see dns-spoofing.ts). */
export const enum Layout {
  None = 0,
  Dnsspoof = 1,
  Bettercap = 2,
}

/** What an answer looks like beyond its records: who sent it and how it was built. */
export interface AnswerShape {
  src: number;
  mac: number;
  ipTtl: number;
  df: boolean;
  flags: number;
  arCount: number;
  layout: Layout;
  /** TTL of the first record. */
  recordTtl: number;
}

const enum Col {
  ClientIp = 0,
  ClientPort,
  Id,
  NameHash,
  Time,
  QueryFlags,
  QueryAr,
  QueryLen,
  QueryVlan,
  ClientMac,
  RelayMac,
  Bits,
  FirstSrc,
  FirstMac,
  FirstIpTtl,
  FirstFlags,
  FirstArCount,
  FirstLayout,
  FirstRecordTtl,
  FirstSig,
  FirstIdentity,
  ServerCount,
  Servers,
  Addr4Count = Servers + MAX_SERVERS_PER_QUERY,
  Addr4,
  Addr6Count = Addr4 + MAX_KEPT_ADDRESSES,
  Width,
}

const STRIDE = 32;
// Col.Width must fit the stride (a compile-time fact kept honest at load).
if ((Col.Width as number) > STRIDE) throw new Error('transaction row wider than its stride');

const BIT_ANSWERED = 1;
const BIT_TAUGHT = 2;
const BIT_RACED = 4;
const BIT_FIRST_DF = 8;

/**
 * A view of one row. The table hands out the same view for every row it
 * looks up, so a Transaction is valid until the next lookup.
 */
export class Transaction {
  /** Offset of the row in `rows`. */
  private at = 0;
  /** Row number (for the IPv6 slab). */
  private row = 0;

  constructor(
    private readonly rows: Float64Array,
    private readonly addr6: Uint32Array,
  ) {}

  /** Points the view at row r. */
  select(r: number): this {
    this.row = r;
    this.at = r * STRIDE;
    return this;
  }

  /** Starts a new transaction in the selected row: every field reset. */
  reset(): void {
    // A loop, not rows.fill(0, at, at + STRIDE): TurboFan leaves a ranged fill to a runtime call that costs ten times more.
    const rows = this.rows;
    for (let i = this.at, end = this.at + Col.Width; i < end; i++) rows[i] = 0;
    this.rows[this.at + Col.RelayMac] = -1;
    this.rows[this.at + Col.FirstIdentity] = -1;
  }

  private get(c: Col): number {
    return this.rows[this.at + c]!;
  }

  private set(c: Col, v: number): void {
    this.rows[this.at + c] = v;
  }

  private bit(b: number): boolean {
    return (this.rows[this.at + Col.Bits]! & b) !== 0;
  }

  private setBit(b: number, on: boolean): void {
    const v = this.rows[this.at + Col.Bits]!;
    this.rows[this.at + Col.Bits] = on ? v | b : v & ~b;
  }

  get clientIp(): number { return this.get(Col.ClientIp); }
  set clientIp(v: number) { this.set(Col.ClientIp, v); }
  get clientPort(): number { return this.get(Col.ClientPort); }
  set clientPort(v: number) { this.set(Col.ClientPort, v); }
  get id(): number { return this.get(Col.Id); }
  set id(v: number) { this.set(Col.Id, v); }
  get nameHash(): number { return this.get(Col.NameHash); }
  set nameHash(v: number) { this.set(Col.NameHash, v); }
  get time(): number { return this.get(Col.Time); }
  set time(v: number) { this.set(Col.Time, v); }
  get queryFlags(): number { return this.get(Col.QueryFlags); }
  set queryFlags(v: number) { this.set(Col.QueryFlags, v); }
  get queryAr(): number { return this.get(Col.QueryAr); }
  set queryAr(v: number) { this.set(Col.QueryAr, v); }
  get queryLen(): number { return this.get(Col.QueryLen); }
  set queryLen(v: number) { this.set(Col.QueryLen, v); }
  get queryVlan(): number { return this.get(Col.QueryVlan); }
  set queryVlan(v: number) { this.set(Col.QueryVlan, v); }
  get clientMac(): number { return this.get(Col.ClientMac); }
  set clientMac(v: number) { this.set(Col.ClientMac, v); }
  /** Another MAC that sent the same query on the same link: a station relaying the client's traffic; -1 if none. */
  get relayMac(): number { return this.get(Col.RelayMac); }
  set relayMac(v: number) { this.set(Col.RelayMac, v); }
  get answered(): boolean { return this.bit(BIT_ANSWERED); }
  set answered(v: boolean) { this.setBit(BIT_ANSWERED, v); }
  /** The first answer taught us the server's MAC (so that MAC is no evidence in this transaction's race). */
  get taught(): boolean { return this.bit(BIT_TAUGHT); }
  set taught(v: boolean) { this.setBit(BIT_TAUGHT, v); }
  get raced(): boolean { return this.bit(BIT_RACED); }
  set raced(v: boolean) { this.setBit(BIT_RACED, v); }
  get firstSig(): number { return this.get(Col.FirstSig); }
  set firstSig(v: number) { this.set(Col.FirstSig, v); }
  /** Identity slot of the first answer in its server's profile (undone if the transaction races), or -1. */
  get firstIdentity(): number { return this.get(Col.FirstIdentity); }
  set firstIdentity(v: number) { this.set(Col.FirstIdentity, v); }

  // The first answer's shape, field by field (the hot path), or whole (reports).
  get firstSrc(): number { return this.get(Col.FirstSrc); }
  get firstMac(): number { return this.get(Col.FirstMac); }
  get firstIpTtl(): number { return this.get(Col.FirstIpTtl); }
  get firstDf(): boolean { return this.bit(BIT_FIRST_DF); }

  setFirst(a: AnswerShape): void {
    this.set(Col.FirstSrc, a.src);
    this.set(Col.FirstMac, a.mac);
    this.set(Col.FirstIpTtl, a.ipTtl);
    this.setBit(BIT_FIRST_DF, a.df);
    this.set(Col.FirstFlags, a.flags);
    this.set(Col.FirstArCount, a.arCount);
    this.set(Col.FirstLayout, a.layout);
    this.set(Col.FirstRecordTtl, a.recordTtl);
  }

  firstShape(): AnswerShape {
    return {
      src: this.firstSrc,
      mac: this.firstMac,
      ipTtl: this.firstIpTtl,
      df: this.firstDf,
      flags: this.get(Col.FirstFlags),
      arCount: this.get(Col.FirstArCount),
      layout: this.get(Col.FirstLayout) as Layout,
      recordTtl: this.get(Col.FirstRecordTtl),
    };
  }

  /** Whether the query was sent to server. */
  hasServer(server: number): boolean {
    return this.listHas(Col.ServerCount, server);
  }

  /** Adds a server the query was sent to (a client may retry another resolver with the same id). */
  addServer(server: number): void {
    this.listAdd(Col.ServerCount, MAX_SERVERS_PER_QUERY, server);
  }

  servers(): number[] {
    return this.list(Col.ServerCount);
  }

  /** Keeps an IPv4 address of the first answer (up to MAX_KEPT_ADDRESSES, distinct). */
  addFirstAddr4(ip: number): void {
    this.listAdd(Col.Addr4Count, MAX_KEPT_ADDRESSES, ip);
  }

  firstAddr4(): number[] {
    return this.list(Col.Addr4Count);
  }

  /** Keeps the IPv6 address at buf[off] of the first answer (up to MAX_KEPT_ADDRESSES). */
  addFirstAddr6(buf: Buffer, off: number): void {
    const n = this.get(Col.Addr6Count);
    if (n >= MAX_KEPT_ADDRESSES) return;
    storeIp6(this.addr6, this.row * MAX_KEPT_ADDRESSES + n, buf, off);
    this.set(Col.Addr6Count, n + 1);
  }

  firstAddr6Texts(): string[] {
    const out: string[] = [];
    const n = this.get(Col.Addr6Count);
    for (let i = 0; i < n; i++) out.push(storedIp6ToString(this.addr6, this.row * MAX_KEPT_ADDRESSES + i));
    return out;
  }

  /** A short list stored as a count column followed by its items. */
  private listHas(countCol: Col, x: number): boolean {
    const n = this.get(countCol);
    for (let i = 1; i <= n; i++) if (this.rows[this.at + countCol + i] === x) return true;
    return false;
  }

  private listAdd(countCol: Col, capacity: number, x: number): void {
    const n = this.get(countCol);
    if (n < capacity && !this.listHas(countCol, x)) {
      this.rows[this.at + countCol + 1 + n] = x;
      this.set(countCol, n + 1);
    }
  }

  private list(countCol: Col): number[] {
    const out: number[] = [];
    const n = this.get(countCol);
    for (let i = 1; i <= n; i++) out.push(this.rows[this.at + countCol + i]!);
    return out;
  }
}

/**
 * Transactions by key, at most `capacity`; the oldest is forgotten first and
 * its row reused. Rows are allocated as the table fills (doubling), so a
 * small capture does not pay for the full table.
 */
export class TransactionTable {
  private readonly index: FifoMap<number>;
  private rows = new Float64Array(0);
  private addr6 = new Uint32Array(0);
  private used = 0;
  private view: Transaction;

  constructor(readonly capacity: number) {
    this.index = new FifoMap<number>(capacity);
    this.view = new Transaction(this.rows, this.addr6);
  }

  get size(): number {
    return this.index.size;
  }

  /** The transaction stored under key, or undefined. */
  get(key: number): Transaction | undefined {
    const r = this.index.get(key);
    return r === undefined ? undefined : this.view.select(r);
  }

  /** A fresh transaction under key (not yet in the table), reset. */
  add(key: number): Transaction {
    let r: number;
    if (this.used < this.capacity) {
      r = this.used++;
      this.ensureRows(this.used);
    } else {
      // Full: the oldest transaction is forgotten and its row reused.
      r = this.index.evictOldest()!;
    }
    this.index.set(key, r);
    const t = this.view.select(r);
    t.reset();
    return t;
  }

  private ensureRows(n: number): void {
    if (n * STRIDE <= this.rows.length) return;
    const rowsWanted = Math.min(this.capacity, Math.max(64, (this.rows.length / STRIDE) * 2));
    const rows = new Float64Array(rowsWanted * STRIDE);
    rows.set(this.rows);
    const addr6 = new Uint32Array(rowsWanted * MAX_KEPT_ADDRESSES * IP6_WORDS);
    addr6.set(this.addr6);
    this.rows = rows;
    this.addr6 = addr6;
    this.view = new Transaction(rows, addr6);
  }
}
