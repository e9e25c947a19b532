// Inline completions come from vscode-languageclient's built-in LSP 3.18 inline completion
// feature (VS Code shows them as ghost text with its own accept / next / previous commands).
// This middleware only skips languages the user turned off and measures the round trip.
import type { Middleware } from 'vscode-languageclient/node';

import { isEnabledFor } from './settings';

export interface InlineCompletionHooks {
  /** Current `rapide.enable` map. */
  enabled(): Record<string, boolean>;
  /** Called with the round trip of each answered request. */
  onLatency(ms: number): void;
}

type ProvideInline = NonNullable<Middleware['provideInlineCompletionItems']>;

export function inlineCompletionMiddleware(hooks: InlineCompletionHooks): { provideInlineCompletionItems: ProvideInline } {
  const provide: ProvideInline = async (document, position, context, token, next) => {
    if (!isEnabledFor(hooks.enabled(), document.languageId)) return undefined;
    const started = performance.now();
    const result = await next(document, position, context, token);
    if (!token.isCancellationRequested) hooks.onLatency(performance.now() - started);
    return result;
  };
  return { provideInlineCompletionItems: provide };
}
