// `npm start`: the main job, the live sensor (`sniffwatch watch` with its
// defaults: every up, non-loopback interface, and the host sensors).
// Arguments after `npm start --` are passed on, e.g. `npm start -- --iface eth0`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const r = spawnSync(process.execPath, [cli, 'watch', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
