import { Command, CommanderError, Option } from 'commander';
import { RUN_DESCRIPTION, RUN_OPTIONS, type RunFlags } from './run-options.js';
import type { scanCommand } from './scan-command.js';
import { EXIT_USAGE } from './exit.js';
import { addAnalysisOptions } from './analysis-options.js';

// The commander program: every command, its options and help. Command
// modules load when their command runs.

/** Parses the command line and runs the command it names; usage errors exit 2. */
export async function runProgram(argv: readonly string[]): Promise<void> {
  const program = await buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exit(e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0 ? 0 : EXIT_USAGE);
    }
    throw e;
  }
}

async function buildProgram(): Promise<Command> {
  const program = new Command();
  program
    .name('sniffwatch')
    .description('Detects network sniffing (T1040), traffic mirroring (T1020.001) and adversary-in-the-middle attacks (T1557)')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`sniffwatch: ${text.replace(/^error: /, '')}`) });

  const scan = program
    .command('scan')
    .description('scan capture files and directories (pcap, pcapng, gzip-compressed either), recognised by content')
    .argument('<paths...>', 'capture files or directories; - reads a capture from standard input (tcpdump -w - | sniffwatch scan -)');
  addAnalysisOptions(scan, { failOn: 'exit 1 when a finding reaches this severity', minSeverity: 'show findings of this severity and above' })
    .option('--no-progress', 'never draw a progress bar')
    .action(async (...args: Parameters<typeof scanCommand>) => (await import('./scan-command.js')).scanCommand(...args));

  program.command('demo').description('write a demo capture of ARP poisoning on a small LAN and scan it').action(async () => (await import('./demo-command.js')).demoCommand());

  (await import('./watch-command.js')).addWatchCommand(program);
  addRunCommand(program);

  const rules = program.command('rules').description('the detections sniffwatch ships');
  rules
    .command('list')
    .description('every detection with its rule_id, ATT&CK ids and severity')
    .addOption(new Option('--format <format>', 'output format').choices(['pretty', 'jsonl']).default('pretty'))
    .action(async (flags: { format: 'pretty' | 'jsonl' }) => (await import('./rules-command.js')).rulesListCommand(flags));
  return program;
}

function addRunCommand(program: Command): void {
  // The command's own flags must reach it untouched: options are parsed only before it.
  program.enablePositionalOptions();
  const run = program.command('run').description(RUN_DESCRIPTION).argument('<command...>', 'the command and its arguments, after --').passThroughOptions();
  for (const o of RUN_OPTIONS) {
    const option = new Option(o.value ? `${o.flag} ${o.value}` : o.flag, o.description);
    if (o.choices) option.choices(o.choices);
    if (o.default !== undefined) option.default(o.default);
    run.addOption(option);
  }
  run.action(async (command: string[], flags: RunFlags) => (await import('./run-command.js')).runCommand(command, flags));
}
