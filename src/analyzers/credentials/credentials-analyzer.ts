import { checkKeys, positiveInt, sectionOf, type ConfigSection } from '../../config/config.js';
import type { Packet } from '../../decode/packet.js';
import type { Entity } from '../../findings/finding.js';
import type { Analyzer, AnalyzerContext, AnalyzerDefinition, Report } from '../analyzer.js';
import { TcpReassembler, type TcpFlow } from '../tcp/reassembly.js';
import { classifyClient, classifyServer, FTP_OR_SMTP, looksLikeClientFirst, NEED_MORE, NOT_CLEARTEXT, Proto, SERVER_SILENT, SNIFF_BYTES, WELL_KNOWN_PORTS } from './classify.js';
import { FtpParser } from './ftp.js';
import { HttpParser } from './http.js';
import { ImapParser } from './imap.js';
import { DatagramExchanges, type DatagramReporter } from './datagrams.js';
import { KERBEROS_PORT, KerberosLogins, KerberosParser } from './kerberos.js';
import { LdapParser } from './ldap.js';
import { MqttParser } from './mqtt.js';
import { MysqlParser } from './mysql.js';
import { NtlmRelayWatch, type NtlmRelay } from './ntlm-relay.js';
import { Pop3Parser } from './pop3.js';
import { PostgresParser } from './postgres.js';
import { RedisParser } from './redis.js';
import type { Credential, Outcome, ProtocolParser, Session } from './session.js';
import { SipLogins, SipParser, SIP_PORT, sipDirection } from './sip.js';
import { credentialReport, secretNoun } from './report.js';
import { SocksParser } from './socks.js';
import { SmbParser } from './smb.js';
import { SmtpParser } from './smtp.js';
import { TdsParser } from './tds.js';
import { TelnetParser } from './telnet.js';
import { VncParser } from './vnc.js';
import { BufferBudget, capText } from './text.js';

// Cleartext credentials a sniffer on this network would harvest (T1040):
// every TCP flow goes through a bounded reassembler, is recognised by its
// first bytes (or its port), and the protocol's parser reports each login
// with the server's verdict. Secrets are handed to the engine, which redacts
// them unless the operator asked to see them. Servers that offered STARTTLS
// to a client that then logged in without it are reported too.

export interface CredentialsConfig {
  /** TCP flows followed at once (least recently active evicted beyond it). */
  maxFlows: number;
  /** Bytes of each direction of a flow read; logins happen at the start. */
  streamBytes: number;
  /** Out-of-order bytes held over all flows. */
  maxBufferedBytes: number;
}

export const CREDENTIALS_SECTION: ConfigSection<CredentialsConfig> = {
  key: 'credentials',
  parse(doc, where) {
    checkKeys(doc, ['max_flows', 'stream_bytes', 'max_buffered_bytes'], where);
    return {
      maxFlows: positiveInt(doc.max_flows, 65536, `${where}.max_flows`),
      streamBytes: positiveInt(doc.stream_bytes, 65536, `${where}.stream_bytes`),
      maxBufferedBytes: positiveInt(doc.max_buffered_bytes, 16 * 1024 * 1024, `${where}.max_buffered_bytes`),
    };
  },
};

export const CREDENTIAL_RULES = ['cred-ftp', 'cred-telnet', 'cred-http-basic', 'cred-http-form', 'cred-pop3', 'cred-imap', 'cred-smtp', 'cred-ldap', 'cred-smb', 'cred-http-ntlm', 'cred-http-digest', 'cred-http-token', 'cred-http-session', 'cred-kerberos', 'cred-postgres', 'cred-mysql', 'cred-sip', 'cred-redis', 'cred-socks', 'cred-mqtt', 'cred-vnc', 'cred-mssql', 'ntlm-relay', 'starttls-not-used'] as const;

const STARTTLS_PROTOCOLS = new Set(['POP3', 'IMAP', 'SMTP']);
/** Partial lines, LDAP messages, literals, form bodies and first bytes held by all flows' parsers together. */
const PARSER_BUFFER_BYTES = 32 * 1024 * 1024;

/** Per-flow state: which protocol, its parser, and what the server offered. */
class FlowSession implements Session {
  parser: ProtocolParser | null = null;
  done = false;
  /** What the server's first bytes said, before the client decided it. */
  serverSaid = NEED_MORE;
  /** First bytes of each direction, kept until the protocol is known. */
  private clientSniff: Buffer | null = null;
  private serverSniff: Buffer | null = null;
  startTlsOffered = false;
  startTlsReported = false;
  tlsUpgraded = false;
  /** Set while the parser reads a chunk straight from the reassembler (not bytes held while sniffing). */
  live = false;

  constructor(
    private readonly analyzer: CredentialsAnalyzer,
    readonly flow: TcpFlow<FlowSession>,
  ) {}

  get frame(): number {
    return this.analyzer.frame;
  }

  get timeMs(): number {
    return this.analyzer.timeMs;
  }

  get budget(): BufferBudget {
    return this.analyzer.budget;
  }

  credential(c: Omit<Credential, 'frame' | 'timeMs'>): Credential {
    return this.analyzer.credential(c);
  }

  report(c: Credential, outcome: Outcome, detail: string): void {
    this.analyzer.reportCredential(this, c, outcome, detail);
  }

  offerStartTls(): void {
    this.startTlsOffered = true;
  }

  upgraded(): void {
    this.tlsUpgraded = true;
    this.stop();
  }

  stop(): void {
    this.done = true;
    this.analyzer.stopFlow(this.flow);
  }

  passOver(fromClient: boolean, n: number): boolean {
    // Bytes replayed from the sniffing buffers do not end where the stream is: passing over would misalign.
    return this.live && this.analyzer.passOver(this.flow, fromClient, n);
  }

  malformed(layer: string, reason: string): void {
    this.analyzer.malformed(this.flow, layer, reason);
  }

  /** Bytes of a flow whose protocol is not known yet. */
  sniff(fromClient: boolean, buf: Buffer, start: number, end: number): void {
    const held = fromClient ? this.clientSniff : this.serverSniff;
    // A server that keeps talking without a recognisable greeting: its first bytes are all we keep.
    if (!fromClient && held !== null && held.length >= SNIFF_BYTES) return;
    let b = buf;
    let s = start;
    let e = end;
    let taken = end - start;
    if (held !== null) {
      taken = Math.min(end - start, SNIFF_BYTES - held.length);
      b = Buffer.concat([held, buf.subarray(start, start + taken)]);
      s = 0;
      e = b.length;
    }
    if (!fromClient && held === null && !this.flow.handshake && this.clientSniff === null && looksLikeClientFirst(b, s, e) && this.analyzer.swapRoles(this.flow)) {
      fromClient = true;
    }
    const port = this.flow.serverPort;
    let verdict: number;
    if (fromClient) {
      verdict = classifyClient(b, s, e, this.serverSaid, port);
    } else {
      verdict = classifyServer(b, s, e, port);
      if (verdict === FTP_OR_SMTP || verdict === SERVER_SILENT) {
        this.serverSaid = verdict;
        verdict = NEED_MORE;
      }
    }
    if (verdict === NEED_MORE && e - s >= SNIFF_BYTES) verdict = fromClient ? NOT_CLEARTEXT : NEED_MORE;
    if (verdict === NOT_CLEARTEXT) {
      this.release();
      this.stop();
      return;
    }
    if (verdict === NEED_MORE) {
      // Keep at most SNIFF_BYTES of each direction while waiting, within the budget.
      const keep = b.subarray(s, Math.min(e, s + SNIFF_BYTES));
      const had = held?.length ?? 0;
      if (!this.budget.take(keep.length - had)) {
        this.release();
        this.stop();
        return;
      }
      if (fromClient) this.clientSniff = Buffer.from(keep);
      else this.serverSniff = Buffer.from(keep);
      return;
    }
    this.parser = this.analyzer.parserFor(verdict as Proto, this);
    // Replay what was held, the server's greeting first, then the rest of this chunk.
    const serverHeld = fromClient ? this.serverSniff : null;
    const clientHeld = fromClient ? null : this.clientSniff;
    this.release();
    if (serverHeld) this.parser.data(false, serverHeld, 0, serverHeld.length);
    if (clientHeld) this.parser.data(true, clientHeld, 0, clientHeld.length);
    if (this.done) return;
    this.parser.data(fromClient, b, s, e);
    if (held !== null && taken < end - start && !this.done) this.parser.data(fromClient, buf, start + taken, end);
  }

  private release(): void {
    this.budget.give((this.clientSniff?.length ?? 0) + (this.serverSniff?.length ?? 0));
    this.clientSniff = null;
    this.serverSniff = null;
  }

  /** The flow ended or the parser is done: pending logins are reported, buffers given back. */
  end(): void {
    this.release();
    const p = this.parser;
    this.parser = null;
    if (p) {
      p.close();
      p.release();
    }
  }
}

export class CredentialsAnalyzer implements Analyzer, DatagramReporter {
  private readonly reasm: TcpReassembler<FlowSession>;
  private readonly kdc = new DatagramExchanges(this, (sink) => new KerberosLogins(sink));
  private readonly sip = new DatagramExchanges(this, (sink) => new SipLogins(sink));
  private readonly relays = new NtlmRelayWatch();
  private pkt: Packet | null = null;
  /** What all parsers may buffer at once. */
  readonly budget: BufferBudget;
  frame = 0;
  timeMs = 0;

  constructor(
    private readonly ctx: AnalyzerContext,
    parserBufferBytes = PARSER_BUFFER_BYTES,
  ) {
    this.budget = new BufferBudget(parserBufferBytes);
    const cfg = sectionOf(ctx.config, CREDENTIALS_SECTION);
    this.reasm = new TcpReassembler<FlowSession>({
      onData: (flow, fromClient, buf, start, end) => this.data(flow, fromClient, buf, start, end),
      onGap: (flow, fromClient) => flow.user?.parser?.gap(fromClient),
      onClose: (flow) => flow.user?.end(),
      isServerPort: (port) => port < 1024 || WELL_KNOWN_PORTS.has(port),
      maxFlows: cfg.maxFlows,
      maxBytesPerDirection: cfg.streamBytes,
      maxBufferedPerDirection: cfg.streamBytes,
      maxBufferedBytes: cfg.maxBufferedBytes,
    });
  }

  onTcp(pkt: Packet): void {
    this.pkt = pkt;
    this.frame = pkt.frameNo;
    this.timeMs = pkt.timeMs;
    this.reasm.handle(pkt);
    this.pkt = null;
  }

  /** Kerberos and SIP over UDP; the other protocols are TCP. */
  onUdp(pkt: Packet): void {
    const kerberos = pkt.dstPort === KERBEROS_PORT || pkt.srcPort === KERBEROS_PORT;
    if (!kerberos && pkt.dstPort !== SIP_PORT && pkt.srcPort !== SIP_PORT) return;
    // A SIP request goes to the server whatever the ports (phones listen on 5060 too).
    const sipRequest = kerberos ? undefined : sipDirection(pkt.buf, pkt.payloadStart, pkt.payloadEnd);
    if (!kerberos && sipRequest === undefined) return;
    this.pkt = pkt;
    this.frame = pkt.frameNo;
    this.timeMs = pkt.timeMs;
    if (kerberos) this.kdc.handle(pkt, pkt.dstPort === KERBEROS_PORT);
    else this.sip.handle(pkt, sipRequest!);
    this.pkt = null;
  }

  finish(): void {
    this.reasm.finish();
    this.kdc.finish();
    this.sip.finish();
    this.relays.clear();
  }

  stateSize(): number {
    return this.reasm.size + this.kdc.size + this.sip.size + this.relays.size;
  }

  private data(flow: TcpFlow<FlowSession>, fromClient: boolean, buf: Buffer, start: number, end: number): void {
    let s = flow.user;
    if (s === undefined) {
      s = new FlowSession(this, flow);
      flow.user = s;
    }
    if (s.done) return;
    if (s.parser) {
      s.live = true;
      s.parser.data(fromClient, buf, start, end);
      s.live = false;
    } else {
      s.sniff(fromClient, buf, start, end);
    }
    if (s.done) s.end();
  }

  parserFor(proto: Proto, session: Session): ProtocolParser {
    switch (proto) {
      case Proto.Ftp:
        return new FtpParser(session);
      case Proto.Telnet:
        return new TelnetParser(session);
      case Proto.Http:
        return new HttpParser(session);
      case Proto.Pop3:
        return new Pop3Parser(session);
      case Proto.Imap:
        return new ImapParser(session);
      case Proto.Smtp:
        return new SmtpParser(session);
      case Proto.Ldap:
        return new LdapParser(session);
      case Proto.Smb:
        return new SmbParser(session);
      case Proto.Kerberos:
        return new KerberosParser(session);
      case Proto.Socks:
        return new SocksParser(session);
      case Proto.Postgres:
        return new PostgresParser(session);
      case Proto.Mysql:
        return new MysqlParser(session);
      case Proto.Sip:
        return new SipParser(session);
      case Proto.Redis:
        return new RedisParser(session);
      case Proto.Mqtt:
        return new MqttParser(session);
      case Proto.Vnc:
        return new VncParser(session);
      case Proto.Tds:
        return new TdsParser(session);
    }
  }

  stopFlow(flow: TcpFlow<FlowSession>): void {
    if (flow.inTable) this.reasm.ignore(flow);
  }

  swapRoles(flow: TcpFlow<FlowSession>): boolean {
    return this.reasm.swapRoles(flow);
  }

  passOver(flow: TcpFlow<FlowSession>, fromClient: boolean, n: number): boolean {
    return this.reasm.skipAhead(flow, fromClient, n);
  }

  malformed(flow: TcpFlow<FlowSession>, layer: string, reason: string): void {
    if (this.pkt !== null && this.reasm.current === flow) this.pkt.markMalformed(layer, reason);
  }

  reportCredential(session: FlowSession, c: Credential, outcome: Outcome, detail: string): void {
    const flow = session.flow;
    const client = flow.clientIp();
    const server = flow.serverEndpoint();
    const r = credentialReport(c, outcome, detail, client, flow.serverIp(), server);
    const entities = r.entities;
    this.emit(flow, c.rule, `${client}|${server}|${c.user}`, c.timeMs, r);
    if (c.relayKey !== undefined) {
      const relay = this.relays.observe(c.relayKey, { client, serverIp: flow.serverIp(), server, protocol: c.protocol, user: c.user, timeMs: c.timeMs, outcome });
      if (relay) this.emit(flow, 'ntlm-relay', `${relay.relay ?? relay.from.client}|${relay.to.server}|${c.user}`, c.timeMs, relayReport(relay));
    }
    if (session.startTlsOffered && !session.tlsUpgraded && !session.startTlsReported && STARTTLS_PROTOCOLS.has(c.protocol)) {
      session.startTlsReported = true;
      this.emit(flow, 'starttls-not-used', `${c.protocol}|${client}|${server}`, c.timeMs, {
        message: `${c.protocol} server ${server} offered STARTTLS, but ${client} logged in as '${c.user}' without it: the ${secretNoun(c)} crossed the network in cleartext`,
        entities: entities.slice(0, 3),
      });
    }
  }

  // --- Kerberos and SIP over UDP (DatagramReporter) ---------------------------

  credential(c: Omit<Credential, 'frame' | 'timeMs'>): Credential {
    return { ...c, user: capText(c.user), frame: this.frame, timeMs: this.timeMs };
  }

  reportDatagram(c: Credential, outcome: Outcome, detail: string, client: string, server: string, service: string): void {
    const r = credentialReport(c, outcome, detail, client, server, service);
    this.emit(null, c.rule, `${client}|${service}|${c.user}`, c.timeMs, r);
  }

  malformedDatagram(layer: string, reason: string): void {
    this.pkt?.markMalformed(layer, reason);
  }

  /** A report about `flow`, or (null) about the datagram being handled. */
  private emit(flow: TcpFlow<FlowSession> | null, rule: string, key: string, timeMs: number, r: Report): void {
    // Evidence is the packet being handled when it belongs to the flow; otherwise (timeouts, end of input) none.
    if (this.pkt !== null && (flow === null || this.reasm.current === flow)) this.ctx.report(rule, key, this.pkt, r);
    else this.ctx.reportAt(rule, key, timeMs, r);
  }
}

function relayReport(r: NtlmRelay): Report {
  const { from, to, relay } = r;
  const entities: Entity[] = [
    { type: 'ip', value: from.client, role: 'victim' },
    { type: 'host', value: from.server, role: 'relay' },
    { type: 'host', value: to.server, role: 'target' },
    { type: 'ip', value: to.serverIp, role: 'target' },
    { type: 'user', value: from.user, role: 'relayed' },
  ];
  if (relay !== null) entities.unshift({ type: 'ip', value: relay, role: 'attacker' });
  const legs = `${from.client} authenticated as '${from.user}' to ${from.server} (${from.protocol}), and the same NTLM response went from ${to.client} to ${to.server} (${to.protocol})`;
  const result =
    to.outcome === 'succeeded' ? `${relay} logged in to ${to.server} as the user` : to.outcome === 'failed' ? `${to.server} refused it` : `${to.server}'s answer was not seen`;
  return relay !== null
    ? { message: `NTLM relay by ${relay}: ${legs}; ${result} (ntlmrelayx, MultiRelay, Inveigh)`, entities, severity: 'high' }
    : { message: `NTLM response replayed: ${legs}; no address links the two connections (a relay behind another address, or a replay)`, entities, severity: 'medium', confidence: 0.7 };
}

export const credentialsAnalyzer: AnalyzerDefinition = {
  name: 'credentials',
  rules: CREDENTIAL_RULES,
  config: CREDENTIALS_SECTION as ConfigSection<unknown>,
  create: (ctx) => new CredentialsAnalyzer(ctx),
};
