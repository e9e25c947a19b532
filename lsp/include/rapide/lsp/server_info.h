// What the server says about itself in the `initialize` result (`serverInfo`).
#pragma once

#include <nlohmann/json.hpp>

namespace rapide::lsp {

// {"name": "rapide", "version": "<version>"}
nlohmann::json server_info();

}  // namespace rapide::lsp
