// Settings -> server command line and initializationOptions; per-language enablement.
// Pure logic (no vscode import) so that it is unit-tested in Node.
import * as path from 'node:path';

import { SETTINGS, SETTING_NAMES, type SettingName } from './protocol';

export interface RapideSettings {
  serverPath: string;
  modelPath: string;
  draftModelPath: string;
  chatModelPath: string;
  device: string;
  speculation: string;
  maxTokens: number;
  enable: Record<string, boolean>;
  logLevel: string;
}

export interface ReadResult {
  settings: RapideSettings;
  /** One line per rejected value (the default is used instead), for the user. */
  problems: string[];
}

function valueProblem(name: SettingName, value: unknown): string | undefined {
  const spec: { type: string; values?: readonly string[]; minimum?: number; maximum?: number } = SETTINGS[name];
  switch (spec.type) {
    case 'string': {
      if (typeof value !== 'string') return `expected a string, got ${JSON.stringify(value)}`;
      if (spec.values === undefined) return undefined;
      return spec.values.includes(value) ? undefined : `expected one of ${spec.values.join(', ')}, got ${JSON.stringify(value)}`;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return `expected an integer, got ${JSON.stringify(value)}`;
      if (spec.minimum !== undefined && value < spec.minimum) return `expected at least ${spec.minimum}, got ${value}`;
      if (spec.maximum !== undefined && value > spec.maximum) return `expected at most ${spec.maximum}, got ${value}`;
      return undefined;
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return `expected an object of language id -> true/false, got ${JSON.stringify(value)}`;
      }
      for (const [key, flag] of Object.entries(value)) {
        if (typeof flag !== 'boolean') return `"${key}": expected true or false, got ${JSON.stringify(flag)}`;
      }
      return undefined;
    }
    default:
      return `unknown setting type ${spec.type}`;
  }
}

/**
 * Reads every setting through `get` (e.g. `workspace.getConfiguration('rapide').get`), checking
 * each value; a bad value is replaced by the default and reported in `problems`.
 */
export function readSettings(get: (name: string) => unknown): ReadResult {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    const raw = get(name);
    const fallback: unknown = SETTINGS[name].default;
    if (raw === undefined || raw === null) {
      out[name] = structuredClone(fallback);
      continue;
    }
    const problem = valueProblem(name, raw);
    if (problem === undefined) {
      out[name] = raw;
    } else {
      problems.push(`rapide.${name}: ${problem}; using ${JSON.stringify(fallback)}`);
      out[name] = structuredClone(fallback);
    }
  }
  return { settings: out as unknown as RapideSettings, problems };
}

/**
 * `rapide serve` arguments: a flag for each setting that has one and whose value is not its
 * default (an empty path means "not set").
 */
export function serverArgs(settings: RapideSettings): string[] {
  const args = ['serve'];
  for (const name of SETTING_NAMES) {
    const spec: { flag?: string; default: unknown } = SETTINGS[name];
    if (spec.flag === undefined) continue;
    const value = settings[name];
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    if (value === spec.default || value === '') continue;
    args.push(spec.flag, name.endsWith('Path') ? expandHome(String(value)) : String(value));
  }
  return args;
}

/** The settings object sent as initializationOptions (same keys as the `rapide` section). */
export function initializationOptions(settings: RapideSettings): Record<string, unknown> {
  const { serverPath: _unused, ...forServer } = settings;
  return forServer;
}

/** Whether a configuration change to `name` needs the server restarted. */
export function needsRestart(changed: (section: string) => boolean): boolean {
  return SETTING_NAMES.some((name) => SETTINGS[name].restart && changed(`rapide.${name}`));
}

/** Inline completions on for a language id: its own entry, else '*', else on. */
export function isEnabledFor(enable: Record<string, boolean>, languageId: string): boolean {
  return enable[languageId] ?? enable['*'] ?? true;
}

export function expandHome(p: string, home = process.env['HOME'] ?? ''): string {
  if (home !== '' && (p === '~' || p.startsWith('~/'))) return path.join(home, p.slice(1));
  return p;
}

/**
 * The executable to run: the configured path; else the binary shipped in the extension's bin/
 * folder when it exists; else `rapide`, looked up on PATH when spawned.
 */
export function resolveServerPath(
  configured: string,
  extensionPath: string,
  platform: NodeJS.Platform,
  exists: (file: string) => boolean,
): string {
  if (configured.trim() !== '') return expandHome(configured.trim());
  const bundled = path.join(extensionPath, 'bin', platform === 'win32' ? 'rapide.exe' : 'rapide');
  return exists(bundled) ? bundled : 'rapide';
}
