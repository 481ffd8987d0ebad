// End to end: a sensor fed by a firewall's log. nftables on the gateway logs
// the packets of its web port to NFLOG groups 5 and 6 (the real kernel's
// nfnetlink_log); tcpdump records group 5 (link type NFLOG) and `sniffwatch
// watch --iface nflog:6` reads group 6 live, where libpcap can install no
// kernel filter. A real client (curl) logs in to a real server (python3's
// http.server) with HTTP Basic: `sniffwatch scan` of the NFLOG capture and the
// live sensor must both report it, with client, server and user. Needs root,
// nftables, tcpdump, curl and python3; watch also the native addon.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Finding } from '../../src/findings/finding.js';
import { describe, hasEntity } from '../helpers/captures.js';
import { E2eWorkDir, freshLan, scanCapture, skipUnless } from '../helpers/e2e.js';
import { GATEWAY, sleep, VICTIM, type Lan } from '../helpers/netns-lan.js';
import { skipUnlessPcapAddon, startWatchIn } from '../helpers/watch.js';

const work = new E2eWorkDir('nflog');
const PORT = 8080;
const USER = 'logged-user';
const PASSWORD = 'seen-by-the-firewall-log';

/** The gateway's nftables ruleset: both directions of the web port logged to groups 5 and 6. */
function ruleset(): string {
  const log = (match: string): string => `${match} log group 5\n    ${match} log group 6`;
  return [
    'table inet sniffwatch_e2e {',
    '  chain input {',
    '    type filter hook input priority 0;',
    `    ${log(`tcp dport ${PORT}`)}`,
    '  }',
    '  chain output {',
    '    type filter hook output priority 0;',
    `    ${log(`tcp sport ${PORT}`)}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

async function login(lan: Lan): Promise<void> {
  lan.spawn('gateway', ['python3', '-m', 'http.server', '--bind', GATEWAY.ip, String(PORT), '--directory', work.path], 'http.server');
  for (let i = 0; ; i++) {
    const r = await lan.exec('victim', ['curl', '-sS', '--max-time', '5', '-o', '/dev/null', '-w', '%{http_code}', '-u', `${USER}:${PASSWORD}`, `http://${GATEWAY.ip}:${PORT}/`], {
      timeoutMs: 10_000,
      okCodes: [0, 7, 28],
    });
    if (r.code === 0 && r.stdout === '200') return;
    if (i >= 30) throw new Error(`curl to the gateway failed: ${r.stdout} ${r.stderr}`);
    await sleep(300);
  }
}

function assertLogin(f: Finding | undefined, all: readonly Finding[]): void {
  assert.ok(f, describe(all));
  assert.ok(hasEntity(f, 'ip', VICTIM.ip, 'client'), JSON.stringify(f.entities));
  assert.ok(hasEntity(f, 'host', `${GATEWAY.ip}:${PORT}`, 'server'), JSON.stringify(f.entities));
  assert.ok(hasEntity(f, 'user', USER), JSON.stringify(f.entities));
  assert.ok(!JSON.stringify(f).includes(PASSWORD), 'the password is shown');
}

const isLogin = (f: Finding): boolean => f.rule_id === 'cred-http-basic' && hasEntity(f, 'user', USER);

test('HTTP Basic logged by nftables to NFLOG: the NFLOG capture and a live sensor on nflog:6 both report the login', { timeout: 90_000 }, async (t) => {
  if (!(await skipUnless(t, ['nft', 'tcpdump', 'curl', 'python3']))) return;
  const lan = await freshLan(t);
  const rules = join(work.path, 'nflog.nft');
  writeFileSync(rules, ruleset());
  await lan.exec('gateway', ['nft', '-f', rules], { timeoutMs: 10_000 });
  const pcap = join(work.path, 'nflog.pcap');
  const td = lan.spawn('gateway', ['tcpdump', '-Z', 'root', '-i', 'nflog:5', '--immediate-mode', '-U', '-w', pcap], 'tcpdump');
  await td.waitFor(/listening on/, 15_000);
  const live = skipUnlessPcapAddon(t)
    ? startWatchIn(t, lan.host('gateway').ns, ['--iface', 'nflog:6', '--format', 'jsonl', '--fail-on', 'none', '--min-severity', 'info'])
    : undefined;
  if (live) {
    const started = await live.waitStderr(/watching nflog:6 \(([^)]*)\)/, 15_000);
    assert.match(started[1]!, /NFLOG.*no kernel filter/);
  }
  await login(lan);
  const seen = live ? await live.waitFinding(isLogin, 'cred-http-basic from the live sensor on nflog:6', 30_000) : undefined;
  await sleep(500);
  await td.stop('SIGINT', 10_000);

  const run = scanCapture(pcap, ['--min-severity', 'info', '--fail-on', 'none']);
  assert.equal(run.status, 0, run.stderr);
  assert.ok(!run.findings.some((f) => f.rule_id === 'decode-unsupported-link'), describe(run.findings));
  assertLogin(run.findings.find(isLogin), run.findings);
  if (live) assertLogin(seen, live.findings);
  else t.diagnostic('live half skipped: native pcap addon not built');
});
