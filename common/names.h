// Names an instance owns: its segments in /dev/shm, its lock, its default socket path.
// Instance and dataset names are validated here so no client name can escape the prefix.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace shmpool {

// 1..64 chars of [A-Za-z0-9_-]. Throws Error(bad_name).
void check_instance_name(std::string_view name);
// 1..128 chars of [A-Za-z0-9_.:-], not starting with '.', no "..". Throws Error(bad_name).
void check_dataset_name(std::string_view name);

// Every object of an instance in /dev/shm starts with this (no leading '/').
std::string instance_prefix(std::string_view instance);            // "shmpool.<inst>."
std::string control_segment_name(std::string_view instance);       // "shmpool.<inst>.ctl" (Boost and shm_open names, no slash)
std::string dataset_segment_name(std::string_view instance, uint64_t id);  // "shmpool.<inst>.ds<id>"
std::string lock_file_path(std::string_view instance);
// A range's result object, written by the worker that ran the range (dispatch `tag`) and owned
// by the daemon from its completion: "shmpool.<inst>.res<job>.<tag>".
std::string result_object_name(std::string_view instance, uint64_t job_id, uint32_t tag);             // "/dev/shm/shmpool.<inst>.lock"

// $XDG_RUNTIME_DIR/shmpool/<inst>.sock, or /run/shmpool/<inst>.sock for root.
std::string default_socket_path(std::string_view instance);

}  // namespace shmpool
