// A job's inputs once per node: each input in an MPI shared window on the node's communicator,
// filled from its .npy file by the node's first rank and mapped by the others without a copy.
#pragma once

#include <mpi.h>

#include <map>
#include <string>
#include <vector>

#include "common/npy.h"
#include "worker/kernel.h"

namespace shmpool::mpi {

// An input file as the plan sees it: its path and its header (dtype, shape, data offset).
struct InputFile {
    std::string path;
    NpyHeader header;
};

// Opens `path` and reads its .npy header. Throws Error(io_error) as the daemon's dataset.put does.
InputFile read_input_header(const std::string& path);

class NodeInputs {
public:
    // Collective over `node` (ranks sharing memory): one window per input, its bytes held by
    // the node's rank 0. Nothing is read yet.
    NodeInputs(MPI_Comm node, const std::map<std::string, InputFile>& files);
    ~NodeInputs();
    NodeInputs(const NodeInputs&) = delete;
    NodeInputs& operator=(const NodeInputs&) = delete;

    // Collective over `node`: its rank 0 reads every file into its window; the others wait.
    // The reading rank then throws Error(io_error) if a file could not be read.
    void load();

    // role -> read-only view of the node's copy; valid until destruction.
    std::map<std::string, ArrayView> views() const;

private:
    struct Window {
        std::string role;
        InputFile file;
        MPI_Win win = MPI_WIN_NULL;
        char* base = nullptr;
    };
    MPI_Comm node_;
    bool reader_ = false;
    std::vector<Window> windows_;
};

}  // namespace shmpool::mpi
