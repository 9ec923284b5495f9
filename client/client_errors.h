// The two ways a client call fails: the daemon answered with an error, or the connection failed.
// Both derive from std::runtime_error so callers that do not care can catch that alone.
#pragma once

#include <stdexcept>
#include <string>

namespace shmpool {

// The daemon replied ok:false; code() is the protocol's error code, e.g. "unknown_dataset".
class RemoteError : public std::runtime_error {
public:
    RemoteError(std::string code, const std::string& message)
        : std::runtime_error(message), code_(std::move(code)) {}
    const std::string& code() const { return code_; }

private:
    std::string code_;
};

// The socket could not be opened, or the connection broke or carried something unreadable.
class ConnectError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace shmpool
