// Hands out a job's ranges across all ranks, first come first served: a counter on rank 0
// that each rank advances with MPI_Fetch_and_op, so faster ranks take more ranges.
#include "mpi/range_dealer.h"

namespace shmpool::mpi {

RangeDealer::RangeDealer(MPI_Comm comm, uint64_t count) : count_(count) {
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    uint64_t* counter = nullptr;
    MPI_Win_allocate(rank == 0 ? sizeof(uint64_t) : 0, sizeof(uint64_t), MPI_INFO_NULL, comm, &counter, &win_);
    if (rank == 0) {
        MPI_Win_lock(MPI_LOCK_EXCLUSIVE, 0, 0, win_);
        *counter = 0;
        MPI_Win_unlock(0, win_);
    }
    MPI_Barrier(comm);
    MPI_Win_lock_all(0, win_);
}

RangeDealer::~RangeDealer() {
    MPI_Win_unlock_all(win_);
    MPI_Win_free(&win_);
}

uint64_t RangeDealer::fetch_add(uint64_t n) {
    uint64_t before = 0;
    MPI_Fetch_and_op(&n, &before, MPI_UINT64_T, 0, 0, MPI_SUM, win_);
    MPI_Win_flush(0, win_);
    return before;
}

std::optional<uint64_t> RangeDealer::next() {
    uint64_t index = fetch_add(1);
    if (index >= count_) return std::nullopt;
    return index;
}

void RangeDealer::stop() { fetch_add(count_); }

}  // namespace shmpool::mpi
