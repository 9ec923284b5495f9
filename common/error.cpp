// Names of the stable error codes and the system-error message format.
// The names are part of the protocol: docs/protocol.md lists them.
#include "common/error.h"

#include <cstring>

namespace shmpool {

std::string_view error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::bad_json: return "bad_json";
        case ErrorCode::bad_request: return "bad_request";
        case ErrorCode::line_too_long: return "line_too_long";
        case ErrorCode::unknown_verb: return "unknown_verb";
        case ErrorCode::unknown_kernel: return "unknown_kernel";
        case ErrorCode::unknown_dataset: return "unknown_dataset";
        case ErrorCode::dataset_exists: return "dataset_exists";
        case ErrorCode::dataset_busy: return "dataset_busy";
        case ErrorCode::bad_name: return "bad_name";
        case ErrorCode::missing_role: return "missing_role";
        case ErrorCode::unknown_role: return "unknown_role";
        case ErrorCode::dtype_mismatch: return "dtype_mismatch";
        case ErrorCode::shape_mismatch: return "shape_mismatch";
        case ErrorCode::bad_shape: return "bad_shape";
        case ErrorCode::too_large: return "too_large";
        case ErrorCode::bad_param: return "bad_param";
        case ErrorCode::unknown_job: return "unknown_job";
        case ErrorCode::io_error: return "io_error";
        case ErrorCode::no_space: return "no_space";
        case ErrorCode::range_failed: return "range_failed";
        case ErrorCode::timed_out: return "timed_out";
        case ErrorCode::out_of_memory: return "out_of_memory";
        case ErrorCode::cancelled: return "cancelled";
        case ErrorCode::dependency_failed: return "dependency_failed";
        case ErrorCode::shutting_down: return "shutting_down";
        case ErrorCode::internal: return "internal";
        case ErrorCode::peer_not_allowed: return "peer_not_allowed";
        case ErrorCode::path_not_allowed: return "path_not_allowed";
        case ErrorCode::too_many_connections: return "too_many_connections";
        case ErrorCode::too_many_datasets: return "too_many_datasets";
        case ErrorCode::too_many_ranges: return "too_many_ranges";
        case ErrorCode::idle_timeout: return "idle_timeout";
        case ErrorCode::too_many_requests: return "too_many_requests";
        case ErrorCode::output_too_large: return "output_too_large";
        case ErrorCode::uid_dataset_limit: return "uid_dataset_limit";
        case ErrorCode::uid_bytes_limit: return "uid_bytes_limit";
        case ErrorCode::too_many_descriptors: return "too_many_descriptors";
        case ErrorCode::not_owner: return "not_owner";
        case ErrorCode::not_admin: return "not_admin";
        case ErrorCode::permission_denied: return "permission_denied";
        case ErrorCode::python_error: return "python_error";
        case ErrorCode::python_version_mismatch: return "python_version_mismatch";
        case ErrorCode::code_not_allowed: return "code_not_allowed";
    }
    return "internal";
}

std::string sys_error_text(std::string_view call, std::string_view context, int err) {
    std::string text(call);
    text += "() failed while ";
    text += context;
    text += ": ";
    text += std::strerror(err);
    return text;
}

}  // namespace shmpool
