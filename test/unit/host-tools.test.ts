import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildIdIndex, readBuildId } from '../../src/host/build-id.js';
import { classifyExec, parseArgs, type ExecFacts, type ToolMatch } from '../../src/host/tools.js';
import { withTempDir } from '../helpers/captures.js';

// The classification table: what runs (by executable, argv[0], build id,
// script or code) and whether this run captures or attacks.

interface Row {
  name: string;
  facts: ExecFacts;
  /** undefined: must not be classified at all. */
  expect?: Partial<ToolMatch>;
}

const exec = (exe: string, ...argv: string[]): ExecFacts => ({ exe, argv });

const ROWS: Row[] = [
  // sniffers, and what their arguments say
  { name: 'plain tcpdump', facts: exec('/usr/bin/tcpdump', 'tcpdump', '-c', '1', '-i', 'lo'), expect: { tool: 'tcpdump', technique: 'T1040', kind: 'sniffer', via: 'exe', interfaces: ['lo'], allInterfaces: false, writes: undefined } },
  { name: 'clustered flags with attached value', facts: exec('/usr/bin/tcpdump', 'tcpdump', '-nnieth0', '-w/tmp/x.pcap'), expect: { interfaces: ['eth0'], writes: '/tmp/x.pcap' } },
  { name: 'tcpdump -i any', facts: exec('/usr/bin/tcpdump', 'tcpdump', '-i', 'any', '-s', '0'), expect: { allInterfaces: true } },
  { name: 'tcpdump --interface=eth1', facts: exec('/usr/bin/tcpdump', 'tcpdump', '--interface=eth1', 'port', '80'), expect: { interfaces: ['eth1'] } },
  { name: 'tshark writing a file', facts: exec('/usr/bin/tshark', 'tshark', '-i', 'eth0', '-w', 'out.pcapng'), expect: { tool: 'tshark', writes: 'out.pcapng' } },
  { name: 'dumpcap to stdout is a helper of tshark', facts: exec('/usr/bin/dumpcap', 'dumpcap', '-n', '-i', 'lo', '-Z', 'none', '-w', '-'), expect: { tool: 'dumpcap', writes: '-', helperOf: ['tshark', 'wireshark', 'termshark'] } },
  { name: 'ngrep on any', facts: exec('/usr/bin/ngrep', 'ngrep', '-q', '-d', 'any', 'PASS'), expect: { tool: 'ngrep', allInterfaces: true } },
  { name: 'netsniff-ng long options', facts: exec('/usr/sbin/netsniff-ng', 'netsniff-ng', '--in', 'eth0', '--out', 'dump.pcap', '--silent'), expect: { tool: 'netsniff-ng', interfaces: ['eth0'], writes: 'dump.pcap' } },
  { name: 'tcpflow writes flow files by default', facts: exec('/usr/bin/tcpflow', 'tcpflow', '-i', 'eth0'), expect: { tool: 'tcpflow', writes: 'files' } },
  { name: 'tcpflow -c prints to the console', facts: exec('/usr/bin/tcpflow', 'tcpflow', '-c', '-i', 'eth0'), expect: { tool: 'tcpflow', writes: undefined } },
  { name: 'urlsnarf', facts: exec('/usr/sbin/urlsnarf', 'urlsnarf', '-i', 'eth0'), expect: { tool: 'urlsnarf', technique: 'T1040' } },
  { name: 'termshark live', facts: exec('/usr/bin/termshark', 'termshark', '-i', 'eth0'), expect: { tool: 'termshark' } },
  { name: 'airodump-ng with its interface as argument', facts: exec('/usr/sbin/airodump-ng', 'airodump-ng', '-w', 'cap', 'wlan0mon'), expect: { tool: 'airodump-ng', interfaces: ['wlan0mon'], writes: 'cap' } },
  { name: 'zeek live', facts: exec('/opt/zeek/bin/zeek', 'zeek', '-i', 'eth0', 'local'), expect: { tool: 'zeek', interfaces: ['eth0'] } },
  { name: 'suricata af-packet', facts: exec('/usr/bin/suricata', 'suricata', '-c', '/etc/suricata/suricata.yaml', '--af-packet'), expect: { tool: 'suricata' } },
  { name: 'snort live', facts: exec('/usr/sbin/snort', 'snort', '-q', '-i', 'eth0', '-c', '/etc/snort/snort.conf'), expect: { tool: 'snort', interfaces: ['eth0'] } },
  { name: 'kismet', facts: exec('/usr/bin/kismet', 'kismet', '-c', 'wlan0'), expect: { tool: 'kismet', interfaces: ['wlan0'] } },

  // renamed binaries
  { name: 'argv[0] disguised, exe tells', facts: exec('/usr/bin/tcpdump', '[kworker/0:1]', '-i', 'eth0'), expect: { tool: 'tcpdump', via: 'exe' } },
  { name: 'renamed copy called through a tcpdump symlink', facts: exec('/tmp/.x', 'tcpdump', '-i', 'eth0'), expect: { tool: 'tcpdump', via: 'argv0' } },
  { name: 'renamed copy recognised by build id', facts: { exe: '/tmp/.cache/upd', argv: ['/tmp/.cache/upd', '-i', 'lo'], buildIdTool: 'tcpdump' }, expect: { tool: 'tcpdump', via: 'build-id', interfaces: ['lo'] } },
  { name: 'deleted executable', facts: exec('/tmp/tcpdump (deleted)', 'x', '-i', 'eth0'), expect: { tool: 'tcpdump', via: 'exe' } },

  // adversary in the middle, refined by arguments
  { name: 'ettercap ARP poisoning', facts: exec('/usr/bin/ettercap', 'ettercap', '-T', '-q', '-i', 'eth0', '-M', 'arp:remote', '/10.0.0.1//', '/10.0.0.5//'), expect: { tool: 'ettercap', technique: 'T1557.002', kind: 'aitm' } },
  { name: 'ettercap --mitm=dhcp', facts: exec('/usr/bin/ettercap', 'ettercap', '-Tq', '--mitm=dhcp:10.0.0.100-150/255.255.255.0/10.0.0.1'), expect: { technique: 'T1557.003' } },
  { name: 'ettercap without a MITM method only sniffs', facts: exec('/usr/bin/ettercap', 'ettercap', '-T', '-i', 'eth0'), expect: { tool: 'ettercap', technique: 'T1040', kind: 'sniffer' } },
  { name: 'arpspoof with targets', facts: exec('/usr/sbin/arpspoof', 'arpspoof', '-i', 'eth0', '-t', '10.0.0.5', '10.0.0.1'), expect: { tool: 'arpspoof', technique: 'T1557.002', interfaces: ['eth0'] } },
  { name: 'bettercap with arp.spoof', facts: exec('/usr/bin/bettercap', 'bettercap', '-iface', 'eth0', '-eval', 'set arp.spoof.targets 10.0.0.5; arp.spoof on; net.sniff on'), expect: { tool: 'bettercap', technique: 'T1557.002' } },
  { name: 'bettercap alone', facts: exec('/usr/bin/bettercap', 'bettercap', '-iface', 'eth0'), expect: { tool: 'bettercap', technique: 'T1557' } },
  { name: 'yersinia dhcp attack', facts: exec('/usr/bin/yersinia', 'yersinia', 'dhcp', '-attack', '1', '-interface', 'eth0'), expect: { tool: 'yersinia', technique: 'T1557.003' } },
  { name: 'mitmdump saving flows', facts: exec('/usr/bin/mitmdump', 'mitmdump', '-w', 'flows', '--mode', 'transparent'), expect: { tool: 'mitmproxy', technique: 'T1557', writes: 'flows' } },
  { name: 'sslstrip', facts: exec('/usr/bin/sslstrip', 'sslstrip', '-l', '8080'), expect: { tool: 'sslstrip', technique: 'T1557' } },

  // interpreters: the script and its arguments, or the code
  { name: 'Responder.py under python3', facts: exec('/usr/bin/python3.11', 'python3', 'Responder.py', '-I', 'eth0', '-wd'), expect: { tool: 'responder', technique: 'T1557.001', via: 'script', interfaces: ['eth0'] } },
  { name: 'Kali responder shell wrapper', facts: exec('/usr/bin/dash', '/bin/sh', '/usr/sbin/responder', '-I', 'eth0'), expect: { tool: 'responder', via: 'script' } },
  { name: 'mitm6 entry point (shebang)', facts: exec('/usr/bin/python3.11', '/usr/bin/python3', '/usr/local/bin/mitm6', '-i', 'eth0', '-d', 'corp.local'), expect: { tool: 'mitm6', technique: 'T1557.003' } },
  { name: 'ntlmrelayx after interpreter options', facts: exec('/usr/bin/python3.11', 'python3', '-u', '-W', 'ignore', 'ntlmrelayx.py', '-t', 'smb://10.0.0.9'), expect: { tool: 'impacket relay', technique: 'T1557.001' } },
  { name: 'impacket sniff.py', facts: exec('/usr/bin/python3.11', 'python3', '/opt/impacket/examples/sniff.py'), expect: { tool: 'impacket sniff', technique: 'T1040' } },
  { name: 'scapy sniff() in python -c', facts: exec('/usr/bin/python3.11', 'python3', '-c', "from scapy.all import sniff; sniff(iface='lo', count=1)"), expect: { tool: 'scapy', technique: 'T1040', via: 'code', interfaces: ['lo'] } },
  { name: 'scapy ARP poisoning in python -c', facts: exec('/usr/bin/python3.11', 'python3', '-c', "from scapy.all import *; arp_mitm('10.0.0.1', '10.0.0.5')"), expect: { tool: 'scapy', technique: 'T1557.002' } },
  { name: 'raw AF_PACKET socket in python -c', facts: exec('/usr/bin/python3.11', 'python3', '-c', 'import socket; s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3)); s.recv(65535)'), expect: { tool: 'raw packet socket', technique: 'T1040' } },
  { name: 'python -m scapy (the scapy shell)', facts: exec('/usr/bin/python3.11', 'python3', '-m', 'scapy'), expect: { tool: 'scapy', via: 'module' } },
  { name: 'perl Net::Pcap', facts: exec('/usr/bin/perl', 'perl', '-MNet::Pcap', '-e', 'my $p = Net::Pcap::open_live("eth0", 1500, 1, 0, \\$err);'), expect: { tool: 'Net::Pcap' } },
  { name: 'a script whose code sniffs', facts: { exe: '/usr/bin/python3.11', argv: ['python3', 'tools/net_helper.py'], readScript: (p) => (p === 'tools/net_helper.py' ? 'from scapy.all import AsyncSniffer\nt = AsyncSniffer(iface="eth0")\nt.start()\n' : undefined) }, expect: { tool: 'scapy', via: 'code', interfaces: ['eth0'] } },

  // benign look-alikes
  { name: 'tcpdump --version', facts: exec('/usr/bin/tcpdump', 'tcpdump', '--version') },
  { name: 'tcpdump -h', facts: exec('/usr/bin/tcpdump', 'tcpdump', '-h') },
  { name: 'tcpdump -D lists interfaces', facts: exec('/usr/bin/tcpdump', 'tcpdump', '-D') },
  { name: 'tcpdump reading a file', facts: exec('/usr/bin/tcpdump', 'tcpdump', '-nr', 'capture.pcap', 'arp') },
  { name: 'tshark reading a file', facts: exec('/usr/bin/tshark', 'tshark', '-r', 'capture.pcap', '-Y', 'http') },
  { name: 'tshark -G fields', facts: exec('/usr/bin/tshark', 'tshark', '-G', 'fields') },
  { name: 'dumpcap -D', facts: exec('/usr/bin/dumpcap', 'dumpcap', '-D', '-Z', 'none') },
  { name: 'ngrep reading a file', facts: exec('/usr/bin/ngrep', 'ngrep', '-I', 'capture.pcap', 'GET') },
  { name: 'termshark opening a file', facts: exec('/usr/bin/termshark', 'termshark', 'capture.pcap') },
  { name: 'zeek on a file', facts: exec('/opt/zeek/bin/zeek', 'zeek', '-r', 'capture.pcap') },
  { name: 'zeek without -i does not capture', facts: exec('/opt/zeek/bin/zeek', 'zeek', 'local') },
  { name: 'suricata --build-info', facts: exec('/usr/bin/suricata', 'suricata', '--build-info') },
  { name: 'suricata offline', facts: exec('/usr/bin/suricata', 'suricata', '-r', 'capture.pcap', '-c', 'suricata.yaml') },
  { name: 'snort -V', facts: exec('/usr/sbin/snort', 'snort', '-V') },
  { name: 'ettercap -v', facts: exec('/usr/bin/ettercap', 'ettercap', '-v') },
  { name: 'arpspoof without a target prints usage', facts: exec('/usr/sbin/arpspoof', 'arpspoof') },
  { name: 'bettercap -version', facts: exec('/usr/bin/bettercap', 'bettercap', '-version') },
  { name: 'mitmproxy --version', facts: exec('/usr/bin/mitmproxy', 'mitmproxy', '--version') },
  { name: 'grep tcpdump', facts: exec('/usr/bin/grep', 'grep', 'tcpdump', '/var/log/syslog') },
  { name: 'man tshark', facts: exec('/usr/bin/man', 'man', 'tshark') },
  { name: 'apt-get install tcpdump', facts: exec('/usr/bin/apt-get', 'apt-get', 'install', '-y', 'tcpdump') },
  { name: 'vim responder.py', facts: exec('/usr/bin/vim.basic', 'vim', 'responder.py') },
  { name: 'sh -c "tcpdump ..." (the tcpdump exec is judged, not the shell)', facts: exec('/usr/bin/dash', 'sh', '-c', 'tcpdump -i lo -c 1') },
  { name: 'python importing scapy without sniffing', facts: exec('/usr/bin/python3.11', 'python3', '-c', 'import scapy; print(scapy.__version__)') },
  { name: 'python -m pip install scapy', facts: exec('/usr/bin/python3.11', 'python3', '-m', 'pip', 'install', 'scapy') },
  { name: 'sniffer.py --help', facts: exec('/usr/bin/python3.11', 'python3', 'sniffer.py', '--help') },
  { name: 'a script that cannot be read', facts: { exe: '/usr/bin/python3.11', argv: ['python3', 'app.py'], readScript: () => undefined } },
  { name: 'gcc --version', facts: exec('/usr/bin/x86_64-linux-gnu-gcc-12', 'gcc', '--version') },
  { name: 'ip link', facts: exec('/usr/bin/ip', 'ip', 'link', 'show') },
  { name: 'ping', facts: exec('/usr/bin/ping', 'ping', '-c1', '127.0.0.1') },
  { name: 'empty argv, unknown exe', facts: exec('') },
];

for (const row of ROWS) {
  test(`classify: ${row.name}`, () => {
    const m = classifyExec(row.facts);
    if (!row.expect) {
      assert.equal(m, undefined, `expected no match, got ${JSON.stringify(m)}`);
      return;
    }
    assert.ok(m, 'expected a match');
    for (const [k, v] of Object.entries(row.expect)) assert.deepEqual(m[k as keyof ToolMatch], v, `${k}`);
  });
}

test('parseArgs: clusters, attached values, --long=value, -- ends options, hostile input does not throw', () => {
  const p = parseArgs(['-nni', 'eth0', '--count=5', '-wout', '--', '-i', 'x'], 'iw', ['--count']);
  assert.deepEqual(p.options.get('-i'), ['eth0']);
  assert.deepEqual(p.options.get('-n'), ['', '']);
  assert.deepEqual(p.options.get('--count'), ['5']);
  assert.deepEqual(p.options.get('-w'), ['out']);
  assert.deepEqual(p.positional, ['-i', 'x']);
  const hostile = ['-', '--', '-i', '\u0000', '\u202e', 'x'.repeat(100_000), '-'.repeat(5000), '--=', '-='];
  assert.doesNotThrow(() => parseArgs(hostile, 'i', ['--']));
  assert.doesNotThrow(() => classifyExec({ exe: '/usr/bin/tcpdump', argv: ['tcpdump', ...hostile] }));
  assert.doesNotThrow(() => classifyExec({ exe: '/usr/bin/python3', argv: ['python3', '-c'] }));
  assert.doesNotThrow(() => classifyExec({ exe: '/usr/bin/python3', argv: ['python3', '-W'] }));
});

test('build id: a renamed copy of an installed tool carries the same build id', async (t) => {
  const original = readBuildId('/usr/bin/tcpdump') ?? readBuildId('/usr/sbin/tcpdump');
  if (!original) {
    t.skip('tcpdump not installed (Debian package tcpdump) or built without a GNU build id');
    return;
  }
  assert.match(original, /^[0-9a-f]{16,}$/);
  await withTempDir(async (dir) => {
    const copy = join(dir, 'update-helper');
    copyFileSync('/usr/bin/tcpdump', copy);
    assert.equal(readBuildId(copy), original);
    assert.equal(readBuildId(join(dir, 'missing')), undefined);
  });
  assert.ok(new BuildIdIndex().size > 0, 'the index learns the installed tools');
});
