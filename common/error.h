// Stable error codes of the shmpool protocol and the exception that carries one.
// Every failure a client can see is an Error{code, message}; codes never change meaning.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace shmpool {

enum class ErrorCode {
    bad_json,          // the line is not valid JSON, or not an object
    bad_request,       // a field is missing or has the wrong type
    line_too_long,     // the request line exceeds the maximum length
    unknown_verb,      // no handler for this verb
    unknown_kernel,    // no kernel of this name
    unknown_dataset,   // no dataset of this name
    dataset_exists,    // a dataset of this name already exists
    dataset_busy,      // the dataset is still being written by a job
    bad_name,          // a dataset or instance name that is not allowed
    missing_role,      // a kernel input role was not given
    unknown_role,      // an input role the kernel does not take
    dtype_mismatch,    // an input has a dtype the kernel does not accept
    shape_mismatch,    // input shapes do not agree with each other or the kernel
    bad_shape,         // a shape that is not 1-4 positive dims
    too_large,         // a size, shape or count that overflows or exceeds a limit
    bad_param,         // a kernel parameter is missing, of the wrong type, or out of range
    unknown_job,       // no job of this id
    io_error,          // a file or shared-memory object could not be read or written
    no_space,          // shared memory is full
    range_failed,      // a range of the job failed (kernel error or worker death)
    timed_out,         // the job ran past its timeout_s
    out_of_memory,     // a range exceeded the worker memory limit
    cancelled,         // the job was cancelled
    dependency_failed, // a job an input waited on ended without producing it
    shutting_down,     // the daemon is stopping and takes no new work
    internal,          // a bug: the daemon's own invariant failed
    peer_not_allowed,  // the connecting uid is not in allow_users / allow_groups
    path_not_allowed,  // a file path outside the allowed directories (or through a symlink)
    too_many_connections,  // the daemon already serves max_connections clients
    too_many_datasets,     // the instance already holds max_datasets datasets
    too_many_ranges,       // a job would be split into more ranges than the limit
    idle_timeout,          // a partial request line stayed incomplete too long
    too_many_requests,     // the connection already has max_requests_per_connection requests unanswered
    output_too_large,      // a job's output would exceed max_output_bytes
    uid_dataset_limit,     // the client's uid already holds max_datasets_per_uid datasets
    uid_bytes_limit,       // the dataset would take the client's uid over max_shm_bytes_per_uid
    too_many_descriptors,  // the connection already has its maximum of descriptor replies unsent
    not_owner,             // a dataset or job of another uid that the client may not change or follow
    not_admin,             // a verb only the daemon's administrators may use
    permission_denied,     // a file or shm object the client itself could not read or write
    python_error,          // the job's Python function raised (the message carries its traceback)
    python_version_mismatch,  // the client's Python minor version is not the workers' (bytecode differs)
    code_not_allowed,      // the client's uid may not run code on the daemon (code-users / code-groups)
};

std::string_view error_code_name(ErrorCode code);

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
    ErrorCode code() const { return code_; }

private:
    ErrorCode code_;
};

// "<call>() failed while <context>: strerror(errno)" in nginx's style.
std::string sys_error_text(std::string_view call, std::string_view context, int err);

}  // namespace shmpool
