#include "rapide/lsp/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace rapide::lsp {

Result<std::shared_ptr<spdlog::logger>> make_logger(const std::string& name, const std::string& path,
                                                    const std::string& level) {
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return error("--log-level '", level, "': expected trace, debug, info, warn, error, critical or off");
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (path.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
    } catch (const spdlog::spdlog_ex& e) {
      return error("--log-file '", path, "': cannot open for writing: ", e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
  logger->set_level(lvl);
  logger->set_pattern("[%H:%M:%S.%e] [%n] [%l] %v");
  // Every record is flushed as it is written (the file sink buffers otherwise): a server killed
  // by the editor or the OOM killer leaves a log that ends with its last lines. Records below the
  // level are never formatted, so this costs one write per record actually logged.
  logger->flush_on(spdlog::level::trace);
  return logger;
}

}  // namespace rapide::lsp
