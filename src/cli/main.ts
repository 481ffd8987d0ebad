#!/usr/bin/env node
import { fail } from './exit.js';
import { launcherFromEnv, parseRunArgs } from './run-options.js';

// Command-line entry. `run` with well-formed arguments goes straight to the
// command (run-options.ts says why); everything else goes through the
// commander program (program.ts).

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  // A closed pipe (`sniffwatch scan x | head`) is not an error worth a message.
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

try {
  const run = process.argv[2] === 'run' ? parseRunArgs(process.argv.slice(3)) : undefined;
  // Started by the `run` launcher, whose command already runs: it passes only arguments run's parser takes.
  const launcher = launcherFromEnv();
  if (launcher && !run) throw new Error('the run launcher passed arguments that run does not take; run it with SNIFFWATCH_NO_LAUNCHER=1 and report this');
  if (run) await (await import('./run-command.js')).runCommand(run.command, run.flags, launcher);
  else await (await import('./program.js')).runProgram(process.argv);
} catch (e) {
  fail(e);
}
