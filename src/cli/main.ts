#!/usr/bin/env node
import { fail } from './exit.js';
import { parseRunArgs } from './run-options.js';

// Command-line entry. `run` with well-formed arguments goes straight to the
// command (run-options.ts says why); everything else goes through the
// commander program (program.ts).

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  // A closed pipe (`sniffwatch scan x | head`) is not an error worth a message.
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

try {
  const run = process.argv[2] === 'run' ? parseRunArgs(process.argv.slice(3)) : undefined;
  if (run) await (await import('./run-command.js')).runCommand(run.command, run.flags);
  else await (await import('./program.js')).runProgram(process.argv);
} catch (e) {
  fail(e);
}
