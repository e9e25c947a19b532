// Status: success or an error message, the shape of rapide::Status in inference (context may not
// include inference, so it keeps its own). Messages say what failed, where, expected vs got.
#pragma once

#include <string>
#include <utility>

namespace rapide::context {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status success() { return {}; }
  static Status failure(std::string message) {
    Status s;
    s.message_ = std::move(message);
    s.failed_ = true;
    return s;
  }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& message() const { return message_; }

 private:
  std::string message_;
  bool failed_ = false;
};

}  // namespace rapide::context
