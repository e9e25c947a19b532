// Result<T>: a value or an error message, the shape of std::expected (which C++20 lacks).
// Library code returns these for bad input or environment; assertions are for bugs.
//
//   Result<int> parse(std::string_view s);
//   auto r = parse("12");
//   if (!r) return r.error();          // propagate (Error converts to any Result<U>)
//   use(*r);
//
// Messages say what failed, where, expected versus got, and a hint when one helps.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace rapide {

struct Error {
  std::string message;
};

// Builds an Error from pieces: error("tensor '", name, "': shape ", ...). Numbers are formatted
// with std::to_string.
template <class... Parts>
Error error(const Parts&... parts) {
  std::string s;
  auto append = [&s](const auto& p) {
    using P = std::decay_t<decltype(p)>;
    if constexpr (std::is_arithmetic_v<P> && !std::is_same_v<P, char>)
      s += std::to_string(p);
    else
      s += p;
  };
  (append(parts), ...);
  return Error{std::move(s)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok() && "Result::value() on an error");
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok() && "Result::value() on an error");
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok() && "Result::value() on an error");
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok() && "Result::error() on a value");
    return std::get<1>(v_);
  }
  const std::string& message() const { return error().message; }

 private:
  std::variant<T, Error> v_;
};

// Status: success or an error message.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : error_(std::move(e)), failed_(true) {}  // NOLINT: implicit by design
  static Status success() { return {}; }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(failed_ && "Status::error() on success");
    return error_;
  }
  const std::string& message() const { return error_.message; }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace rapide
