// Builds the optional native addons (native/*/binding.gyp) with the node-gyp
// that ships with npm. A machine without build tools or libpcap-dev still
// installs: the addon is skipped with a note saying what to install, and the
// features that need it say the same when used.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';

function nodeGyp() {
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  return candidates.find((c) => existsSync(c));
}

const root = join(dirname(new URL(import.meta.url).pathname), '..');
const nativeDir = join(root, 'native');
const addons = existsSync(nativeDir) ? readdirSync(nativeDir).filter((d) => existsSync(join(nativeDir, d, 'binding.gyp'))) : [];
const gyp = nodeGyp();
for (const addon of addons) {
  const dir = join(nativeDir, addon);
  if (!gyp) {
    console.error(`sniffwatch: native addon '${addon}' not built: node-gyp not found (it ships with npm)`);
    continue;
  }
  const r = spawnSync(process.execPath, [gyp, 'rebuild', '--silent'], { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir ?? (existsSync('/usr/include/node/node_api.h') ? '/usr' : '') } });
  if (r.status === 0) {
    console.error(`sniffwatch: native addon '${addon}' built`);
  } else {
    const why = `${r.stderr ?? ''}${r.stdout ?? ''}`.split('\n').find((l) => /error|not found|No such file/i.test(l)) ?? `exit ${r.status}`;
    console.error(`sniffwatch: native addon '${addon}' not built (${why.trim().slice(0, 200)}); the features that need it will say what to install (build-essential, libpcap-dev)`);
  }
}
