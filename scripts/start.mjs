// `npm start`: the main job. Until the live sensor exists this scans the
// demo capture the project generates, so a newcomer sees real output at once.
import { spawnSync } from 'node:child_process';
const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'demo', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
