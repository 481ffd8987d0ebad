import type { Packet } from '../../decode/packet.js';
import { dstAddrText, hostPort, srcAddrText } from '../endpoints.js';
import type { Credential, LoginSink, Outcome } from './session.js';

// Logins carried in UDP datagrams (Kerberos on 88, SIP on 5060): each request
// and its reply share the client's address and port, which name the
// exchange. Exchanges are bounded in number and forgotten (an unanswered
// login reported as such) after EXCHANGE_MS.

const MAX_EXCHANGES = 4096;
const EXCHANGE_MS = 30_000;

/** Where datagram logins are reported, with the exchange's endpoints. */
export interface DatagramReporter {
  credential(c: Omit<Credential, 'frame' | 'timeMs'>): Credential;
  reportDatagram(c: Credential, outcome: Outcome, detail: string, client: string, server: string, service: string): void;
  malformedDatagram(layer: string, reason: string): void;
}

/** A protocol's login logic for one exchange. */
export interface DatagramLogins {
  message(fromClient: boolean, buf: Buffer, start: number, end: number): unknown;
  /** The exchange is forgotten: report what still waits for a verdict. */
  close(): void;
}

/** One client endpoint's exchange with a server. */
class DatagramExchange implements LoginSink {
  readonly logins: DatagramLogins;
  lastMs = 0;

  constructor(
    private readonly reporter: DatagramReporter,
    readonly client: string,
    readonly server: string,
    readonly service: string,
    open: (sink: LoginSink) => DatagramLogins,
  ) {
    this.logins = open(this);
  }

  credential(c: Omit<Credential, 'frame' | 'timeMs'>): Credential {
    return this.reporter.credential(c);
  }

  report(c: Credential, outcome: Outcome, detail: string): void {
    this.reporter.reportDatagram(c, outcome, detail, this.client, this.server, this.service);
  }

  malformed(layer: string, reason: string): void {
    this.reporter.malformedDatagram(layer, reason);
  }
}

export class DatagramExchanges {
  private readonly exchanges = new Map<string, DatagramExchange>();

  constructor(
    private readonly reporter: DatagramReporter,
    private readonly open: (sink: LoginSink) => DatagramLogins,
  ) {}

  get size(): number {
    return this.exchanges.size;
  }

  /** A datagram of the protocol, sent to the server (`toServer`) or from it. */
  handle(pkt: Packet, toServer: boolean): void {
    const client = toServer ? srcAddrText(pkt) : dstAddrText(pkt);
    const server = toServer ? dstAddrText(pkt) : srcAddrText(pkt);
    const clientPort = toServer ? pkt.srcPort : pkt.dstPort;
    const serverPort = toServer ? pkt.dstPort : pkt.srcPort;
    const key = `${client}|${clientPort}|${server}|${serverPort}`;
    this.expire(pkt.timeMs);
    let x = this.exchanges.get(key);
    if (x === undefined) {
      // Only a request opens an exchange: a stray reply has nothing to answer.
      if (!toServer) return;
      if (this.exchanges.size >= MAX_EXCHANGES) this.forget(this.exchanges.keys().next().value!);
      x = new DatagramExchange(this.reporter, client, server, hostPort(server, serverPort), this.open);
      this.exchanges.set(key, x);
    } else {
      // Kept in order of last use, so the oldest is first.
      this.exchanges.delete(key);
      this.exchanges.set(key, x);
    }
    x.lastMs = pkt.timeMs;
    x.logins.message(toServer, pkt.buf, pkt.payloadStart, pkt.payloadEnd);
  }

  private expire(now: number): void {
    for (const [key, x] of this.exchanges) {
      if (now - x.lastMs < EXCHANGE_MS) return;
      this.forget(key);
    }
  }

  private forget(key: string): void {
    const x = this.exchanges.get(key);
    this.exchanges.delete(key);
    x?.logins.close();
  }

  finish(): void {
    for (const key of [...this.exchanges.keys()]) this.forget(key);
  }
}
