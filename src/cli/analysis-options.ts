import { Option, type Command } from 'commander';
import { PROFILES, SEVERITIES } from '../findings/finding.js';

// The options `scan` and `watch` share: both run the wire analyzers and write
// findings. Only the wording of when findings are written or fail the exit
// status differs (a file ends, a live capture stops).

export function addAnalysisOptions(command: Command, wording: { failOn: string; minSeverity: string }): Command {
  return command
    .addOption(new Option('--format <format>', 'output format (default: pretty on a terminal, jsonl otherwise)').choices(['pretty', 'jsonl']))
    .addOption(new Option('--profile <profile>', 'environment whose guidance is shown').choices([...PROFILES]).default('production'))
    .addOption(new Option('--fail-on <level>', wording.failOn).choices([...SEVERITIES, 'none']).default('medium'))
    .addOption(new Option('--min-severity <level>', wording.minSeverity).choices([...SEVERITIES]).default('low'))
    .option('--config <file>', 'YAML configuration (known bindings, gateways, allowlists)')
    .option('--analyzers <names>', 'comma-separated analyzers to run (default: all)')
    .option('--show-secrets', 'print credentials seen on the wire instead of redacting them');
}
