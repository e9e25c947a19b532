// A full LSP session against the real `rapide serve`, driven by Microsoft's client libraries
// (vscode-jsonrpc / vscode-languageserver-protocol) over the child's stdio pipes:
// initialize, open, edit, inline completion, cancel, code action + resolve, hover, shutdown.
//
//   node session.test.mjs RAPIDE_BINARY MODEL.gguf
// Exits 0 when every check passes; prints what failed otherwise.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  InitializeRequest,
  InitializedNotification,
  DidOpenTextDocumentNotification,
  DidChangeTextDocumentNotification,
  InlineCompletionRequest,
  InlineCompletionTriggerKind,
  CodeActionRequest,
  CodeActionResolveRequest,
  HoverRequest,
  ShutdownRequest,
  ExitNotification,
  ConfigurationRequest,
  WorkDoneProgressCreateRequest,
  ShowMessageNotification,
  CancellationTokenSource,
  ResponseError,
} from 'vscode-languageserver-protocol/node';

const [binary, model] = process.argv.slice(2);
if (!binary || !model) {
  console.error('usage: node session.test.mjs RAPIDE_BINARY MODEL.gguf');
  process.exit(2);
}

const child = spawn(binary, ['serve', '--model', model, '--log-level', 'debug', '--debounce', '30'], {
  stdio: ['pipe', 'pipe', 'pipe'],
});
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));

const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
const progress = [];
const messages = [];
let configurationAsked = 0;
conn.onRequest(ConfigurationRequest.type, (params) => {
  configurationAsked++;
  return params.items.map(() => ({ maxTokens: 16, enable: { '*': true } }));
});
conn.onRequest(WorkDoneProgressCreateRequest.type, () => null);
conn.onUnhandledProgress((p) => progress.push(p));
conn.onNotification(ShowMessageNotification.type, (m) => messages.push(m));
conn.listen();

const checks = [];
function check(name, fn) {
  checks.push(name);
  return fn();
}

const timeout = setTimeout(() => {
  console.error('timeout; server stderr:\n' + stderr.slice(-4000));
  process.exit(1);
}, 120000);

try {
  const uri = 'file:///work/demo.py';
  const init = await conn.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri: null,
    capabilities: {
      general: { positionEncodings: ['utf-16'] },
      workspace: { configuration: true },
      window: { workDoneProgress: true },
      textDocument: { inlineCompletion: { dynamicRegistration: false } },
    },
    clientInfo: { name: 'node-test' },
  });
  check('initialize: capabilities', () => {
    assert.equal(init.capabilities.positionEncoding, 'utf-16');
    assert.equal(init.capabilities.inlineCompletionProvider, true);
    assert.equal(init.capabilities.hoverProvider, true);
    assert.equal(init.capabilities.codeActionProvider.resolveProvider, true);
    assert.equal(init.capabilities.textDocumentSync.change, 2);
    assert.equal(init.serverInfo.name, 'rapide');
  });
  await conn.sendNotification(InitializedNotification.type, {});

  // Wait for the model.
  let status;
  for (let i = 0; i < 600; i++) {
    status = await conn.sendRequest('rapide/status');
    if (status.state !== 'loading') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  check('model ready', () => assert.equal(status.state, 'ready', JSON.stringify(status)));
  check('$/progress begin and end', () => {
    const kinds = progress.map((p) => p.value.kind);
    assert.equal(progress[0]?.token, 'rapide/modelLoad');
    assert.ok(kinds.includes('begin') && kinds.includes('end'), JSON.stringify(kinds));
  });
  check('workspace/configuration pulled', () => assert.ok(configurationAsked >= 1));

  const text = 'def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    \n';
  await conn.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: 'python', version: 1, text },
  });
  // Incremental edit: type "result = " on line 5.
  await conn.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version: 2 },
    contentChanges: [{ range: { start: { line: 5, character: 4 }, end: { line: 5, character: 4 } }, text: 'result = ' }],
  });

  const at = { line: 5, character: 13 };
  const inline = await conn.sendRequest(InlineCompletionRequest.type, {
    textDocument: { uri },
    position: at,
    context: { triggerKind: InlineCompletionTriggerKind.Invoked },
  });
  check('inline completion: list with range at the cursor', () => {
    assert.ok(Array.isArray(inline.items), JSON.stringify(inline));
    for (const item of inline.items) {
      assert.equal(typeof item.insertText, 'string');
      assert.deepEqual(item.range, { start: at, end: at });
    }
  });

  // Cancellations on a second document that has no cached completion (a typed-ahead cache hit
  // would answer at once, before any cancel).
  const uri2 = 'file:///work/other.py';
  await conn.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri: uri2, languageId: 'python', version: 1, text: 'import os\n\nprint(os.getcwd())\n' },
  });
  const at2 = { line: 1, character: 0 };
  // Cancellation 1: $/cancelRequest from the token before the debounce fires.
  const source = new CancellationTokenSource();
  const cancelled = conn.sendRequest(
    InlineCompletionRequest.type,
    { textDocument: { uri: uri2 }, position: at2, context: { triggerKind: InlineCompletionTriggerKind.Automatic } },
    source.token,
  );
  source.cancel();
  const r1 = await cancelled.then((v) => ({ value: v }), (e) => ({ error: e }));
  check('$/cancelRequest -> RequestCancelled', () => {
    assert.ok(r1.error instanceof ResponseError, JSON.stringify(r1));
    assert.equal(r1.error.code, -32800);
  });

  // Cancellation 2: a newer request for the same document supersedes the older one.
  const older = conn.sendRequest(InlineCompletionRequest.type, {
    textDocument: { uri: uri2 }, position: at2, context: { triggerKind: InlineCompletionTriggerKind.Automatic },
  }).then((v) => ({ value: v }), (e) => ({ error: e }));
  const newer = conn.sendRequest(InlineCompletionRequest.type, {
    textDocument: { uri: uri2 }, position: at2, context: { triggerKind: InlineCompletionTriggerKind.Automatic },
  }).then((v) => ({ value: v }), (e) => ({ error: e }));
  const [o, n] = await Promise.all([older, newer]);
  check('a newer request cancels the older one', () => {
    assert.equal(o.error?.code, -32800, JSON.stringify(o));
    assert.ok(n.value && Array.isArray(n.value.items), JSON.stringify(n));
  });

  // Code action for a diagnostic, then resolve.
  const diagnostic = {
    range: { start: { line: 1, character: 11 }, end: { line: 1, character: 16 } },
    severity: 1,
    source: 'node-test',
    message: "name 'b' is not defined",
  };
  const actions = await conn.sendRequest(CodeActionRequest.type, {
    textDocument: { uri },
    range: diagnostic.range,
    context: { diagnostics: [diagnostic] },
  });
  check('codeAction: quickfix without edit', () => {
    assert.ok(actions.length >= 1, JSON.stringify(actions));
    assert.equal(actions[0].kind, 'quickfix');
    assert.equal(actions[0].edit, undefined);
    assert.ok(actions[0].data);
  });
  const resolved = await conn.sendRequest(CodeActionResolveRequest.type, actions[0]).then(
    (v) => ({ value: v }),
    (e) => ({ error: e }),
  );
  check('codeAction/resolve: an edit or a clear error', () => {
    if (resolved.value) {
      const edits = resolved.value.edit.changes[uri];
      assert.ok(Array.isArray(edits) && edits.length === 1, JSON.stringify(resolved.value));
      assert.equal(typeof resolved.value.data.verified, 'boolean');
      if (!resolved.value.data.verified) assert.match(resolved.value.title, /unverified/);
    } else {
      // A random-weight model may propose nothing: that must be a clear RequestFailed.
      assert.equal(resolved.error.code, -32803, String(resolved.error));
      assert.match(resolved.error.message, /no change/);
    }
  });

  const hover = await conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 0, character: 5 } });
  check('hover: markdown or null', () => {
    if (hover !== null) {
      assert.equal(hover.contents.kind, 'markdown');
      assert.match(hover.contents.value, /rapide/);
    }
  });
  const hover2 = await conn.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 0, character: 5 } });
  check('hover: cached per version and range', () => assert.deepEqual(hover2, hover));

  const metrics = await conn.sendRequest('rapide/metrics');
  check('metrics: cancellations counted', () => assert.ok(metrics.inlineCompletion.cancelled >= 2, JSON.stringify(metrics)));

  await conn.sendRequest(ShutdownRequest.type);
  await conn.sendNotification(ExitNotification.type);
  const code = await exited;
  check('exit code 0 after shutdown', () => assert.equal(code, 0));
  clearTimeout(timeout);
  console.log(`ok: ${checks.length} checks passed`);
  process.exit(0);
} catch (e) {
  console.error(`FAILED at check "${checks[checks.length - 1]}": ${e.stack || e}`);
  console.error('server stderr (tail):\n' + stderr.slice(-4000));
  process.exit(1);
}
