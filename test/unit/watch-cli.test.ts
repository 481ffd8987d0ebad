// `sniffwatch watch` when it cannot capture: without the native addon and
// without the capture capabilities it says exactly what to install or grant
// and exits 2; bad arguments are usage errors.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCapturePseudoDevice, readInterface } from '../../src/capture/live/interfaces.js';
import { ADDON_MISSING_MESSAGE, ADDON_PATH } from '../../src/capture/live/pcap-live.js';
import { CLI, REPO_ROOT, runCli } from '../helpers/cli.js';
import { findTool } from '../helpers/netns-lan.js';

const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-watch-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('without the native addon: the install hint; exit 2 with --no-host, host sensors only otherwise', () => {
  // An installed copy without native/ (as when libpcap-dev was missing at install time).
  const copy = join(dir, 'no-addon');
  cpSync(join(REPO_ROOT, 'dist', 'src'), join(copy, 'dist', 'src'), { recursive: true });
  cpSync(join(REPO_ROOT, 'detections'), join(copy, 'detections'), { recursive: true });
  cpSync(join(REPO_ROOT, 'package.json'), join(copy, 'package.json'));
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
  assert.ok(!existsSync(join(copy, 'native')));
  const r = spawnSync(process.execPath, [join(copy, 'dist/src/cli/main.js'), 'watch', '--no-host', '--iface', 'lo', '--duration', '1'], { encoding: 'utf8', timeout: 30_000, cwd: dir });
  assert.equal(r.status, 2, `stderr: ${r.stderr}`);
  assert.ok(r.stderr.includes(ADDON_MISSING_MESSAGE), `stderr lacks the install hint:\n${r.stderr}`);
  assert.equal(r.stdout, '');
  const withHost = spawnSync(process.execPath, [join(copy, 'dist/src/cli/main.js'), 'watch', '--iface', 'lo', '--duration', '1', '--format', 'jsonl'], { encoding: 'utf8', timeout: 30_000, cwd: dir });
  assert.ok(withHost.stderr.includes(ADDON_MISSING_MESSAGE), withHost.stderr);
  assert.match(withHost.stderr, /continuing with the host sensors only/);
  assert.match(withHost.stderr, /host sensors \(/, 'the host sensors ran and summarised');
  assert.notEqual(withHost.status, 2, withHost.stderr);
});

test('without CAP_NET_RAW (as nobody): what to grant, exit 2 with --no-host', (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to switch to an unprivileged user');
  const setpriv = findTool('setpriv');
  if (!setpriv) return t.skip('tool missing: setpriv (Debian package util-linux)');
  if (!existsSync(ADDON_PATH)) return t.skip('native pcap addon not built (needs build-essential libpcap-dev; npm run build:native)');
  const getcap = findTool('getcap');
  if (getcap) {
    const caps = spawnSync(getcap, [process.execPath], { encoding: 'utf8' }).stdout ?? '';
    if (/cap_net_raw/.test(caps)) return t.skip(`node has file capabilities (${caps.trim()}); an unprivileged run would capture`);
  }
  const r = spawnSync(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'watch', '--no-host', '--iface', 'lo', '--duration', '2'], {
    encoding: 'utf8',
    timeout: 30_000,
    cwd: '/',
  });
  assert.equal(r.status, 2, `stderr: ${r.stderr}`);
  assert.match(r.stderr, /lo: .*(permission|Operation not permitted)/i, r.stderr);
  assert.ok(r.stderr.includes('CAP_NET_RAW'), r.stderr);
  assert.ok(r.stderr.includes('sudo setcap cap_net_raw,cap_net_admin=eip $(readlink -f $(which node))'), r.stderr);
  assert.equal(r.stdout, '');
});

test('bad arguments are usage errors (exit 2) before anything is opened', () => {
  for (const [args, why] of [
    [['watch', '--iface', '../etc'], /not an interface name/],
    [['watch', '--iface', 'nflog:x'], /not an interface name/],
    [['watch', '--iface', 'eth0:1'], /not an interface name/],
    [['watch', '--duration', '0'], /--duration must be a number/],
    [['watch', '--ring-frames', 'many'], /--ring-frames must be a number/],
    [['watch', '--format', 'xml'], /invalid/],
  ] as const) {
    const r = runCli(args, 30_000);
    assert.equal(r.status, 2, `${args.join(' ')}: stderr ${r.stderr}`);
    assert.match(r.stderr, why, args.join(' '));
  }
});

test('watch is listed in the help', () => {
  const text = execFileSync(process.execPath, [CLI, 'watch', '--help'], { encoding: 'utf8' });
  for (const opt of ['--iface', '--evidence-dir', '--no-promisc', '--duration', '--fail-on', '--min-severity', '--ring-frames', '--buffer-mib']) {
    assert.ok(text.includes(opt), `help lacks ${opt}`);
  }
});

test("libpcap's pseudo-devices are capture devices though not in /sys/class/net: any, nflog and nflog:GROUP, always up", () => {
  for (const name of ['any', 'nflog', 'nflog:5', 'nflog:65535']) {
    assert.ok(isCapturePseudoDevice(name), name);
    assert.deepEqual(readInterface(name, '/nonexistent'), { name, ifindex: 0, up: true, running: true, loopback: false });
  }
  for (const name of ['nflog:', 'nflog:123456', 'nfqueue:1', 'anyx', 'eth0']) {
    assert.ok(!isCapturePseudoDevice(name), name);
    assert.equal(readInterface(name, '/nonexistent'), undefined, name);
  }
});
