// The contract with the rapide server: custom method names, the settings and their command-line
// flags. Restates editors/protocol.json (test/protocol.test.ts checks that they agree, and that
// package.json declares the same settings). No vscode import: unit tests load this file in Node.

export const SETTINGS_SECTION = 'rapide';

export const METHODS = {
  inlineCompletion: 'textDocument/inlineCompletion',
  status: 'rapide/status',
  metrics: 'rapide/metrics',
} as const;

/** Token of the `$/progress` reports the server sends while a model loads. */
export const PROGRESS_TOKEN = 'rapide/modelLoad';

export const STATUS_STATES = ['loading', 'ready', 'no-model', 'error'] as const;
export type StatusState = (typeof STATUS_STATES)[number];

/** Answer of `rapide/status`. Every field but `state` is optional: the client shows what it gets. */
export interface ServerStatus {
  state: StatusState;
  /** Model file (path or name) of the completion model. */
  model?: string;
  /** Where it runs, e.g. "cpu" or "cuda:0 (NVIDIA H100)". */
  device?: string;
  /** Resident memory of the weights and caches. */
  memoryBytes?: number;
  /** Loading progress in percent while state is "loading". */
  loadPercent?: number;
  /** Most recent server-side latency per feature, in milliseconds. */
  lastLatencyMs?: { inlineCompletion?: number; hover?: number; codeAction?: number };
  /** Why the state is "no-model" or "error". */
  message?: string;
}

export type SettingType = 'string' | 'integer' | 'object';

export interface SettingSpec {
  readonly type: SettingType;
  readonly default: string | number | Readonly<Record<string, boolean>>;
  /** `rapide serve` flag carrying the value; none: sent only in initializationOptions/configuration. */
  readonly flag?: string;
  /** A change needs a server restart (it changes the command line or the binary). */
  readonly restart: boolean;
  readonly values?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
}

export const SETTINGS = {
  serverPath: { type: 'string', default: '', restart: true },
  modelPath: { type: 'string', default: '', flag: '--model', restart: true },
  draftModelPath: { type: 'string', default: '', flag: '--draft-model', restart: true },
  chatModelPath: { type: 'string', default: '', flag: '--chat-model', restart: true },
  device: { type: 'string', default: 'auto', flag: '--device', restart: true, values: ['auto', 'cpu', 'cuda'] },
  speculation: { type: 'string', default: 'ngram', flag: '--speculate', restart: true, values: ['ngram', 'none', 'draft'] },
  maxTokens: { type: 'integer', default: 128, restart: false, minimum: 1, maximum: 4096 },
  enable: { type: 'object', default: { '*': true, plaintext: false, markdown: false, scminput: false }, restart: false },
  logLevel: { type: 'string', default: 'info', flag: '--log-level', restart: true, values: ['error', 'warn', 'info', 'debug', 'trace'] },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];
