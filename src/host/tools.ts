import { CODE_PATTERNS, INTERPRETERS, MODULES, TOOLS, type HostTechnique, type InterpreterSpec, type ToolSpec } from './tool-table.js';

// Decides from an executable and its arguments whether a process is a
// sniffing or adversary-in-the-middle tool, and whether this run captures.
// Names alone are not enough: a renamed binary is caught by its exe or
// argv[0] or build id, an interpreter by the script it runs or the code it is
// given, and `tcpdump --version` or `tshark -r file` capture nothing.

export type ToolKind = 'sniffer' | 'aitm';

export interface ToolMatch {
  tool: string;
  technique: HostTechnique;
  kind: ToolKind;
  /** How the program was recognised. */
  via: 'exe' | 'argv0' | 'build-id' | 'script' | 'module' | 'code';
  /** Interfaces named on the command line (empty: the tool's default). */
  interfaces: string[];
  /** Captures on every interface (`-i any`). */
  allInterfaces: boolean;
  /** Where captured packets go: a file, '-' for stdout, or 'files' for per-flow output. */
  writes?: string;
  /** Tools this one is a capture helper of (dumpcap under tshark). */
  helperOf?: readonly string[];
  /** What in the code gave it away, for interpreters. */
  detail?: string;
}

export interface ExecFacts {
  /** /proc/PID/exe target ('' when unknown). */
  exe: string;
  argv: readonly string[];
  /** Tool whose build id the executable carries (renamed copies). */
  buildIdTool?: string;
  /** Reads a script named on the command line, resolved against the process's cwd and root. */
  readScript?: (path: string) => string | undefined;
}

const BY_NAME = new Map<string, ToolSpec>();
for (const spec of TOOLS) for (const n of spec.names) BY_NAME.set(n, spec);

export function toolByName(name: string): ToolSpec | undefined {
  return BY_NAME.get(name.toLowerCase());
}

export function kindOf(t: HostTechnique): ToolKind {
  return t === 'T1040' ? 'sniffer' : 'aitm';
}

/** Last path component, without the " (deleted)" the kernel appends to unlinked executables. */
export function baseName(path: string): string {
  const p = path.endsWith(' (deleted)') ? path.slice(0, -10) : path;
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

function scriptName(path: string): string {
  return baseName(path).toLowerCase().replace(/\.(py|pyc|pl|rb|sh)$/, '');
}

export interface ParsedArgs {
  /** Options as written (`-w`, `--interface`), each with its values ('' for flags). */
  options: Map<string, string[]>;
  positional: string[];
}

/**
 * getopt-style parsing: clustered short flags (`-nni eth0`), attached or
 * separate values, `--long=value`, and `--` ending the options.
 */
export function parseArgs(args: readonly string[], shortWithValue = '', longWithValue: readonly string[] = [], singleDashLong = false): ParsedArgs {
  const options = new Map<string, string[]>();
  const positional: string[] = [];
  const add = (k: string, v: string): void => {
    const list = options.get(k);
    if (list) list.push(v);
    else options.set(k, [v]);
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if ((a.startsWith('--') && a.length > 2) || (singleDashLong && a.startsWith('-') && a.length > 1)) {
      const eq = a.indexOf('=');
      if (eq > 0) add(a.slice(0, eq), a.slice(eq + 1));
      else if (longWithValue.includes(a) && i + 1 < args.length) add(a, args[++i]!);
      else add(a, '');
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        if (shortWithValue.includes(c)) {
          const rest = a.slice(j + 1);
          if (rest !== '') add(`-${c}`, rest);
          else if (i + 1 < args.length) add(`-${c}`, args[++i]!);
          else add(`-${c}`, '');
          break;
        }
        add(`-${c}`, '');
      }
      continue;
    }
    positional.push(a);
  }
  return { options, positional };
}

function has(p: ParsedArgs, names: readonly string[] | undefined): boolean {
  return names !== undefined && names.some((n) => p.options.has(n));
}

function values(p: ParsedArgs, names: readonly string[] | undefined): string[] {
  if (!names) return [];
  return names.flatMap((n) => p.options.get(n) ?? []);
}

/** Whether this run of `spec` captures or attacks, and how; undefined for version/help/list/read-a-file runs. */
export function evaluateTool(spec: ToolSpec, args: readonly string[], via: ToolMatch['via']): ToolMatch | undefined {
  const p = parseArgs(args, spec.shortWithValue, spec.longWithValue, spec.singleDashLong);
  if (has(p, spec.nonCapture)) return undefined;
  if (spec.captureRequires && !has(p, spec.captureRequires)) return undefined;
  if (spec.needsPositional && p.positional.length === 0) return undefined;
  const ifaceValues = values(p, spec.iface).filter((v) => v !== '');
  if (spec.positionalIsFile && ifaceValues.length === 0 && p.positional.length > 0) return undefined;
  if (spec.positionalIface && p.positional[0] !== undefined) ifaceValues.push(p.positional[0]);

  let technique = spec.technique;
  for (const m of spec.modes ?? []) {
    const candidates = m.options ? values(p, m.options) : m.positional !== undefined ? [p.positional[m.positional] ?? ''] : args;
    if (candidates.some((v) => m.pattern.test(v))) {
      technique = m.technique;
      break;
    }
  }
  let writes = values(p, spec.write).find((v) => v !== '');
  if (writes === undefined && spec.writesUnless && !has(p, spec.writesUnless)) writes = 'files';
  return {
    tool: spec.tool,
    technique,
    kind: kindOf(technique),
    via,
    interfaces: ifaceValues,
    allInterfaces: ifaceValues.some((v) => v === 'any' || v === 'all'),
    writes,
    helperOf: spec.helperOf,
  };
}

export function interpreterOf(name: string): InterpreterSpec | undefined {
  return INTERPRETERS.find((s) => s.pattern.test(name));
}

function matchCode(code: string, via: ToolMatch['via']): ToolMatch | undefined {
  for (const c of CODE_PATTERNS) {
    if (c.all.every((re) => re.test(code))) {
      return { tool: c.tool, technique: c.technique, kind: kindOf(c.technique), via, interfaces: ifaceFromCode(code), allInterfaces: false, detail: c.what };
    }
  }
  return undefined;
}

/** iface='eth0' in scapy-style code, for the message. */
function ifaceFromCode(code: string): string[] {
  const m = /\biface\s*=\s*["']([^"'\s]{1,32})["']/.exec(code);
  return m ? [m[1]!] : [];
}

function classifyInterpreted(interp: InterpreterSpec, argv: readonly string[], readScript: ExecFacts['readScript']): ToolMatch | undefined {
  // Interpreter options end at the script, -c code or -m module; what follows belongs to the program.
  let i = 1;
  let code: string | undefined;
  let module: string | undefined;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--' || a === '-') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a.length < 2 || a.startsWith('--')) {
      if (a.startsWith('--') && a.length > 2) continue;
      break;
    }
    const opt = a.slice(0, 2);
    const attached = a.slice(2);
    const takesValue = interp.shortWithValue.includes(a[1]!);
    const value = takesValue ? (attached !== '' ? attached : argv[++i]) : undefined;
    if (interp.code.includes(opt) && value !== undefined) {
      code = code === undefined ? value : `${code}\n${value}`;
      // python -c ends the options; perl/ruby -e may repeat
      if (interp.module) {
        i++;
        break;
      }
    } else if (interp.module?.includes(opt) && value !== undefined) {
      module = value;
      i++;
      break;
    }
  }
  if (module !== undefined) {
    const hit = MODULES[module.split('.')[0]!];
    if (!hit) return undefined;
    const spec = toolByName(hit.tool);
    const args = argv.slice(i);
    const m = spec ? evaluateTool(spec, args, 'module') : undefined;
    return m ?? (spec ? undefined : { tool: hit.tool, technique: hit.technique, kind: kindOf(hit.technique), via: 'module', interfaces: [], allInterfaces: false });
  }
  if (code !== undefined) return interp.inspectCode ? matchCode(code, 'code') : undefined;
  const script = argv[i];
  if (script === undefined || script === '') return undefined;
  const spec = toolByName(scriptName(script));
  if (spec) return evaluateTool(spec, argv.slice(i + 1), 'script');
  if (!interp.inspectCode || !readScript) return undefined;
  const text = readScript(script);
  return text === undefined ? undefined : matchCode(text, 'code');
}

/** The sniffing or AiTM tool this exec runs, and what this run does; undefined when it is neither. */
export function classifyExec(facts: ExecFacts): ToolMatch | undefined {
  const exeName = facts.exe ? baseName(facts.exe) : '';
  const argv0Name = facts.argv.length > 0 ? baseName(facts.argv[0]!) : '';
  // The executable tells the truth about what runs; argv[0] is what it was called
  // (a symlink named tcpdump to a renamed copy) and fills in when exe is unknown.
  const interp = interpreterOf(exeName) ?? (exeName === '' ? interpreterOf(argv0Name) : undefined);
  if (interp) return classifyInterpreted(interp, facts.argv, facts.readScript);
  const args = facts.argv.slice(1);
  const candidates: [string | undefined, ToolMatch['via']][] = [
    [exeName, 'exe'],
    [argv0Name, 'argv0'],
    [facts.buildIdTool, 'build-id'],
  ];
  for (const [name, via] of candidates) {
    if (!name) continue;
    const spec = toolByName(name);
    if (spec) return evaluateTool(spec, args, via);
  }
  return undefined;
}
