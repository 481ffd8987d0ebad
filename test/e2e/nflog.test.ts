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
import { describe } from '../helpers/captures.js';
import { assertHttpBasicLogin, E2eWorkDir, freshLan, httpBasicLogin, isHttpBasicLogin, scanAll, skipUnless } from '../helpers/e2e.js';
import { sleep } from '../helpers/netns-lan.js';
import { skipUnlessPcapAddon, startWatchIn } from '../helpers/watch.js';

const work = new E2eWorkDir('nflog');
const LOGIN = { port: 8080, user: 'logged-user', password: 'seen-by-the-firewall-log' };

/** The gateway's nftables ruleset: both directions of the web port logged to groups 5 and 6. */
function ruleset(): string {
  const log = (match: string): string => `${match} log group 5\n    ${match} log group 6`;
  return [
    'table inet sniffwatch_e2e {',
    '  chain input {',
    '    type filter hook input priority 0;',
    `    ${log(`tcp dport ${LOGIN.port}`)}`,
    '  }',
    '  chain output {',
    '    type filter hook output priority 0;',
    `    ${log(`tcp sport ${LOGIN.port}`)}`,
    '  }',
    '}',
    '',
  ].join('\n');
}


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
  await httpBasicLogin(lan, work.path, LOGIN);
  const seen = live ? await live.waitFinding(isHttpBasicLogin(LOGIN), 'cred-http-basic from the live sensor on nflog:6', 30_000) : undefined;
  await sleep(500);
  await td.stop('SIGINT', 10_000);

  const run = scanAll(pcap);
  assert.equal(run.status, 0, run.stderr);
  assert.ok(!run.findings.some((f) => f.rule_id === 'decode-unsupported-link'), describe(run.findings));
  assertHttpBasicLogin(run.findings.find(isHttpBasicLogin(LOGIN)), run.findings, LOGIN);
  if (live) assertHttpBasicLogin(seen, live.findings, LOGIN);
  else t.diagnostic('live half skipped: native pcap addon not built');
});
