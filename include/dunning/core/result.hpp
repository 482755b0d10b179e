// Expected failures as values, in one shape: an Error says, for a human, what went wrong, and by
// its code what the caller can do about it; a Result<T> holds either a T or an Error, a Status
// either nothing or an Error. Exceptions are kept for programmer errors, and StoreError is the one
// exception that crosses the store boundary (a failed statement rolls the caller's Tx back).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace dunning {

// Few on purpose (after Abseil's canonical codes): each names what the caller does next.
enum class ErrorCode {
  kInvalid,      // the input is wrong: a config value, a request field, an amount, a stored row
  kNotFound,     // what was asked for is not there: a file, a template, a case, a mailbox
  kConflict,     // clashes with what is already there: a case's state, a target holding rows
  kDenied,       // our credentials were refused: SMTP authentication, HTTP 401/403
  kRefused,      // the other side said no for good, not about credentials: relay denied, a 4xx
  kUnavailable,  // cannot be done now, the same call may succeed later: no answer, 4xx SMTP, 5xx
  kInternal,     // a promise broken inside dunningd or a library it calls
};
std::string_view to_string(ErrorCode code);  // "invalid", "not_found", ... (logs and JSON)

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  // What the error is about when the caller must be told apart from the message: a JSON path
  // ("data.amount_minor"), a CSV column, a header. Empty when none.
  std::string field;

  // Worth trying again later (only kUnavailable).
  bool transient() const { return code == ErrorCode::kUnavailable; }

  static Error invalid(std::string m, std::string field = {}) {
    return {ErrorCode::kInvalid, std::move(m), std::move(field)};
  }
  static Error not_found(std::string m) { return {ErrorCode::kNotFound, std::move(m), {}}; }
  static Error conflict(std::string m) { return {ErrorCode::kConflict, std::move(m), {}}; }
  static Error denied(std::string m) { return {ErrorCode::kDenied, std::move(m), {}}; }
  static Error refused(std::string m) { return {ErrorCode::kRefused, std::move(m), {}}; }
  static Error unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m), {}}; }
  static Error internal(std::string m) { return {ErrorCode::kInternal, std::move(m), {}}; }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  // Anything a T is implicitly made from (a row for a Result<Fact>, where Fact is a variant).
  template <typename U, typename = std::enable_if_t<std::is_convertible_v<U&&, T> &&
                                                    !std::is_same_v<std::decay_t<U>, T> &&
                                                    !std::is_same_v<std::decay_t<U>, Error> &&
                                                    !std::is_same_v<std::decay_t<U>, Result>>>
  Result(U&& value) : v_(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // REQUIRES: !ok()
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// A Result with no value: Status::success() or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  static Status success() { return {}; }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  // REQUIRES: !ok()
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace dunning
