// One language-server daemon per user and model settings (`rapide serve --shared`), so that N
// editor windows cost one model in memory.
//
// Client side (run_shared_client): each editor still starts `rapide serve --shared ...` over
// stdio. It connects to the Unix socket of the daemon for these settings; when there is none it
// starts one (detached, its log in the socket folder) and then relays bytes stdin <-> socket
// until either side closes. Races are settled by a lock file: of several clients starting at
// once, one spawns the daemon and the others wait for its socket; a socket file left by a daemon
// that died (connect refused) is removed and a new daemon started.
//
// Daemon side (run_daemon, `rapide serve --daemon SOCKET ...`): accepts connections and runs one
// LspServer per connection on its own thread and event loop; all sessions share the loaded
// models (ModelHost::share_models_in_process). When the last client has left and none came back
// within the idle grace period it removes its socket and exits.
//
// Files, all in $XDG_RUNTIME_DIR/rapide (else /tmp/rapide-UID), a folder of mode 0700 owned by
// the user (refused otherwise): daemon-KEY.sock (0600), daemon-KEY.lock, daemon-KEY.log,
// daemon-KEY.pid, where KEY is a hash of the model paths and settings.
#pragma once

#include "rapide/inference/result.h"
#include "rapide/lsp/server.h"

#include <spdlog/logger.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace rapide::cli {

struct SharedPaths {
  std::filesystem::path dir, socket, lock, log, pid;
};

// The folder for this user's daemons (created 0700; an existing one must be ours and private).
Result<std::filesystem::path> shared_dir();
// The files of the daemon for `settings` (the daemon's command-line arguments, canonical).
Result<SharedPaths> shared_paths(const std::vector<std::string>& settings);

// Connects to (or starts) the daemon and relays stdio. `daemon_args` are the `rapide serve`
// arguments the daemon needs (model paths absolute); `key` what tells daemons apart (the
// arguments and any secret they depend on). The exit status of the relay.
int run_shared_client(const std::vector<std::string>& daemon_args, const std::vector<std::string>& key);

// Serves LSP sessions on `socket` until idle for `idle_exit` after the last client left.
int run_daemon(const std::filesystem::path& socket, lsp::ServerOptions options,
               std::shared_ptr<spdlog::logger> logger, std::chrono::milliseconds idle_exit);

}  // namespace rapide::cli
