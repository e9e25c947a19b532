// Entry point: a thin LSP client for `rapide serve`. Inline completions, quick fixes and hover
// come through vscode-languageclient's standard features; this extension adds the server's
// life cycle (start, restart with back-off), a status bar item and a few commands.
import * as vscode from 'vscode';

import { registerCommands } from './commands';
import { RapideServer } from './server';
import { needsRestart } from './settings';
import { StatusBar } from './status_bar';

let server: RapideServer | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('rapide', { log: true });
  server = new RapideServer(context, output);
  const statusBar = new StatusBar(server);
  const running = server;
  context.subscriptions.push(
    output,
    running,
    statusBar,
    ...registerCommands(running),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (!event.affectsConfiguration('rapide')) return;
      if (needsRestart((section) => event.affectsConfiguration(section))) {
        output.info('settings changed: restarting the server');
        await running.restart();
      } else {
        running.reloadSettings();
      }
    }),
  );
  await running.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
