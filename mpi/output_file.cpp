// A job's output file: each range's rows sent at once to the .npy with MPI-IO (or all ranks'
// rows merged at the end), written under a temporary name and renamed when whole.
#include "mpi/output_file.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/error.h"
#include "common/npy.h"
#include "mpi/collective.h"

namespace shmpool::mpi {
namespace {

constexpr uint64_t kMaxWriteBytes = 1u << 30;  // MPI counts are ints: write in pieces
constexpr uint64_t kMaxMergeBytes = 1u << 26;  // merging outputs: rank 0's buffer
char g_remove_path[4096];                       // what the termination handler deletes

void remove_and_die(int sig) {
    if (g_remove_path[0]) unlink(g_remove_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

}  // namespace

std::string partial_output_path(const std::string& final_path, long pid) {
    size_t slash = final_path.rfind('/');
    std::string dir = slash == std::string::npos ? "" : final_path.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? final_path : final_path.substr(slash + 1);
    return dir + "." + base + ".shmpool-mpi-" + std::to_string(pid) + ".part";
}

OutputFile::OutputFile(MPI_Comm comm, const std::string& temp_path, const ArrayMeta& meta)
    : comm_(comm), temp_path_(temp_path) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    std::string header = format_npy_header(meta.dtype, meta.shape);
    data_offset_ = header.size();
    if (rank == 0) unlink(temp_path.c_str());  // a stale one of a dead run with the same pid
    int rc = MPI_File_open(comm, temp_path.c_str(), MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &file_);
    if (rc != MPI_SUCCESS)
        throw Error(ErrorCode::io_error, mpi_error_text("MPI_File_open", "creating '" + temp_path + "'", rc));
    remove_on_termination(temp_path);  // on every rank: mpirun signals the survivors of a dead one
    if (rank != 0) return;
    rc = MPI_File_write_at(file_, 0, header.data(), static_cast<int>(header.size()), MPI_BYTE, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) header_error_ = mpi_error_text("MPI_File_write_at", "writing the .npy header", rc);
}

OutputFile::~OutputFile() {
    if (file_ != MPI_FILE_NULL) MPI_File_close(&file_);
}

void OutputFile::write_rows(uint64_t begin, uint64_t end, const OutputRows& rows) {
    uint64_t n = (end - begin) * rows.row_bytes(), done = 0;
    while (done < n) {
        uint64_t piece = std::min(kMaxWriteBytes, n - done);
        MPI_Offset at = static_cast<MPI_Offset>(data_offset_ + begin * rows.row_bytes() + done);
        int rc = MPI_File_write_at(file_, at, rows.rows(begin) + done, static_cast<int>(piece), MPI_BYTE,
                                   MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            throw Error(ErrorCode::io_error, mpi_error_text("MPI_File_write_at", "writing rows [" +
                                                                std::to_string(begin) + ", " + std::to_string(end) +
                                                                ") of '" + temp_path_ + "'", rc));
        done += piece;
    }
}

std::optional<std::string> OutputFile::write_merged(const OutputRows& rows) {
    int rank = 0;
    MPI_Comm_rank(comm_, &rank);
    std::vector<char> merged(rank == 0 ? std::min(kMaxMergeBytes, rows.bytes()) : 0);
    std::optional<std::string> error;
    for (uint64_t at = 0; at < rows.bytes(); at += kMaxMergeBytes) {
        int n = static_cast<int>(std::min(kMaxMergeBytes, rows.bytes() - at));
        MPI_Reduce(rows.data() + at, merged.data(), n, MPI_BYTE, MPI_BOR, 0, comm_);
        if (rank != 0 || error) continue;
        int rc = MPI_File_write_at(file_, static_cast<MPI_Offset>(data_offset_ + at), merged.data(), n, MPI_BYTE,
                                   MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) error = mpi_error_text("MPI_File_write_at", "writing '" + temp_path_ + "'", rc);
    }
    return error;
}

std::optional<std::string> OutputFile::finish(bool complete, const std::string& final_path) {
    int rank = 0;
    MPI_Comm_rank(comm_, &rank);
    int rc = MPI_File_close(&file_);
    if (rank != 0) {
        keep_on_termination();  // rank 0 renames or deletes it now
        return std::nullopt;
    }
    std::optional<std::string> error = header_error_;
    if (!error && rc != MPI_SUCCESS) error = mpi_error_text("MPI_File_close", "closing '" + temp_path_ + "'", rc);
    if (complete && !error && rename(temp_path_.c_str(), final_path.c_str()) != 0)
        error = sys_error_text("rename", "moving the finished output to '" + final_path + "'", errno);
    if (!complete || error) unlink(temp_path_.c_str());
    keep_on_termination();
    return error;
}

void remove_on_termination(const std::string& path) {
    std::snprintf(g_remove_path, sizeof g_remove_path, "%s", path.c_str());
    struct sigaction sa {};
    sa.sa_handler = remove_and_die;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &sa, nullptr);
}

void keep_on_termination() { g_remove_path[0] = '\0'; }

}  // namespace shmpool::mpi
