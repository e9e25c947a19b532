// The status bar item: model, device, last latency, loading progress. Polls `rapide/status`
// (answered by the server without touching the model): every second while the server starts or
// loads a model, every few seconds otherwise, and right after each completion.
import * as vscode from 'vscode';

import { METHODS, type ServerStatus } from './protocol';
import type { RapideServer } from './server';
import { formatStatus, parseStatus } from './status_format';

const FAST_POLL_MS = 1000;
const SLOW_POLL_MS = 5000;

export class StatusBar implements vscode.Disposable {
  private readonly item_ = vscode.window.createStatusBarItem('rapide.status', vscode.StatusBarAlignment.Right, 100);
  private readonly subscriptions_: vscode.Disposable[] = [];
  private status_: ServerStatus | undefined;
  private clientLatencyMs_: number | undefined;
  private timer_: NodeJS.Timeout | undefined;
  private polling_ = false;

  constructor(private readonly server: RapideServer) {
    this.item_.name = 'rapide';
    this.item_.command = 'rapide.showStatus';
    this.subscriptions_.push(
      server.onDidChangePhase((phase) => {
        if (phase !== 'running') this.status_ = undefined;
        this.render();
        this.schedule(0);
      }),
      server.onDidMeasureLatency((ms) => {
        this.clientLatencyMs_ = ms;
        this.render();
        this.schedule(0);
      }),
    );
    this.render();
    this.item_.show();
    this.schedule(0);
  }

  get lastStatus(): ServerStatus | undefined {
    return this.status_;
  }

  private render(): void {
    const view = formatStatus(this.server.phase, this.status_, this.clientLatencyMs_);
    this.item_.text = view.text;
    this.item_.tooltip = view.tooltip;
    this.item_.backgroundColor =
      view.severity === 'normal'
        ? undefined
        : new vscode.ThemeColor(view.severity === 'error' ? 'statusBarItem.errorBackground' : 'statusBarItem.warningBackground');
  }

  private schedule(delayMs: number): void {
    if (this.timer_ !== undefined) clearTimeout(this.timer_);
    this.timer_ = setTimeout(() => void this.poll(), delayMs);
  }

  private async poll(): Promise<void> {
    this.timer_ = undefined;
    if (this.polling_) return;
    const client = this.server.client;
    if (client === undefined) {
      this.schedule(FAST_POLL_MS);
      return;
    }
    this.polling_ = true;
    try {
      const answer: unknown = await client.sendRequest(METHODS.status);
      const status = parseStatus(answer);
      if (status === undefined) this.server.output.warn(`unexpected ${METHODS.status} answer: ${JSON.stringify(answer)}`);
      this.status_ = status;
    } catch (e) {
      this.server.output.debug(`${METHODS.status}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.polling_ = false;
    }
    this.render();
    this.schedule(this.status_?.state === 'ready' ? SLOW_POLL_MS : FAST_POLL_MS);
  }

  dispose(): void {
    if (this.timer_ !== undefined) clearTimeout(this.timer_);
    for (const s of this.subscriptions_) s.dispose();
    this.item_.dispose();
  }
}
