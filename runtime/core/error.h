// Errors with context. Two kinds matter to a user: bad input (exit status 2, the message names
// the file and the field) and a runtime failure (exit status 1, the message names the operation
// and, in a pipeline, the rank). Context is prepended as an error travels up ("loading stage 1:
// model.safetensors: tensor 'h.3.attn.c_attn.weight': ...").
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ps {

enum class ErrorKind {
  InvalidInput,  // a file or argument the user handed us is wrong -> exit 2
  Runtime,       // the job failed while running (I/O, peer died, deadline passed) -> exit 1
  Timeout,       // a blocking wait passed its deadline -> exit 1
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message) : std::runtime_error(std::move(message)), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  // The exit status a command should end with for this error.
  int exit_code() const { return kind_ == ErrorKind::InvalidInput ? 2 : 1; }

 private:
  ErrorKind kind_;
};

// Concatenate anything streamable: str("layer ", i, " of ", n). (<format> is not available.)
template <class... Args>
std::string str(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

template <class... Args>
[[noreturn]] void fail_input(Args&&... args) {
  throw Error(ErrorKind::InvalidInput, str(std::forward<Args>(args)...));
}

template <class... Args>
[[noreturn]] void fail_runtime(Args&&... args) {
  throw Error(ErrorKind::Runtime, str(std::forward<Args>(args)...));
}

template <class... Args>
[[noreturn]] void fail_timeout(Args&&... args) {
  throw Error(ErrorKind::Timeout, str(std::forward<Args>(args)...));
}

// Re-throw `e` with "context: " in front, keeping its kind. Use in a catch block.
[[noreturn]] void rethrow_with_context(const Error& e, const std::string& context);

// Run f(); if it throws a ps::Error, prefix its message with context.
template <class F>
decltype(auto) with_context(const std::string& context, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    rethrow_with_context(e, context);
  }
}

#define PS_CHECK(cond, ...)                                                                \
  do {                                                                                     \
    if (!(cond))                                                                           \
      ::ps::fail_runtime("internal check failed: " #cond " (", __FILE__, ":", __LINE__, ") ", \
                         ##__VA_ARGS__);                                                   \
  } while (0)

}  // namespace ps
