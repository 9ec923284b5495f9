// Hands out a job's ranges across all ranks, first come first served: a counter on rank 0
// that each rank advances with MPI_Fetch_and_op, so faster ranks take more ranges.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <optional>

namespace shmpool::mpi {

class RangeDealer {
public:
    // Collective over `comm`: a counter of ranges [0, count) held by its rank 0.
    RangeDealer(MPI_Comm comm, uint64_t count);
    ~RangeDealer();
    RangeDealer(const RangeDealer&) = delete;
    RangeDealer& operator=(const RangeDealer&) = delete;

    // The next range index nobody has taken, or nullopt when all are taken (or after stop()).
    std::optional<uint64_t> next();
    // Takes every range that is left, so no rank starts another (a failed job).
    void stop();

private:
    uint64_t fetch_add(uint64_t n);

    MPI_Win win_ = MPI_WIN_NULL;
    uint64_t count_;
};

}  // namespace shmpool::mpi
