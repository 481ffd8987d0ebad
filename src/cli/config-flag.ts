import { CONFIG_SECTIONS } from '../analyzers/index.js';
import { ConfigError, defaultConfig, loadConfig, type SniffwatchConfig } from '../config/config.js';
import { fail } from './exit.js';

/** The configuration a --config flag names, or the defaults without one; a file that does not load ends the command with its reason. */
export function loadConfigFlag(file: string | undefined): SniffwatchConfig {
  if (!file) return defaultConfig();
  try {
    return loadConfig(file, CONFIG_SECTIONS);
  } catch (e) {
    if (e instanceof ConfigError) fail(e);
    throw e;
  }
}
