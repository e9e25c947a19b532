// Owns the language client: starts `rapide serve`, restarts it with back-off when it dies
// (telling the user), and stops it on request. One LanguageClient per server process.
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  type CloseHandlerResult,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';

import { RestartPolicy } from './backoff';
import { inlineCompletionMiddleware } from './inline_completion';
import { SETTINGS_SECTION } from './protocol';
import { initializationOptions, readSettings, resolveServerPath, serverArgs, type RapideSettings } from './settings';
import type { ClientPhase } from './status_format';

export class RapideServer implements vscode.Disposable {
  private client_: LanguageClient | undefined;
  private phase_: ClientPhase = 'stopped';
  private restartTimer_: NodeJS.Timeout | undefined;
  private readonly policy_ = new RestartPolicy();
  private readonly phaseEmitter_ = new vscode.EventEmitter<ClientPhase>();
  private readonly latencyEmitter_ = new vscode.EventEmitter<number>();
  private settings_: RapideSettings;
  /** Bumped on every start/stop so that callbacks of an old client are ignored. */
  private generation_ = 0;

  readonly onDidChangePhase = this.phaseEmitter_.event;
  readonly onDidMeasureLatency = this.latencyEmitter_.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly output: vscode.LogOutputChannel,
  ) {
    this.settings_ = this.loadSettings();
  }

  get phase(): ClientPhase {
    return this.phase_;
  }

  /** The running client, if any. */
  get client(): LanguageClient | undefined {
    return this.client_?.state === State.Running ? this.client_ : undefined;
  }

  get settings(): RapideSettings {
    return this.settings_;
  }

  private setPhase(phase: ClientPhase): void {
    this.phase_ = phase;
    this.phaseEmitter_.fire(phase);
  }

  private loadSettings(): RapideSettings {
    const config = vscode.workspace.getConfiguration(SETTINGS_SECTION);
    const { settings, problems } = readSettings((name) => config.get(name));
    for (const p of problems) {
      this.output.warn(p);
      void vscode.window.showWarningMessage(p);
    }
    return settings;
  }

  /** Re-reads the settings (those sent to a running server reach it via didChangeConfiguration). */
  reloadSettings(): void {
    this.settings_ = this.loadSettings();
  }

  async start(): Promise<void> {
    this.clearTimer();
    const generation = ++this.generation_;
    this.settings_ = this.loadSettings();
    const command = resolveServerPath(this.settings_.serverPath, this.context.extensionPath, process.platform, (f) => {
      return fs.existsSync(f);
    });
    const args = serverArgs(this.settings_);
    this.output.info(`starting ${command} ${args.join(' ')}`);
    const serverOptions: ServerOptions = { command, args, options: { env: process.env } };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: this.output,
      initializationOptions: () => initializationOptions(this.settings_),
      // Push model: every change of the rapide section is sent in workspace/didChangeConfiguration
      // (the server also answers workspace/configuration pulls), so the server needs no dynamic
      // registration to hear about changes; the Neovim plugin does the same.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      synchronize: { configurationSection: SETTINGS_SECTION },
      errorHandler: {
        error: (error, _message, count): ErrorHandlerResult => {
          this.output.error(`connection error: ${error.message}`);
          return { action: (count ?? 0) < 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true };
        },
        closed: (): CloseHandlerResult => {
          if (generation === this.generation_) this.onServerDied('the server exited');
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
      middleware: inlineCompletionMiddleware({
        enabled: () => this.settings_.enable,
        onLatency: (ms) => {
          this.latencyEmitter_.fire(ms);
        },
      }),
    };
    const client = new LanguageClient('rapide', 'rapide', serverOptions, clientOptions);
    this.client_ = client;
    this.setPhase('starting');
    try {
      await client.start();
      if (generation === this.generation_) this.setPhase('running');
    } catch (e) {
      if (generation !== this.generation_) return;
      const why = e instanceof Error ? e.message : String(e);
      this.onServerDied(`could not start ${command}: ${why}`);
    }
  }

  private onServerDied(why: string): void {
    if (this.restartTimer_ !== undefined || this.phase_ === 'stopped') return;
    const decision = this.policy_.onCrash(Date.now());
    this.output.error(`${why} (${decision.crashesInWindow} time(s) in the last minutes)`);
    if (decision.restart) {
      const seconds = Math.round(decision.delayMs / 1000);
      this.setPhase('restarting');
      void this.notify('warning', `rapide: ${why}; restarting in ${seconds} s.`);
      this.restartTimer_ = setTimeout(() => {
        this.restartTimer_ = undefined;
        void this.disposeClient().then(() => this.start());
      }, decision.delayMs);
    } else {
      this.setPhase('stopped');
      void this.notify(
        'error',
        `rapide: ${why}; it failed ${decision.crashesInWindow} times in a row, so it is not restarted. ` +
          'Check the log, fix the cause, then run "rapide: Restart Server".',
      );
      void this.disposeClient();
    }
  }

  private async notify(level: 'warning' | 'error', message: string): Promise<void> {
    const show = level === 'warning' ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
    const choice = await show(message, 'Show Log');
    if (choice === 'Show Log') this.output.show();
  }

  /** Stops the server (if any) and starts a fresh one; forgets past crashes. */
  async restart(): Promise<void> {
    this.policy_.reset();
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    this.clearTimer();
    this.generation_ += 1;
    this.setPhase('stopped');
    await this.disposeClient();
  }

  private async disposeClient(): Promise<void> {
    const client = this.client_;
    this.client_ = undefined;
    if (client === undefined) return;
    try {
      if (client.state === State.Running) await client.stop(2000);
      await client.dispose();
    } catch (e) {
      this.output.warn(`stopping the old server: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private clearTimer(): void {
    if (this.restartTimer_ !== undefined) clearTimeout(this.restartTimer_);
    this.restartTimer_ = undefined;
  }

  dispose(): void {
    void this.stop();
    this.phaseEmitter_.dispose();
    this.latencyEmitter_.dispose();
  }
}
