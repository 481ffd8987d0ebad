import { startsHandshakeRecord } from '../../decode/tls.js';
import { looksLikeHttpRequest } from './http.js';
import { ldapRequestVerdict } from './ldap.js';
import { kerberosRequestVerdict } from './kerberos.js';
import { mqttConnectVerdict } from './mqtt.js';
import { mysqlGreetingVerdict } from './mysql.js';
import { postgresRequestVerdict } from './postgres.js';
import { looksLikeRespCommand } from './redis.js';
import { sipDirection } from './sip.js';
import { smbRequestVerdict } from './smb.js';
import { socks5GreetingVerdict } from './socks.js';
import { tdsClientVerdict } from './tds.js';
import { isRfbGreeting } from './vnc.js';
import { startsWithCI } from './text.js';

// Which cleartext protocol a TCP flow speaks, from its first bytes (greeting
// or first command) and, when the content does not say, its server port.
// Content wins over ports, so LDAP on 32681 or FTP on 2121 are recognised and
// an HTTP port carrying something else is not mistaken for HTTP.

export const enum Proto {
  Ftp = 1,
  Telnet,
  Http,
  Pop3,
  Imap,
  Smtp,
  Ldap,
  Smb,
  Kerberos,
  Postgres,
  Mysql,
  Sip,
  Redis,
  Socks,
  Mqtt,
  Vnc,
  Tds,
}

/** Verdicts besides a Proto. */
export const NOT_CLEARTEXT = -1;
export const NEED_MORE = 0;
/** A "220" greeting that names neither FTP nor SMTP: the client's first command decides. */
export const FTP_OR_SMTP = 100;
/** The server's greeting says nothing: the client's first command (or the port) decides. */
export const SERVER_SILENT = 101;

export const PROTO_NAMES: Record<number, string> = { 1: 'FTP', 2: 'Telnet', 3: 'HTTP', 4: 'POP3', 5: 'IMAP', 6: 'SMTP', 7: 'LDAP', 8: 'SMB', 9: 'Kerberos', 10: 'PostgreSQL', 11: 'MySQL', 12: 'SIP', 13: 'Redis', 14: 'SOCKS5', 15: 'MQTT', 16: 'VNC', 17: 'MS-SQL' };

/** Ports that name a protocol when the content alone does not. */
export const WELL_KNOWN_PORTS: ReadonlyMap<number, Proto> = new Map([
  [21, Proto.Ftp],
  [23, Proto.Telnet],
  [25, Proto.Smtp],
  [587, Proto.Smtp],
  [2525, Proto.Smtp],
  [80, Proto.Http],
  [8000, Proto.Http],
  [8008, Proto.Http],
  [8080, Proto.Http],
  [8081, Proto.Http],
  [8888, Proto.Http],
  [3128, Proto.Http],
  [110, Proto.Pop3],
  [143, Proto.Imap],
  [389, Proto.Ldap],
  [3268, Proto.Ldap],
  [139, Proto.Smb],
  [445, Proto.Smb],
  [88, Proto.Kerberos],
  [5432, Proto.Postgres],
  [3306, Proto.Mysql],
  [5060, Proto.Sip],
  [6379, Proto.Redis],
  [1080, Proto.Socks],
  [1883, Proto.Mqtt],
  [1433, Proto.Tds],
  // VNC displays :0 to :9.
  ...Array.from({ length: 10 }, (_, d): [number, Proto] => [5900 + d, Proto.Vnc]),
]);

/** Protocols a port alone may name: text protocols whose first lines can be unremarkable. The others' first messages are unmistakable, so content decides. */
const NAMED_BY_PORT: ReadonlySet<number> = new Set([Proto.Ftp, Proto.Telnet, Proto.Smtp, Proto.Pop3, Proto.Imap, Proto.Redis]);

function portFallback(port: number): number {
  const p = WELL_KNOWN_PORTS.get(port);
  return p !== undefined && NAMED_BY_PORT.has(p) ? p : NOT_CLEARTEXT;
}

/** How many bytes of a direction are looked at before deciding. */
export const SNIFF_BYTES = 512;

const IAC = 0xff;

function isTelnetCommand(buf: Buffer, start: number, end: number): boolean {
  return end - start >= 2 && buf[start] === IAC && buf[start + 1]! >= 0xf0;
}

/** Control bytes before the first line end: a binary protocol, not a text one. */
function isBinary(buf: Buffer, start: number, end: number): boolean {
  const limit = Math.min(end, start + SNIFF_BYTES);
  for (let i = start; i < limit; i++) {
    const b = buf[i]!;
    if (b === 0x0a) return false;
    if (b < 0x20 ? b !== 0x09 && b !== 0x0d : b === 0x7f) return true;
  }
  return false;
}

function lineEnd(buf: Buffer, start: number, end: number): number {
  const limit = Math.min(end, start + SNIFF_BYTES);
  for (let i = start; i < limit; i++) if (buf[i] === 0x0a) return i;
  return -1;
}

/** The server's first bytes: a Proto, FTP_OR_SMTP, SERVER_SILENT, NEED_MORE or NOT_CLEARTEXT. */
export function classifyServer(buf: Buffer, start: number, end: number, serverPort: number): number {
  if (startsHandshakeRecord(buf, start, end)) return NOT_CLEARTEXT;
  if (isTelnetCommand(buf, start, end)) return Proto.Telnet;
  if (startsWithCI(buf, start, end, 'SSH-')) return NOT_CLEARTEXT;
  if (isRfbGreeting(buf, start, end)) return Proto.Vnc;
  const mysql = mysqlGreetingVerdict(buf, start, end);
  if (mysql === 1) return Proto.Mysql;
  if (mysql === 0) return NEED_MORE;
  if (isBinary(buf, start, end)) return SERVER_SILENT;
  const nl = lineEnd(buf, start, end);
  if (nl < 0) {
    if (end - start < SNIFF_BYTES) return serverPort === 23 && end - start >= 4 ? Proto.Telnet : NEED_MORE;
    return SERVER_SILENT;
  }
  if (startsWithCI(buf, start, nl, '+OK')) return Proto.Pop3;
  if (startsWithCI(buf, start, nl, '* OK') || startsWithCI(buf, start, nl, '* PREAUTH') || startsWithCI(buf, start, nl, '* BYE')) return Proto.Imap;
  if (startsWithCI(buf, start, nl, '220')) {
    const line = buf.toString('latin1', start, nl).toUpperCase();
    if (/FTP/.test(line)) return Proto.Ftp;
    if (/SMTP|\bMAIL\b|POSTFIX|EXIM|SENDMAIL/.test(line)) return Proto.Smtp;
    const byPort = WELL_KNOWN_PORTS.get(serverPort);
    if (byPort === Proto.Ftp || byPort === Proto.Smtp) return byPort;
    return FTP_OR_SMTP;
  }
  return SERVER_SILENT;
}

const IMAP_COMMANDS = /^[A-Za-z0-9.+_-]{1,32} (CAPABILITY|LOGIN|AUTHENTICATE|STARTTLS|ID|NOOP|LOGOUT|ENABLE|SELECT|EXAMINE|LIST)\b/i;
const POP3_ONLY = /^(CAPA|STLS|APOP|UIDL|STAT)\b/i;
const SHARED_USER_PASS = /^(USER|PASS|AUTH|QUIT|NOOP)\b/i;

/** Binary protocols whose client's first message names them: 1 it does, 0 too few bytes to say, -1 it does not. */
const FIRST_MESSAGES: readonly (readonly [(buf: Buffer, start: number, end: number) => number, Proto])[] = [
  [socks5GreetingVerdict, Proto.Socks],
  [tdsClientVerdict, Proto.Tds],
  [mqttConnectVerdict, Proto.Mqtt],
  [smbRequestVerdict, Proto.Smb],
  [kerberosRequestVerdict, Proto.Kerberos],
  [postgresRequestVerdict, Proto.Postgres],
];

/** The client's first bytes, knowing what the server said (a Proto, FTP_OR_SMTP, SERVER_SILENT or 0). */
export function classifyClient(buf: Buffer, start: number, end: number, serverSaid: number, serverPort: number): number {
  if (startsHandshakeRecord(buf, start, end)) return NOT_CLEARTEXT;
  for (const [verdict, proto] of FIRST_MESSAGES) {
    const v = verdict(buf, start, end);
    if (v === 1) return proto;
    if (v === 0) return NEED_MORE;
  }
  const ldap = ldapRequestVerdict(buf, start, end);
  if (ldap === 1) return Proto.Ldap;
  if (ldap === 0) return end - start < SNIFF_BYTES ? NEED_MORE : NOT_CLEARTEXT;
  if (isTelnetCommand(buf, start, end)) return Proto.Telnet;
  if (serverSaid === Proto.Telnet) return Proto.Telnet;
  // After a text greeting ("220 ready"), control bytes in the client's first line are keys typed
  // into nc or telnet (arrows, escapes), not a binary protocol.
  if (serverSaid !== FTP_OR_SMTP && isBinary(buf, start, end)) return NOT_CLEARTEXT;
  const nl = lineEnd(buf, start, end);
  if (nl < 0) return end - start < SNIFF_BYTES ? NEED_MORE : portFallback(serverPort);
  if (looksLikeHttpRequest(buf, start, end)) return Proto.Http;
  if (sipDirection(buf, start, end) === true) return Proto.Sip;
  if (looksLikeRespCommand(buf, start, end)) return Proto.Redis;
  const line = buf.toString('latin1', start, nl).trim();
  if (/^(EHLO|HELO|LHLO)\b/i.test(line)) return Proto.Smtp;
  if (serverSaid === Proto.Pop3 || serverSaid === Proto.Imap || serverSaid === Proto.Ftp || serverSaid === Proto.Smtp) return serverSaid;
  if (IMAP_COMMANDS.test(line) && !SHARED_USER_PASS.test(line)) return Proto.Imap;
  if (POP3_ONLY.test(line)) return Proto.Pop3;
  if (/^AUTH (TLS|SSL)\b/i.test(line)) return Proto.Ftp;
  if (serverSaid === FTP_OR_SMTP) return Proto.Ftp;
  return portFallback(serverPort);
}

/** Content the server side of a flow should never send first: the roles were guessed the wrong way round. */
export function looksLikeClientFirst(buf: Buffer, start: number, end: number): boolean {
  return ldapRequestVerdict(buf, start, end) === 1 || looksLikeHttpRequest(buf, start, end);
}
