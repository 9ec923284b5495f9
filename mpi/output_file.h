// A job's output file: each range's rows sent at once to the .npy with MPI-IO (or all ranks'
// rows merged at the end), written under a temporary name and renamed when whole.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>

#include "mpi/output_rows.h"
#include "worker/kernel.h"

namespace shmpool::mpi {

// The temporary name rank 0 writes `final_path` under: ".NAME.shmpool-mpi-PID.part" beside it.
std::string partial_output_path(const std::string& final_path, long pid);

class OutputFile {
public:
    // Collective over `comm`: creates `temp_path` (rank 0 writes the .npy header). Throws
    // Error(io_error) on every rank if MPI-IO cannot open it.
    OutputFile(MPI_Comm comm, const std::string& temp_path, const ArrayMeta& meta);
    ~OutputFile();
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    // Writes rows [begin, end) from `rows`; throws Error(io_error).
    void write_rows(uint64_t begin, uint64_t end, const OutputRows& rows);
    // Collective, for a kernel whose ranges are not output rows: every rank's mapping holds
    // the bytes its ranges wrote and zeros elsewhere, so OR-ing them (MPI_BOR, in pieces, onto
    // rank 0) gives the output exactly. Returns rank 0's write error, if any.
    std::optional<std::string> write_merged(const OutputRows& rows);
    // Collective: closes the file; rank 0 then renames it to `final_path` when `complete`, and
    // deletes it otherwise. Returns rank 0's error (nullopt elsewhere).
    std::optional<std::string> finish(bool complete, const std::string& final_path);

private:
    MPI_Comm comm_;
    std::string temp_path_;
    uint64_t data_offset_ = 0;
    MPI_File file_ = MPI_FILE_NULL;
    std::optional<std::string> header_error_;
};

// This rank deletes `path` if it is killed by SIGTERM, SIGINT or SIGHUP (what mpirun sends the
// surviving ranks when one dies), so an aborted job leaves no partial output behind.
void remove_on_termination(const std::string& path);
void keep_on_termination();

}  // namespace shmpool::mpi
