export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;

/** Last-resort handler: one line on stderr, no stack trace unless SNIFFWATCH_DEBUG is set. */
export function fail(e: unknown): never {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`sniffwatch: error: ${message}\n`);
  if (process.env.SNIFFWATCH_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(EXIT_USAGE);
}
