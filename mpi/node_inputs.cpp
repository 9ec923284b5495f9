// A job's inputs once per node: each input in an MPI shared window on the node's communicator,
// filled from its .npy file by the node's first rank and mapped by the others without a copy.
#include "mpi/node_inputs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "common/error.h"
#include "common/fd_io.h"
#include "common/npy_file.h"
#include "common/unique_fd.h"
#include "mpi/collective.h"

namespace shmpool::mpi {
namespace {

UniqueFd open_input(const std::string& path) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) throw Error(ErrorCode::io_error, sys_error_text("open", "opening '" + path + "'", errno));
    return fd;
}

// Reads the array's bytes of `file` into `dst` (header.data_bytes of them).
void read_data(const InputFile& file, char* dst) {
    UniqueFd fd = open_input(file.path);
    pread_exactly(fd.get(), dst, file.header.data_bytes, file.header.data_offset, "'" + file.path + "'");
}

}  // namespace

InputFile read_input_header(const std::string& path) {
    UniqueFd fd = open_input(path);
    NpyHeader header = read_npy_header_fd(fd.get(), "'" + path + "'");
    // The ranks map the file's bytes as the dataset: only C order in the machine's byte
    // order is that array as it is (the daemon's put transposes and swaps the others).
    if (header.layout != NpyLayout{})
        throw Error(ErrorCode::io_error, "'" + path + "' is " +
                    (header.layout.fortran_order ? "Fortran-order" : "big-endian") +
                    ": shmpool-mpi reads C-order little-endian .npy files; save it with "
                    "np.save(path, np.ascontiguousarray(x, dtype=x.dtype.newbyteorder('=')))");
    return InputFile{path, header};
}

NodeInputs::NodeInputs(MPI_Comm node, const std::map<std::string, InputFile>& files) : node_(node) {
    int rank = 0;
    MPI_Comm_rank(node, &rank);
    reader_ = rank == 0;
    for (const auto& [role, file] : files) {
        Window w{role, file};
        MPI_Aint bytes = reader_ ? static_cast<MPI_Aint>(file.header.data_bytes) : 0;
        char* mine = nullptr;
        MPI_Win_allocate_shared(bytes, 1, MPI_INFO_NULL, node, &mine, &w.win);
        MPI_Aint size = 0;
        int disp = 0;
        MPI_Win_shared_query(w.win, 0, &size, &disp, &w.base);
        MPI_Win_lock_all(MPI_MODE_NOCHECK, w.win);
        windows_.push_back(std::move(w));
    }
}

NodeInputs::~NodeInputs() {
    for (Window& w : windows_) {
        MPI_Win_unlock_all(w.win);
        MPI_Win_free(&w.win);
    }
}

void NodeInputs::load() {
    std::optional<Error> failed;
    if (reader_) {
        try {
            for (Window& w : windows_) read_data(w.file, w.base);
        } catch (const Error& e) {
            failed = e;
        }
    }
    for (Window& w : windows_) MPI_Win_sync(w.win);  // the reader's stores before the barrier,
    idle_barrier(node_);
    for (Window& w : windows_) MPI_Win_sync(w.win);  // the others' loads after it
    if (failed) throw *failed;
}

std::map<std::string, ArrayView> NodeInputs::views() const {
    std::map<std::string, ArrayView> out;
    for (const Window& w : windows_)
        out.emplace(w.role, ArrayView{ArrayMeta{w.file.header.dtype, w.file.header.shape}, w.base, nullptr});
    return out;
}

}  // namespace shmpool::mpi
