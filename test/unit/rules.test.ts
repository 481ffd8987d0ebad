import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_RULES, WIRE_ANALYZERS } from '../../src/analyzers/index.js';
import { HOST_RULES } from '../../src/host/index.js';
import { cachedOrParsed, DETECTIONS_DIR, loadRuleCache, parseRuleDefinition, ruleCatalog, writeRuleCache } from '../../src/findings/rules.js';
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

test('the rule cache holds each definition as its YAML parses, and is used only for the exact text it was made from', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sniffwatch-rules-'));
  try {
    const name = 'arp-ip-takeover.yml';
    const text = readFileSync(join(DETECTIONS_DIR, name), 'utf8');
    writeFileSync(join(dir, name), text);
    const cacheFile = join(dir, 'cache.json');
    const entries = writeRuleCache(dir, cacheFile);
    assert.deepEqual(Object.keys(entries), [name]);
    assert.deepEqual(loadRuleCache(cacheFile), entries);
    // A cache written by other parser code (another build) is not believed.
    const doc = JSON.parse(readFileSync(cacheFile, 'utf8')) as { parser: string };
    writeFileSync(cacheFile, JSON.stringify({ ...doc, parser: 'another build' }));
    assert.deepEqual(loadRuleCache(cacheFile), {});
    assert.deepEqual(loadRuleCache(join(dir, 'missing.json')), {});
    assert.deepEqual(cachedOrParsed(name, text, name, entries), parseRuleDefinition(text, name));
    // A cache entry that says something else shows which one was read.
    const marked = { [name]: { ...entries[name]!, rule: { ...entries[name]!.rule, title: 'from the cache' } } };
    assert.equal(cachedOrParsed(name, text, name, marked).title, 'from the cache');
    // An edited file no longer matches its entry: the YAML is parsed, edit included.
    const edited = text.replace(/^title: .*$/m, 'title: edited after the build');
    assert.equal(cachedOrParsed(name, edited, name, marked).title, 'edited after the build');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the rule cache the build wrote matches the YAML in detections/', () => {
  const rules = loadRuleCache();
  const names = readdirSync(DETECTIONS_DIR).filter((n) => n.endsWith('.yml'));
  assert.deepEqual(Object.keys(rules).sort(), names.sort());
  for (const name of names) assert.deepEqual(rules[name]!.rule, parseRuleDefinition(readFileSync(join(DETECTIONS_DIR, name), 'utf8'), name), name);
});
