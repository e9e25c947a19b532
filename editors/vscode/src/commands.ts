// The commands: restart server, show log, select model file, show status.
import * as vscode from 'vscode';

import { METHODS, SETTINGS_SECTION } from './protocol';
import type { RapideServer } from './server';

export function registerCommands(server: RapideServer): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand('rapide.restartServer', async () => {
      server.output.info('restart requested by the user');
      await server.restart();
    }),
    vscode.commands.registerCommand('rapide.showLog', () => {
      server.output.show();
    }),
    vscode.commands.registerCommand('rapide.selectModel', async () => {
      const current = server.settings.modelPath;
      const picked = await vscode.window.showOpenDialog({
        canSelectMany: false,
        openLabel: 'Use this model',
        title: 'rapide: select a GGUF model',
        filters: { 'GGUF model': ['gguf'], 'All files': ['*'] },
        ...(current !== '' ? { defaultUri: vscode.Uri.file(current) } : {}),
      });
      const file = picked?.[0];
      if (file === undefined) return;
      // The configuration listener restarts the server with the new --model.
      await vscode.workspace
        .getConfiguration(SETTINGS_SECTION)
        .update('modelPath', file.fsPath, vscode.ConfigurationTarget.Global);
    }),
    vscode.commands.registerCommand('rapide.showStatus', async () => {
      const client = server.client;
      if (client === undefined) {
        server.output.show();
        return;
      }
      try {
        const [status, metrics] = await Promise.all([
          client.sendRequest<unknown>(METHODS.status),
          client.sendRequest<unknown>(METHODS.metrics),
        ]);
        server.output.info(`${METHODS.status}: ${JSON.stringify(status, null, 2)}`);
        server.output.info(`${METHODS.metrics}: ${JSON.stringify(metrics, null, 2)}`);
      } catch (e) {
        server.output.error(`status: ${e instanceof Error ? e.message : String(e)}`);
      }
      server.output.show();
    }),
  ];
}
