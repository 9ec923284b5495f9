// Reading the header of an .npy file open as a descriptor: the daemon's dataset.put from a
// file and shmpool-mpi's inputs both go through it, so both accept and refuse the same files.
#pragma once

#include <string>

#include "common/npy.h"

namespace shmpool {

// The header of the .npy file open as `fd` (`label` names it in errors); the file must be a
// regular file holding all the data the header announces. Throws Error(io_error) otherwise.
NpyHeader read_npy_header_fd(int fd, const std::string& label);

}  // namespace shmpool
