import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CORE_RULES, WIRE_ANALYZERS } from '../../src/analyzers/index.js';
import { HOST_RULES } from '../../src/host/index.js';
import { parseRuleDefinition, ruleCatalog } from '../../src/findings/rules.js';
import { renderRuleMarkdown } from '../../src/findings/rule-docs.js';
import { runCli } from '../helpers/cli.js';

const DOCS = fileURLToPath(new URL('../../../docs/detections/', import.meta.url));

test('every rule an analyzer can emit has a definition, and every definition is emitted', () => {
  const emitted = new Set([...CORE_RULES, ...WIRE_ANALYZERS.flatMap((a) => a.rules), ...HOST_RULES]);
  const defined = new Set(ruleCatalog().keys());
  assert.deepEqual([...emitted].filter((r) => !defined.has(r)), [], 'rules without detections/<id>.yml');
  assert.deepEqual([...defined].filter((r) => !emitted.has(r)), [], 'definitions no analyzer emits');
});

test('docs/detections is generated from the YAML and up to date', () => {
  const pages = new Set(readdirSync(DOCS).filter((f) => f.endsWith('.md')));
  for (const rule of ruleCatalog().values()) {
    assert.ok(pages.has(`${rule.id}.md`), `docs/detections/${rule.id}.md missing: run npm run docs:detections`);
    assert.equal(readFileSync(`${DOCS}${rule.id}.md`, 'utf8'), renderRuleMarkdown(rule), `docs/detections/${rule.id}.md is stale: run npm run docs:detections`);
  }
  assert.equal(pages.size, ruleCatalog().size, 'pages for rules that no longer exist');
});

test('rule definitions are validated: a missing profile action is an error naming the file', () => {
  const text = readFileSync(fileURLToPath(new URL('../../../detections/arp-ip-takeover.yml', import.meta.url)), 'utf8').replace(/\n {4}ci: .*\n/, '\n');
  assert.throws(() => parseRuleDefinition(text, 'x.yml'), /x\.yml guidance\.actions: 'ci'/);
});

test('sniffwatch rules list prints every rule with its ATT&CK ids and severity', () => {
  const run = runCli(['rules', 'list']);
  assert.equal(run.status, 0, run.stderr);
  for (const rule of ruleCatalog().values()) {
    const line = run.stdout.split('\n').find((l) => l.startsWith(`${rule.id} `));
    assert.ok(line, `${rule.id} not listed`);
    assert.ok(line.includes(rule.severity));
    for (const t of rule.attack.techniques) assert.ok(line.includes(t), `${rule.id} lacks ${t}`);
  }
});
