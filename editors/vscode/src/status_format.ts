// Text of the status bar item from the server's `rapide/status` answer and the client's state.
// Pure logic (no vscode import), unit-tested.
import { STATUS_STATES, type ServerStatus } from './protocol';

export type ClientPhase = 'starting' | 'running' | 'restarting' | 'stopped';

export interface StatusView {
  /** Status bar text; `$(name)` are VS Code codicons. */
  text: string;
  /** Markdown-free tooltip, one fact a line. */
  tooltip: string;
  /** Whether the item should use the warning/error background. */
  severity: 'normal' | 'warning' | 'error';
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatLatency(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** The model file's base name without the .gguf extension. */
export function modelName(model: string): string {
  const base = model.split(/[\\/]/).pop() ?? model;
  return base.toLowerCase().endsWith('.gguf') ? base.slice(0, -5) : base;
}

/** Checks the shape of a `rapide/status` answer; returns undefined when it is not one. */
export function parseStatus(value: unknown): ServerStatus | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const state = v['state'];
  if (typeof state !== 'string' || !(STATUS_STATES as readonly string[]).includes(state)) return undefined;
  const status: ServerStatus = { state: state as ServerStatus['state'] };
  if (typeof v['model'] === 'string') status.model = v['model'];
  if (typeof v['device'] === 'string') status.device = v['device'];
  if (typeof v['memoryBytes'] === 'number') status.memoryBytes = v['memoryBytes'];
  if (typeof v['loadPercent'] === 'number') status.loadPercent = v['loadPercent'];
  if (typeof v['message'] === 'string') status.message = v['message'];
  const lat = v['lastLatencyMs'];
  if (typeof lat === 'object' && lat !== null) {
    const l = lat as Record<string, unknown>;
    status.lastLatencyMs = {};
    for (const key of ['inlineCompletion', 'hover', 'codeAction'] as const) {
      // A negative or missing figure means "none measured yet".
      const ms = l[key];
      if (typeof ms === 'number' && ms >= 0) status.lastLatencyMs[key] = ms;
    }
  }
  return status;
}

/**
 * @param status last `rapide/status` answer, if any
 * @param clientLatencyMs round trip of the last inline completion measured by the client
 */
export function formatStatus(phase: ClientPhase, status: ServerStatus | undefined, clientLatencyMs?: number): StatusView {
  if (phase === 'stopped') {
    return { text: '$(error) rapide', tooltip: 'rapide: server stopped (run "rapide: Restart Server")', severity: 'error' };
  }
  if (phase === 'restarting') {
    return { text: '$(sync~spin) rapide', tooltip: 'rapide: server exited, restarting', severity: 'warning' };
  }
  if (phase === 'starting' || status === undefined) {
    return { text: '$(loading~spin) rapide', tooltip: 'rapide: starting the server', severity: 'normal' };
  }
  const lines: string[] = [];
  if (status.model !== undefined) lines.push(`model: ${status.model}`);
  if (status.device !== undefined) lines.push(`device: ${status.device}`);
  if (status.memoryBytes !== undefined) lines.push(`memory: ${formatBytes(status.memoryBytes)}`);
  const lat = status.lastLatencyMs ?? {};
  if (clientLatencyMs !== undefined) lines.push(`last completion (editor round trip): ${formatLatency(clientLatencyMs)}`);
  if (lat.inlineCompletion !== undefined) lines.push(`last completion (server): ${formatLatency(lat.inlineCompletion)}`);
  if (lat.hover !== undefined) lines.push(`last hover: ${formatLatency(lat.hover)}`);
  if (lat.codeAction !== undefined) lines.push(`last quick fix: ${formatLatency(lat.codeAction)}`);
  if (status.message !== undefined) lines.push(status.message);

  switch (status.state) {
    case 'loading': {
      const pct = status.loadPercent !== undefined ? ` ${Math.max(0, Math.min(100, Math.round(status.loadPercent)))}%` : '';
      return { text: `$(loading~spin) rapide${pct}`, tooltip: ['rapide: loading the model', ...lines].join('\n'), severity: 'normal' };
    }
    case 'no-model':
      return {
        text: '$(warning) rapide: no model',
        tooltip: ['rapide: no model loaded (run "rapide: Select Model File...")', ...lines].join('\n'),
        severity: 'warning',
      };
    case 'error':
      return { text: '$(error) rapide', tooltip: ['rapide: error', ...lines].join('\n'), severity: 'error' };
    case 'ready': {
      const parts = ['$(sparkle) rapide'];
      if (status.model !== undefined) parts.push(modelName(status.model));
      if (status.device !== undefined) parts.push(status.device.split(' ')[0] ?? status.device);
      const latency = clientLatencyMs ?? lat.inlineCompletion;
      if (latency !== undefined) parts.push(formatLatency(latency));
      return { text: parts.join(' · ').replace('rapide · ', 'rapide: '), tooltip: ['rapide: ready', ...lines].join('\n'), severity: 'normal' };
    }
  }
}
