// Small collective steps every shmpool-mpi phase ends with: all ranks agree whether a step
// failed anywhere, and the lowest failing rank is the one that reports it.
#include "mpi/collective.h"

#include <unistd.h>

#include <climits>

namespace shmpool::mpi {

constexpr useconds_t kIdlePollMicros = 200;  // an idle rank's poll period: small next to a range

int first_failed_rank(MPI_Comm comm, bool ok) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    int mine = ok ? INT_MAX : rank, first = INT_MAX;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    return first == INT_MAX ? -1 : first;
}

void idle_barrier(MPI_Comm comm) {
    MPI_Request request;
    MPI_Ibarrier(comm, &request);
    for (int done = 0;;) {
        MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        if (done) return;
        usleep(kIdlePollMicros);
    }
}

std::string mpi_error_text(const char* call, const std::string& context, int code) {
    char text[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    MPI_Error_string(code, text, &len);
    return std::string(call) + "() failed while " + context + ": " + std::string(text, len);
}

}  // namespace shmpool::mpi
