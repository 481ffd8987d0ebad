import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

// The YAML parser, loaded at its first use (a synchronous require of ~20 ms of
// modules): `sniffwatch run` without --config and without a finding parses no
// YAML, and its start-up and CPU are part of the job it guards.

let yaml: typeof Yaml | undefined;

export function parseYaml(text: string): unknown {
  yaml ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return yaml.parse(text);
}
