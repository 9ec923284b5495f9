// Small collective steps every shmpool-mpi phase ends with: all ranks agree whether a step
// failed anywhere, and the lowest failing rank is the one that reports it.
#pragma once

#include <mpi.h>

#include <string>

namespace shmpool::mpi {

// Collective over `comm`: the lowest rank whose `ok` is false, or -1 when every rank is ok.
int first_failed_rank(MPI_Comm comm, bool ok);

// Collective over `comm`: a barrier that sleeps between polls instead of spinning, so a rank
// that is done early (or waits for its node's reader) leaves the core to the ranks still working.
void idle_barrier(MPI_Comm comm);

// The text of an MPI error code, e.g. for "MPI_File_open() failed while ...: <text>".
std::string mpi_error_text(const char* call, const std::string& context, int code);

}  // namespace shmpool::mpi
