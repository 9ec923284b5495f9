// Small collective steps every shmpool-mpi phase ends with: all ranks agree whether a step
// failed anywhere, and the lowest failing rank is the one that reports it.
#include "mpi/collective.h"

#include <climits>

namespace shmpool::mpi {

int first_failed_rank(MPI_Comm comm, bool ok) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    int mine = ok ? INT_MAX : rank, first = INT_MAX;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    return first == INT_MAX ? -1 : first;
}

std::string broadcast_string(MPI_Comm comm, int root, std::string text) {
    unsigned long long n = text.size();
    MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, comm);
    text.resize(n);
    MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, root, comm);
    return text;
}

std::string mpi_error_text(const char* call, const std::string& context, int code) {
    char text[MPI_MAX_ERROR_STRING] = {};
    int len = 0;
    MPI_Error_string(code, text, &len);
    return std::string(call) + "() failed while " + context + ": " + std::string(text, len);
}

}  // namespace shmpool::mpi
