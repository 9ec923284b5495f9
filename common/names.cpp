// Names an instance owns: its segments in /dev/shm, its lock, its default socket path.
// Dataset segments are named by a daemon-assigned number, never by the client's name.
#include "common/names.h"

#include <unistd.h>

#include <cstdlib>

#include "common/error.h"

namespace shmpool {
namespace {

bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

void check_instance_name(std::string_view name) {
    bool ok = !name.empty() && name.size() <= 64;
    for (char c : name) ok = ok && is_word_char(c);
    if (!ok) throw Error(ErrorCode::bad_name, "instance names are 1-64 characters of A-Z a-z 0-9 _ -");
}

void check_dataset_name(std::string_view name) {
    bool ok = !name.empty() && name.size() <= 128 && name[0] != '.' &&
              name.find("..") == std::string_view::npos;
    for (char c : name) ok = ok && (is_word_char(c) || c == '.' || c == ':');
    if (!ok)
        throw Error(ErrorCode::bad_name,
                    "dataset names are 1-128 characters of A-Z a-z 0-9 _ - . : , not starting with '.' "
                    "and without '..'");
}

std::string instance_prefix(std::string_view instance) { return "shmpool." + std::string(instance) + "."; }

std::string control_segment_name(std::string_view instance) { return instance_prefix(instance) + "ctl"; }

std::string dataset_segment_name(std::string_view instance, uint64_t id) {
    return instance_prefix(instance) + "ds" + std::to_string(id);
}

std::string result_object_name(std::string_view instance, uint64_t job_id, uint32_t tag) {
    return instance_prefix(instance) + "res" + std::to_string(job_id) + "." + std::to_string(tag);
}

std::string lock_file_path(std::string_view instance) { return "/dev/shm/" + instance_prefix(instance) + "lock"; }

std::string default_socket_path(std::string_view instance) {
    std::string dir;
    if (geteuid() == 0) {
        dir = "/run/shmpool";
    } else if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg) {
        dir = std::string(xdg) + "/shmpool";
    } else {
        dir = "/tmp/shmpool-" + std::to_string(geteuid());
    }
    return dir + "/" + std::string(instance) + ".sock";
}

}  // namespace shmpool
