#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { addRunCommand } from './run-command.js';
import type { scanCommand } from './scan-command.js';
import { fail, EXIT_USAGE } from './exit.js';
import { PROFILES, SEVERITIES } from '../findings/finding.js';

// Command-line entry: parses arguments and hands off to one command module.
// Command modules load when their command runs, and `run` loads no other
// command's module: it sits in front of CI jobs, and its start-up is theirs.

const program = new Command();
program
  .name('sniffwatch')
  .description('Detects network sniffing (T1040), traffic mirroring (T1020.001) and adversary-in-the-middle attacks (T1557)')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`sniffwatch: ${text.replace(/^error: /, '')}`) });

program
  .command('scan')
  .description('scan capture files and directories (pcap, pcapng, gzip-compressed either), recognised by content')
  .argument('<paths...>', 'capture files or directories; - reads a capture from standard input (tcpdump -w - | sniffwatch scan -)')
  .addOption(new Option('--format <format>', 'output format (default: pretty on a terminal, jsonl otherwise)').choices(['pretty', 'jsonl']))
  .addOption(new Option('--profile <profile>', 'environment whose guidance is shown').choices([...PROFILES]).default('production'))
  .addOption(new Option('--fail-on <level>', 'exit 1 when a finding reaches this severity').choices([...SEVERITIES, 'none']).default('medium'))
  .addOption(new Option('--min-severity <level>', 'show findings of this severity and above').choices([...SEVERITIES]).default('low'))
  .option('--config <file>', 'YAML configuration (known bindings, gateways, allowlists)')
  .option('--analyzers <names>', 'comma-separated analyzers to run (default: all)')
  .option('--no-progress', 'never draw a progress bar')
  .option('--show-secrets', 'print credentials seen on the wire instead of redacting them')
  .action(async (...args: Parameters<typeof scanCommand>) => (await import('./scan-command.js')).scanCommand(...args));

program.command('demo').description('write a demo capture of ARP poisoning on a small LAN and scan it').action(async () => (await import('./demo-command.js')).demoCommand());

if (process.argv[2] !== 'run') (await import('./watch-command.js')).addWatchCommand(program);
addRunCommand(program);

const rules = program.command('rules').description('the detections sniffwatch ships');
rules
  .command('list')
  .description('every detection with its rule_id, ATT&CK ids and severity')
  .addOption(new Option('--format <format>', 'output format').choices(['pretty', 'jsonl']).default('pretty'))
  .action(async (flags: { format: 'pretty' | 'jsonl' }) => (await import('./rules-command.js')).rulesListCommand(flags));

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  // A closed pipe (`sniffwatch scan x | head`) is not an error worth a message.
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : EXIT_USAGE);
  }
  fail(e);
}
