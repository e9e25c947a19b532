#!/usr/bin/env python3
"""Writes the seed corpora of the structured fuzz targets (deterministic; rerun after changing
this file): fuzz/corpus/{lsp_server,tokenizer,document_edit,completion_context}/.
The GGUF seeds are written by make_gguf_seeds (C++, uses GgufWriter).
  python3 fuzz/make_seeds.py"""
import json
import os
import random

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def msg(method, params=None, id=None):
    m = {"jsonrpc": "2.0", "method": method}
    if id is not None:
        m["id"] = id
    if params is not None:
        m["params"] = params
    return json.dumps(m).encode()


def frame(body):
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


doc = {"uri": "file:///w/a.py"}
pos = {"line": 3, "character": 8}
rng = {"start": {"line": 2, "character": 0}, "end": {"line": 3, "character": 4}}
sessions = {
    "features": [
        msg("textDocument/inlineCompletion", {"textDocument": doc, "position": pos,
                                              "context": {"triggerKind": 2}}, 2),
        msg("textDocument/completion", {"textDocument": doc, "position": pos}, 3),
        msg("textDocument/hover", {"textDocument": doc, "position": {"line": 2, "character": 5}}, 4),
        msg("textDocument/codeAction", {"textDocument": doc, "range": rng,
                                        "context": {"diagnostics": []}}, 5),
        msg("rapide/status", {}, 6),
        msg("rapide/metrics", {}, 7),
    ],
    "edits": [
        msg("textDocument/didChange", {"textDocument": {"uri": doc["uri"], "version": 2},
                                       "contentChanges": [{"range": rng, "text": "def g(y):\n"}]}),
        msg("textDocument/didChange", {"textDocument": {"uri": doc["uri"], "version": 3},
                                       "contentChanges": [{"text": "x = 1\n"}]}),
        msg("textDocument/hover", {"textDocument": doc, "position": {"line": 0, "character": 0}}, 8),
        msg("textDocument/didSave", {"textDocument": doc}),
        msg("textDocument/didClose", {"textDocument": doc}),
        msg("textDocument/hover", {"textDocument": doc, "position": pos}, 9),
    ],
    "cancel": [
        msg("textDocument/inlineCompletion", {"textDocument": doc, "position": pos, "context": {"triggerKind": 1}}, "a"),
        msg("$/cancelRequest", {"id": "a"}),
        msg("$/cancelRequest", {"id": 99}),
        msg("workspace/didChangeConfiguration", {"settings": {"rapide": {"maxTokens": 4, "enable": {"*": False}}}}),
        msg("textDocument/inlineCompletion", {"textDocument": doc, "position": pos, "context": {"triggerKind": 1}}, "b"),
    ],
    "bad": [
        b"{", b"[]", b"[1,2]", b"null", b'"x"', b'{"jsonrpc":"2.0"}',
        msg("nope/unknown", {}, 10),
        msg("textDocument/hover", {"textDocument": 5}, 11),
        msg("textDocument/hover", {"textDocument": doc, "position": {"line": -1, "character": 1e30}}, 12),
        msg("textDocument/didChange", {"textDocument": {"uri": doc["uri"], "version": 1},
                                       "contentChanges": [{"range": {"start": {"line": 9, "character": 0},
                                                                     "end": {"line": 0, "character": 0}}, "text": ""}]}),
        msg("initialize", {"capabilities": {}}, 13),
        b'{"jsonrpc":"2.0","id":{"x":1},"method":"rapide/status"}',
        b'{"jsonrpc":"2.0","id":14,"result":null}',
    ],
    "shutdown": [
        msg("shutdown", None, 20),
        msg("textDocument/hover", {"textDocument": doc, "position": pos}, 21),
        msg("exit"),
    ],
}
for name, bodies in sessions.items():
    write("lsp_server", "body_" + name, b"\x01" + b"\x1e".join(bodies))
    write("lsp_server", "raw_" + name, b"\x00" + b"".join(frame(b) for b in bodies))
write("lsp_server", "raw_headers", b"\x00" + b"Content-Type: x\r\nContent-Length: 2\r\n\r\n{}"
      b"Content-Length: abc\r\n\r\nContent-Length: 99999999999999999999\r\n\r\n"
      b"garbage\r\n\r\nContent-Length: 4\r\n\r\nnull")

texts = {
    "code": b"def f(x):\n    return x + 1  # comment\n",
    "cpp": b"#include <vector>\nint main() { std::vector<int> v{1,2}; return v[0]; }\n",
    "unicode": "caf\u00e9 \u20ac \U0001F600 \u4e2d\u6587 \u0645\u0631\u062d\u0628\u0627 \u00df\n".encode(),
    "spaces": b"   \t\t  \n\n\r\n   x  ",
    "special": b"<|im_start|>user\nhi<|im_end|><s></s><|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
    "invalid": b"\xff\xfe\xc3\x28\xe2\x82\x80\xf0\x9f\x98 ok \xed\xa0\x80",
    "digits": b"1234567890 3.14159 0xdeadBEEF 1e-9",
}
for i, (name, t) in enumerate(texts.items()):
    for flags in (0, 1, 6, 7):
        write("tokenizer", "%s_%d" % (name, flags), bytes([flags]) + t)

r = random.Random(20261125)
for i in range(12):
    write("document_edit", "random_%02d" % i, bytes(r.randrange(256) for _ in range(64 + 16 * i)))
    write("completion_context", "random_%02d" % i, bytes(r.randrange(256) for _ in range(96 + 24 * i)))

# Regression seeds (reproducers of bugs the fuzzers found), encoded for the structured targets
# with the token alphabet of fuzz_input.h (read from there so the encoding follows it).
header = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_input.h"), encoding="utf-8").read()
alphabet = header[header.index("kCodeTokens = {"):header.index("};", header.index("kCodeTokens = {"))]
tokens = [bytes(t, "utf-8").decode("unicode_escape").encode("latin-1") for t in
          __import__("re").findall(r'"((?:[^"\\]|\\.)*)"', alphabet)]
assert len(tokens) == 64, len(tokens)


def token_ids(pieces):
    return bytes(tokens.index(p.encode()) for p in pieces)


TSX = 5  # index of typescriptreact in languages() (context/languages.cpp)
# completion_context_fuzz found that tree-sitter-typescript's TSX parser never finishes on
# "<x {{x:>x:x(x x)" (upstream issue #323: "<a {{b:>c:d(e f)"): the open and the background
# parse hung. Layout: language, u16 token count, tokens, other document's token count, then
# (u16 cursor, u8 budget flag) per context.
poc = ["<", "x", " ", "{", "{", "x", ":", ">", "x", ":", "x", "(", "x", " ", "x", ")"]
write("completion_context", "regression-tsx-parser-loop",
      bytes([TSX]) + len(poc).to_bytes(2, "little") + token_ids(poc) + bytes([0]) +
      (16).to_bytes(2, "little") + bytes([0]) + (5).to_bytes(2, "little") + bytes([1, 0x20]))
# document_edit_fuzz: the same text as a TSX document, then byte edits that delete the last ")"
# (the text parses again) and type it back (the parser loops again). Each edit is followed by
# the 24 bytes check_positions reads (zeros: line 0, column 0).
edits = [bytes([1, 0]) + (15).to_bytes(2, "little") + bytes([1]),
         bytes([1, 1]) + token_ids([")"]) + (15).to_bytes(2, "little") + bytes([0])]
write("document_edit", "regression-tsx-parser-loop",
      bytes([TSX, len(poc)]) + token_ids(poc) + bytes([len(edits)]) + b"".join(e + bytes(24) for e in edits))
