// Data, not logic: which programs sniff or sit in the middle, how their
// command lines say whether a run captures, and which process names give a
// run its context (shell, build tool, installer). The matching engine is
// tools.ts; the severity policy is judge.ts.

export type HostTechnique = 'T1040' | 'T1557' | 'T1557.001' | 'T1557.002' | 'T1557.003';

/** A command-line detail that changes what the tool is doing (ettercap -M arp is ARP poisoning). */
export interface ModeRule {
  /** Options whose value selects the mode; absent: `positional` or any argument is tested. */
  options?: string[];
  /** Index of the positional argument that names the mode. */
  positional?: number;
  pattern: RegExp;
  technique: HostTechnique;
}

export interface ToolSpec {
  /** Name used in findings. */
  tool: string;
  /** Program names (lowercase): executable, argv[0] or script basename without .py/.pl/.rb/.sh. */
  names: string[];
  technique: HostTechnique;
  /** Short options that take a value (getopt letters). */
  shortWithValue?: string;
  /** Long options that take a value when written without `=`. */
  longWithValue?: string[];
  /** Go-style flags: `-name value`, no clustering of short options. */
  singleDashLong?: boolean;
  /** Any of these: the run does not capture (version, help, interface list, reading a file). */
  nonCapture?: string[];
  /** Capture happens only with one of these (IDS engines read files or idle otherwise). */
  captureRequires?: string[];
  /** Options naming the capture interface. */
  iface?: string[];
  /** Options naming where captured packets are written. */
  write?: string[];
  /** Writes captured data to files unless one of these options is given. */
  writesUnless?: string[];
  /** Without a positional argument the tool prints its usage and exits. */
  needsPositional?: boolean;
  /** The first positional argument is the interface. */
  positionalIface?: boolean;
  /** Without an interface option, a positional argument is a capture file to read. */
  positionalIsFile?: boolean;
  modes?: ModeRule[];
  /** Capture helper started by these tools: their finding covers it. */
  helperOf?: string[];
}

const HELP = ['-h', '--help', '--version'];

export const TOOLS: readonly ToolSpec[] = [
  // Sniffers (T1040)
  {
    tool: 'tcpdump',
    names: ['tcpdump'],
    technique: 'T1040',
    shortWithValue: 'bBcCEFGijmMQrsTVwWyzZ',
    longWithValue: ['--interface', '--snapshot-length', '--time-stamp-type', '--time-stamp-precision', '--direction', '--buffer-size', '--number', '--print-sampling', '--count', '--relinquish-privileges', '--linktype', '--micro', '--nano'],
    nonCapture: [...HELP, '-r', '-V', '-D', '--list-interfaces', '-L', '--list-data-link-types', '-J', '--list-time-stamp-types', '-d'],
    iface: ['-i', '--interface'],
    write: ['-w'],
  },
  {
    tool: 'tshark',
    names: ['tshark'],
    technique: 'T1040',
    shortWithValue: 'aAbBcCdeEfFHiJjKNoOrRsStTuwWXyYz',
    longWithValue: ['--interface', '--capture-comment', '--log-level', '--log-domains', '--log-file', '--display-filter', '--read-filter'],
    nonCapture: [...HELP, '-v', '-r', '-D', '--list-interfaces', '-L', '--list-data-link-types', '-G', '--list-time-stamp-types'],
    iface: ['-i', '--interface'],
    write: ['-w'],
  },
  {
    tool: 'dumpcap',
    names: ['dumpcap'],
    technique: 'T1040',
    shortWithValue: 'abBcCfiNstwyZ',
    longWithValue: ['--interface', '--capture-comment', '--log-level', '--log-domains', '--log-file'],
    nonCapture: [...HELP, '-v', '-D', '--list-interfaces', '-L', '--list-data-link-types', '-S', '-M', '--list-time-stamp-types'],
    iface: ['-i', '--interface'],
    write: ['-w'],
    helperOf: ['tshark', 'wireshark', 'termshark'],
  },
  {
    tool: 'wireshark',
    names: ['wireshark', 'wireshark-gtk', 'wireshark-qt'],
    technique: 'T1040',
    shortWithValue: 'abBcCdfgHiJjmNoOrRsXyYzw',
    longWithValue: ['--interface', '--display-filter', '--read-filter'],
    nonCapture: [...HELP, '-v', '-r', '-D', '--list-interfaces', '-L', '-G'],
    iface: ['-i', '--interface'],
    write: ['-w'],
  },
  {
    tool: 'termshark',
    names: ['termshark'],
    technique: 'T1040',
    shortWithValue: 'dfiorY',
    longWithValue: ['--interface', '--display-filter', '--decode-as', '--tty', '--pcap'],
    nonCapture: [...HELP, '-v', '-r', '--pcap', '-D'],
    iface: ['-i', '--interface'],
    write: ['-w'],
    positionalIsFile: true,
  },
  {
    tool: 'ngrep',
    names: ['ngrep'],
    technique: 'T1040',
    shortWithValue: 'AcnWdsSIOPFK',
    nonCapture: ['-h', '-V', '-I', '-L'],
    iface: ['-d'],
    write: ['-O'],
  },
  {
    tool: 'netsniff-ng',
    names: ['netsniff-ng'],
    technique: 'T1040',
    shortWithValue: 'iIdoPfFtSbBHkgTu',
    longWithValue: ['--in', '--dev', '--out', '--filter', '--type', '--ring-size', '--bind-cpu', '--kernel-pull', '--user', '--group', '--prefix', '--interval', '--num', '--magic', '--fanout-group', '--fanout-type', '--fanout-opts'],
    nonCapture: ['-h', '--help', '-v', '--version', '-D', '--dump-pcap-types', '-B', '--dump-bpf'],
    iface: ['-i', '-d', '--in', '--dev'],
    write: ['-o', '--out'],
  },
  {
    tool: 'tcpflow',
    names: ['tcpflow'],
    technique: 'T1040',
    shortWithValue: 'bdEeFfiLmoRrSTw',
    nonCapture: ['-h', '--help', '-H', '-V', '--version', '-r', '-R', '-l'],
    iface: ['-i'],
    write: ['-o'],
    writesUnless: ['-c', '-C', '-r', '-R'],
  },
  {
    tool: 'tcpick',
    names: ['tcpick'],
    technique: 'T1040',
    shortWithValue: 'iCrXSEFP',
    nonCapture: ['-h', '--help', '--version', '-r'],
    iface: ['-i'],
    write: ['-w', '-wR', '-wU', '-wP'],
  },
  {
    tool: 'justniffer',
    names: ['justniffer'],
    technique: 'T1040',
    shortWithValue: 'ifplruUaAbBcdeEFsSmnNxXOo',
    longWithValue: ['--interface', '--filecap', '--packet-filter', '--log-format', '--user', '--config'],
    nonCapture: [...HELP, '-f', '--filecap', '-V'],
    iface: ['-i', '--interface'],
  },
  { tool: 'dsniff', names: ['dsniff'], technique: 'T1040', shortWithValue: 'fiprstw', nonCapture: ['-h', '-p'], iface: ['-i'], write: ['-w'] },
  { tool: 'urlsnarf', names: ['urlsnarf'], technique: 'T1040', shortWithValue: 'ip', nonCapture: ['-h', '-p'], iface: ['-i'] },
  { tool: 'mailsnarf', names: ['mailsnarf'], technique: 'T1040', shortWithValue: 'ip', nonCapture: ['-h', '-p'], iface: ['-i'] },
  { tool: 'msgsnarf', names: ['msgsnarf'], technique: 'T1040', shortWithValue: 'ip', nonCapture: ['-h', '-p'], iface: ['-i'] },
  { tool: 'filesnarf', names: ['filesnarf'], technique: 'T1040', shortWithValue: 'ip', nonCapture: ['-h', '-p'], iface: ['-i'] },
  { tool: 'webspy', names: ['webspy'], technique: 'T1040', shortWithValue: 'i', nonCapture: ['-h'], iface: ['-i'], needsPositional: true },
  {
    tool: 'scapy',
    names: ['scapy'],
    technique: 'T1040',
    shortWithValue: 'cCPs',
    nonCapture: ['-h', '--help', '-H'],
  },
  {
    tool: 'impacket sniff',
    names: ['sniff', 'sniffer', 'impacket-sniff', 'impacket-sniffer'],
    technique: 'T1040',
    nonCapture: HELP,
  },
  {
    tool: 'kismet',
    names: ['kismet', 'kismet_server', 'kismet_cap_linux_wifi', 'kismet_cap_linux_bluetooth'],
    technique: 'T1040',
    shortWithValue: 'cfnst',
    longWithValue: ['--capture-source', '--config-file', '--log-prefix', '--log-types', '--log-title', '--override', '--homedir', '--datasource'],
    nonCapture: [...HELP, '-v'],
    iface: ['-c', '--capture-source', '--datasource'],
  },
  {
    tool: 'airodump-ng',
    names: ['airodump-ng'],
    technique: 'T1040',
    shortWithValue: 'wcbCdmNsatfuTrx',
    longWithValue: ['--write', '--channel', '--band', '--bssid', '--essid', '--netmask', '--encrypt', '--output-format', '--update', '--berlin', '--manufacturer', '--read', '--ivs', '--gpsd', '--cswitch', '--beacons', '--write-interval', '--essid-regex', '--min-packets', '--min-power', '--min-rxq'],
    nonCapture: [...HELP, '-r', '--read'],
    needsPositional: true,
    positionalIface: true,
    write: ['-w', '--write'],
  },
  {
    tool: 'zeek',
    names: ['zeek', 'bro'],
    technique: 'T1040',
    shortWithValue: 'bBefGHipPrsStUwWX',
    longWithValue: ['--iface', '--readfile', '--bare-mode', '--exec', '--load-seeds', '--save-seeds', '--filter', '--debug', '--watchdog'],
    nonCapture: [...HELP, '-v', '-r', '--readfile'],
    captureRequires: ['-i', '--iface'],
    iface: ['-i', '--iface'],
    write: ['-w', '--writefile'],
  },
  {
    tool: 'suricata',
    names: ['suricata'],
    technique: 'T1040',
    shortWithValue: 'cTirslqdDkKFuU',
    longWithValue: ['--pidfile', '--user', '--group', '--runmode', '--set', '--pcap-file-continuous', '--netmap', '--pfring-int', '--dag', '--napatech', '--erf-in', '--unix-socket', '--include'],
    nonCapture: [...HELP, '-V', '-r', '--build-info', '--list-app-layer-protos', '--list-keywords', '--list-runmodes', '-T', '--engine-analysis', '--dump-config'],
    captureRequires: ['-i', '--af-packet', '--pcap', '--pfring', '--pfring-int', '--netmap', '--dpdk', '-q'],
    iface: ['-i', '--af-packet', '--pcap', '--pfring-int', '--netmap'],
  },
  {
    tool: 'snort',
    names: ['snort', 'snort3'],
    technique: 'T1040',
    shortWithValue: 'AcFgGhiklLmnPrRStuZB',
    longWithValue: ['--daq', '--daq-dir', '--daq-var', '--daq-mode', '--pcap-single', '--pcap-dir', '--pcap-list', '--pcap-file', '--plugin-path', '--script-path', '--lua', '--tweaks'],
    nonCapture: ['-?', '--help', '-V', '--version', '-r', '--pcap-single', '--pcap-dir', '--pcap-list', '--pcap-file', '-T', '--list-modules', '--help-module', '--list-plugins'],
    captureRequires: ['-i'],
    iface: ['-i'],
    write: ['-L'],
  },

  // Adversary-in-the-middle (T1557 and its sub-techniques)
  {
    tool: 'ettercap',
    names: ['ettercap', 'ettercap-pkexec'],
    // Without a MITM method ettercap only sniffs (unified sniffing); -M says what it poisons.
    technique: 'T1040',
    shortWithValue: 'MirwLlmPFtaBjkefnAsW',
    longWithValue: ['--mitm', '--iface', '--read', '--write', '--log', '--log-info', '--log-msg', '--plugin', '--filter', '--proto', '--config', '--load-hosts', '--save-hosts', '--certificate', '--private-key', '--iface-bridge'],
    nonCapture: [...HELP, '-v', '-I', '--iflist', '-r', '--read'],
    iface: ['-i', '--iface'],
    write: ['-w', '--write'],
    modes: [
      { options: ['-M', '--mitm'], pattern: /^arp/i, technique: 'T1557.002' },
      { options: ['-M', '--mitm'], pattern: /^dhcp/i, technique: 'T1557.003' },
      { options: ['-M', '--mitm'], pattern: /^(icmp|port|ndp)/i, technique: 'T1557' },
      { options: ['-P', '--plugin'], pattern: /^(dns_spoof|sslstrip)/i, technique: 'T1557' },
    ],
  },
  {
    tool: 'bettercap',
    names: ['bettercap'],
    technique: 'T1557',
    singleDashLong: true,
    longWithValue: ['-caplet', '-caplets-path', '-eval', '-iface', '-gateway-override', '-script', '-env-file', '-cpu-profile', '-mem-profile'],
    nonCapture: ['-h', '--help', '-help', '-version', '--version'],
    modes: [
      { pattern: /\barp\.spoof\b|\barp\.ban\b/, technique: 'T1557.002' },
      { pattern: /\bdhcp6\.spoof\b/, technique: 'T1557.003' },
    ],
  },
  { tool: 'arpspoof', names: ['arpspoof'], technique: 'T1557.002', shortWithValue: 'itc', nonCapture: ['-h'], iface: ['-i'], needsPositional: true },
  { tool: 'dnsspoof', names: ['dnsspoof'], technique: 'T1557', shortWithValue: 'if', nonCapture: ['-h'], iface: ['-i'] },
  { tool: 'sshmitm', names: ['sshmitm'], technique: 'T1557', shortWithValue: 'Ip', nonCapture: ['-h'], needsPositional: true },
  { tool: 'webmitm', names: ['webmitm'], technique: 'T1557', nonCapture: ['-h'] },
  { tool: 'sslstrip', names: ['sslstrip'], technique: 'T1557', shortWithValue: 'lw', longWithValue: ['--listen', '--write'], nonCapture: HELP, write: ['-w', '--write'] },
  {
    tool: 'mitmproxy',
    names: ['mitmproxy', 'mitmdump', 'mitmweb'],
    technique: 'T1557',
    shortWithValue: 'mpsSwrCRBqnkv',
    longWithValue: ['--mode', '--listen-host', '--listen-port', '--set', '--scripts', '--save-stream-file', '--rfile', '--client-replay', '--server-replay', '--certs', '--confdir'],
    nonCapture: HELP,
    write: ['-w', '--save-stream-file'],
  },
  {
    tool: 'responder',
    names: ['responder'],
    technique: 'T1557.001',
    shortWithValue: 'IiePu',
    longWithValue: ['--interface', '--ip', '--externalip', '--lm'],
    nonCapture: HELP,
    iface: ['-I', '--interface'],
  },
  {
    tool: 'impacket relay',
    names: ['ntlmrelayx', 'smbrelayx', 'impacket-ntlmrelayx', 'impacket-smbrelayx'],
    technique: 'T1557.001',
    shortWithValue: 'tcehorw',
    nonCapture: HELP,
  },
  { tool: 'mitm6', names: ['mitm6'], technique: 'T1557.003', shortWithValue: 'idhb', longWithValue: ['--interface', '--domain', '--host-allowlist', '--host-blocklist', '--relay'], nonCapture: HELP, iface: ['-i', '--interface'] },
  {
    tool: 'yersinia',
    names: ['yersinia'],
    technique: 'T1557',
    shortWithValue: 'lcMiI',
    nonCapture: ['-h', '--help', '-V'],
    modes: [{ positional: 0, pattern: /^dhcp$/i, technique: 'T1557.003' }],
  },
];

/** Interpreters run scripts: the script and its arguments say what runs. */
export interface InterpreterSpec {
  pattern: RegExp;
  /** Short options that take a separate value. */
  shortWithValue: string;
  /** Options whose value is program text. */
  code: string[];
  /** Options whose value is a module to run. */
  module?: string[];
  /** Program text inline (-c) or from a script can be inspected for sniffing code. */
  inspectCode: boolean;
}

export const INTERPRETERS: readonly InterpreterSpec[] = [
  { pattern: /^(python|pypy)(\d+(\.\d+)*)?[a-z]?$/, shortWithValue: 'cmWXQ', code: ['-c'], module: ['-m'], inspectCode: true },
  { pattern: /^perl(\d+(\.\d+)*)?$/, shortWithValue: 'eE', code: ['-e', '-E'], inspectCode: true },
  { pattern: /^ruby(\d+(\.\d+)*)?$/, shortWithValue: 'eIrCE', code: ['-e'], inspectCode: true },
  // Shells: a script named like a tool (Kali's responder wrapper) counts; `sh -c` code is not judged here, the commands it runs are.
  { pattern: /^(sh|bash|dash|zsh|ksh|mksh|ash)$/, shortWithValue: 'oO', code: ['-c'], inspectCode: false },
];

/** `python -m <module>`: top-level module name to tool. */
export const MODULES: Readonly<Record<string, { tool: string; technique: HostTechnique }>> = {
  scapy: { tool: 'scapy', technique: 'T1040' },
  mitmproxy: { tool: 'mitmproxy', technique: 'T1557' },
};

/** Program text that sniffs or poisons, for scripts and -c/-e code. First match wins. */
export const CODE_PATTERNS: readonly { tool: string; technique: HostTechnique; all: RegExp[]; what: string }[] = [
  { tool: 'scapy', technique: 'T1557.002', what: 'scapy ARP poisoning', all: [/scapy/i, /\b(arp_mitm|arpcachepoison)\s*\(|\bARP\s*\(\s*op\s*=\s*(2|["']is-at["'])/] },
  { tool: 'scapy', technique: 'T1040', what: 'scapy sniff()', all: [/scapy/i, /\b(sniff|AsyncSniffer|L2ListenSocket|L2ListenTcpdump|bridge_and_sniff)\s*\(|\bconf\.L2listen\b/] },
  { tool: 'pcapy', technique: 'T1040', what: 'pcapy open_live()', all: [/\bpcapy\b/, /\bopen_live\s*\(/] },
  { tool: 'pyshark', technique: 'T1040', what: 'pyshark LiveCapture', all: [/\bpyshark\b/, /\bLiveCapture\s*\(/] },
  { tool: 'Net::Pcap', technique: 'T1040', what: 'Net::Pcap live capture', all: [/Net::Pcap/, /\b(pcap_)?open_live\b/] },
  {
    tool: 'raw packet socket',
    technique: 'T1040',
    what: 'AF_PACKET raw socket',
    all: [/\b(AF|PF)_PACKET\b/, /\b(SOCK_RAW|ETH_P_ALL)\b|[nh]tons\s*\(\s*(3|0x0*3)\s*\)/],
  },
];

/** Programs that run another command unchanged; skipped when looking for "the parent". */
export const WRAPPERS: ReadonlySet<string> = new Set([
  'sudo', 'su', 'doas', 'runuser', 'pkexec', 'env', 'nice', 'ionice', 'timeout', 'stdbuf', 'setsid', 'nohup', 'chrt', 'taskset',
  'unshare', 'nsenter', 'ip', 'time', 'flock', 'xargs', 'strace', 'ltrace', 'script', 'expect', 'watch', 'chroot', 'capsh', 'setpriv', 'firejail',
]);

export const SHELLS: ReadonlySet<string> = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'fish', 'tcsh', 'csh', 'busybox', 'screen', 'tmux', 'xonsh', 'nu']);

/** Build tools and runtimes that run tasks: name, optionally only when an argument matches. */
export const BUILD_TOOLS: readonly { name: RegExp; args?: RegExp; label: string }[] = [
  { name: /^g?make$/, label: 'make' },
  { name: /^(ninja|cmake|meson|scons|bazel|bazelisk|buck2?|pants)$/, label: 'a build system' },
  { name: /^(npm|npx|yarn|pnpm|bun|deno|node|nodejs)$/, label: 'a JavaScript runtime or package manager' },
  { name: /^(gradle|gradlew|mvn|mvnw|ant|sbt|lein)$/, label: 'a JVM build tool' },
  { name: /^java$/, args: /gradle|maven|plexus\.classworlds|org\.apache\.tools\.ant|sbt-launch/, label: 'a JVM build tool' },
  { name: /^(cargo|rustc|go|dotnet|msbuild|swift|xcodebuild|mix|rebar3|stack|cabal|dune|zig)$/, label: 'a compiler toolchain' },
  { name: /^(pip|pip3|pipx|poetry|pipenv|tox|nox|hatch|pdm|uv|conda|mamba)$/, label: 'a Python packaging tool' },
  { name: /^(python|pypy)(\d+(\.\d+)*)?$/, args: /(^|\s)-m\s+(pip|build|setuptools|tox|nox|pytest)\b|setup\.py/, label: 'a Python build' },
  { name: /^(gem|bundle|bundler|rake|composer|phpunit|pytest)$/, label: 'a package or test runner' },
];

/** Package installation in progress: maintainer scripts and install hooks run as its children. */
export const INSTALLERS: readonly { name: RegExp; args?: RegExp; label: string }[] = [
  { name: /^(npm|pnpm|yarn|bun)$/, args: /\b(install|i|ci|add|rebuild|update|upgrade)\b/, label: 'an npm/yarn/pnpm install' },
  { name: /^(pip|pip3|pipx)$/, args: /\binstall\b/, label: 'a pip install' },
  { name: /^(python|pypy)(\d+(\.\d+)*)?$/, args: /(^|\s)-m\s+pip\s+install\b|setup\.py\s+(install|develop)/, label: 'a pip install' },
  { name: /^(dpkg|apt|apt-get|aptitude|rpm|dnf|yum|zypper|apk|pacman|snap|flatpak)$/, label: 'a system package install' },
  { name: /^(gem|cargo|go|composer)$/, args: /\binstall\b/, label: 'a package install' },
];

/** Environment variables that mark a CI job. */
export const CI_ENV_KEYS: readonly string[] = [
  'GITHUB_ACTIONS', 'GITLAB_CI', 'JENKINS_URL', 'BUILDKITE', 'CIRCLECI', 'TF_BUILD', 'TRAVIS', 'TEAMCITY_VERSION', 'DRONE',
  'BITBUCKET_BUILD_NUMBER', 'CODEBUILD_BUILD_ID', 'CI',
];

/** Environment variables read at each execution: the CI markers and those of install scripts (npm, dpkg, pip). */
export const EXEC_ENV_KEYS: ReadonlySet<string> = new Set([...CI_ENV_KEYS, 'npm_lifecycle_event', 'npm_package_name', 'DPKG_MAINTSCRIPT_PACKAGE', 'DPKG_MAINTSCRIPT_NAME', 'PIP_BUILD_TRACKER']);

/** npm lifecycle events that run a package's install hooks. */
export const NPM_INSTALL_EVENTS: ReadonlySet<string> = new Set(['preinstall', 'install', 'postinstall', 'prepare', 'prepublish']);

/** Daemons that hold packet sockets for their protocol (DHCP, LLDP, 802.1X, PTP) or as a switch (Open vSwitch's userspace datapath): reported as info. */
export const PACKET_SOCKET_DAEMONS: ReadonlySet<string> = new Set([
  'dhclient', 'dhcpcd', 'udhcpc', 'udhcpd', 'dhcpd', 'kea-dhcp4', 'kea-dhcp6', 'dnsmasq', 'systemd-networkd', 'networkmanager', 'nm-dhcp-helper',
  'wpa_supplicant', 'hostapd', 'lldpd', 'lldpad', 'ladvd', 'keepalived', 'avahi-autoipd', 'arping', 'pppd', 'pppoe', 'pppoe-discovery', 'ptp4l',
  'ndppd', 'radvd', 'cdpr', 'dhcrelay', 'dhcp-helper', 'conntrackd', 'ulogd', 'ovs-vswitchd',
]);
