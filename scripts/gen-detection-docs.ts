import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ruleCatalog } from '../src/findings/rules.js';
import { renderRuleMarkdown } from '../src/findings/rule-docs.js';

// Regenerates docs/detections/*.md from detections/*.yml.
const out = fileURLToPath(new URL('../../docs/detections/', import.meta.url));
mkdirSync(out, { recursive: true });
for (const rule of ruleCatalog().values()) writeFileSync(join(out, `${rule.id}.md`), renderRuleMarkdown(rule));
console.log(`wrote ${ruleCatalog().size} detection pages to ${out}`);
