#include "rapide/lsp/server_info.h"

#include "rapide/version.h"

namespace rapide::lsp {

nlohmann::json server_info() { return {{"name", "rapide"}, {"version", RAPIDE_VERSION_STRING}}; }

}  // namespace rapide::lsp
