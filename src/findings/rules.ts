import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseYaml } from '../config/yaml.js';
import { PROFILES, parseSeverity, type AttackMapping, type Guidance, type Profile, type Severity } from './finding.js';

// Detections as data: each detections/<rule_id>.yml holds a rule's metadata and
// guidance. Analyzers refer to rules by id; the text lives only there.
//
// The build also writes every definition, parsed and validated, to a JSON
// cache beside this module, keyed by the SHA-256 of its YAML text and marked
// with a hash of the parsing code. A rule is read from the cache only while
// both still match, so an edited rule takes effect at once; the cache only
// spares the YAML parser, whose first use costs tens of milliseconds, at a
// rule's first finding.

export interface RuleDefinition {
  id: string;
  title: string;
  severity: Severity;
  confidence: number;
  attack: AttackMapping;
  analyzer: string;
  description: string;
  guidance: {
    summary: string;
    implications: string;
    actions: Record<Profile, string>;
    false_positives: string[];
  };
}

export const DETECTIONS_DIR = fileURLToPath(new URL('../../../detections/', import.meta.url));

function requireString(doc: Record<string, unknown>, key: string, file: string): string {
  const v = doc[key];
  if (typeof v !== 'string' || v.trim() === '') throw new Error(`${file}: '${key}' must be a non-empty string`);
  return v.trim();
}

function requireStringList(v: unknown, what: string, file: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`${file}: '${what}' must be a list of strings`);
  return v as string[];
}

function asRecord(v: unknown, what: string, file: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${file}: '${what}' must be a mapping`);
  return v as Record<string, unknown>;
}

export function parseRuleDefinition(text: string, file: string): RuleDefinition {
  const doc = asRecord(parseYaml(text), 'document', file);
  const severity = parseSeverity(requireString(doc, 'severity', file));
  if (!severity) throw new Error(`${file}: unknown severity`);
  const confidence = doc.confidence;
  if (typeof confidence !== 'number' || confidence < 0 || confidence > 1) throw new Error(`${file}: 'confidence' must be a number from 0 to 1`);
  const attack = asRecord(doc.attack, 'attack', file);
  const guidance = asRecord(doc.guidance, 'guidance', file);
  const actionsDoc = asRecord(guidance.actions, 'guidance.actions', file);
  const actions = {} as Record<Profile, string>;
  for (const p of PROFILES) actions[p] = requireString(actionsDoc, p, `${file} guidance.actions`);
  return {
    id: requireString(doc, 'id', file),
    title: requireString(doc, 'title', file),
    severity,
    confidence,
    attack: {
      tactics: requireStringList(attack.tactics, 'attack.tactics', file),
      techniques: requireStringList(attack.techniques, 'attack.techniques', file),
    },
    analyzer: requireString(doc, 'analyzer', file),
    description: requireString(doc, 'description', file),
    guidance: {
      summary: requireString(guidance, 'summary', file),
      implications: requireString(guidance, 'implications', file),
      actions,
      false_positives: requireStringList(guidance.false_positives, 'guidance.false_positives', file),
    },
  };
}

const RULE_ID = /^[a-z0-9][a-z0-9-]{0,127}$/;
/** Definitions parsed so far: each file is parsed at the first finding of its rule, or all at once by ruleCatalog(). */
const parsed = new Map<string, RuleDefinition>();
let catalog: Map<string, RuleDefinition> | undefined;

/** Written by the build (scripts/build-rule-cache.mjs); absent, every rule is parsed from YAML. */
const RULE_CACHE_FILE = fileURLToPath(new URL('./rule-cache.json', import.meta.url));

/** The compiled modules whose code decides what a rule file parses to (this one, and the severities and profiles). */
const PARSER_MODULES = [fileURLToPath(import.meta.url), fileURLToPath(new URL('./finding.js', import.meta.url))];

interface CachedRule {
  sha256: string;
  rule: RuleDefinition;
}

export type RuleCache = Record<string, CachedRule>;

let cache: RuleCache | undefined;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A cache written by other parser code (a build that left it behind) must not be believed. */
function parserFingerprint(): string {
  return sha256(PARSER_MODULES.map((m) => readFileSync(m, 'utf8')).join('\0'));
}

function ruleFileNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.yml'))
    .sort();
}

/** Parses every rule file in `dir` and writes the cache that loadRuleFile reads; returns its entries. */
export function writeRuleCache(dir: string = DETECTIONS_DIR, out: string = RULE_CACHE_FILE): RuleCache {
  const rules: RuleCache = {};
  for (const name of ruleFileNames(dir)) {
    const file = join(dir, name);
    const text = readFileSync(file, 'utf8');
    rules[name] = { sha256: sha256(text), rule: parseRuleDefinition(text, file) };
  }
  writeFileSync(out, `${JSON.stringify({ parser: parserFingerprint(), rules })}\n`);
  return rules;
}

/** The entries of the cache file, or none when it is missing, unreadable or made by other parser code. */
export function loadRuleCache(file: string = RULE_CACHE_FILE): RuleCache {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { parser?: unknown; rules?: RuleCache };
    if (doc.parser !== parserFingerprint() || typeof doc.rules !== 'object' || doc.rules === null) return {};
    return doc.rules;
  } catch {
    return {};
  }
}

/** The cached definition of rule file `name` if the cache holds it for exactly this text; otherwise the text parsed. */
export function cachedOrParsed(name: string, text: string, file: string, entries: RuleCache): RuleDefinition {
  const cached = Object.hasOwn(entries, name) ? entries[name] : undefined;
  return cached !== undefined && cached.sha256 === sha256(text) ? cached.rule : parseRuleDefinition(text, file);
}

function loadRuleFile(name: string): RuleDefinition {
  const file = join(DETECTIONS_DIR, name);
  cache ??= loadRuleCache();
  const rule = cachedOrParsed(name, readFileSync(file, 'utf8'), file, cache);
  if (`${rule.id}.yml` !== name) throw new Error(`${file}: id '${rule.id}' does not match the file name`);
  return rule;
}

/** Every rule shipped in detections/, loaded and validated once. */
export function ruleCatalog(): Map<string, RuleDefinition> {
  if (catalog) return catalog;
  const rules = new Map<string, RuleDefinition>();
  for (const name of ruleFileNames(DETECTIONS_DIR)) {
    const rule = parsed.get(name.slice(0, -4)) ?? loadRuleFile(name);
    rules.set(rule.id, rule);
    parsed.set(rule.id, rule);
  }
  catalog = rules;
  return rules;
}

/** One rule's definition; only its own file is read (a command that finds nothing parses no YAML). */
export function getRule(id: string): RuleDefinition {
  let rule = parsed.get(id);
  if (rule) return rule;
  const missing = new Error(`no detection definition for rule '${id}' in ${DETECTIONS_DIR}`);
  if (catalog || !RULE_ID.test(id)) throw missing;
  try {
    rule = loadRuleFile(`${id}.yml`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw missing;
    throw e;
  }
  parsed.set(id, rule);
  return rule;
}

export function guidanceFor(rule: RuleDefinition, profile: Profile): Guidance {
  return {
    summary: rule.guidance.summary,
    implications: rule.guidance.implications,
    actions: rule.guidance.actions[profile],
    false_positives: rule.guidance.false_positives,
  };
}
