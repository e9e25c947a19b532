// Loggers for the server: stderr or a file, never stdout (stdout carries protocol bytes only).
// Created here and injected; the global spdlog registry is not used.
#pragma once

#include "rapide/inference/result.h"

#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace rapide::lsp {

// level: trace, debug, info, warn, error, critical, off. path empty: stderr.
Result<std::shared_ptr<spdlog::logger>> make_logger(const std::string& name, const std::string& path,
                                                    const std::string& level);

}  // namespace rapide::lsp
