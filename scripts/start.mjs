// `npm start`: the main job, the live sensor (`sniffwatch watch` with its
// defaults: every up, non-loopback interface, and the host sensors).
// Arguments after `npm start --` are passed on, e.g. `npm start -- --iface eth0`.
import { spawnSync } from 'node:child_process';
const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'watch', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
