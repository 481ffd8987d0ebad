// Part of the build: parses detections/*.yml once and writes the JSON cache
// that src/findings/rules.ts reads instead of the YAML while a file is
// unchanged (see there). Needs the compiled tree (tsc first).
import { writeRuleCache } from '../dist/src/findings/rules.js';

writeRuleCache();
