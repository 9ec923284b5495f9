// The daemon's own copy kernels, so bulk bytes never pass through its event loop: load the
// rows (or transposed tiles, byte-swapped if need be) of an .npy file or a client's shm object
// held open by the daemon; save a dataset's rows to a file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/npy_tiles.h"
#include "common/protocol.h"
#include "common/segment.h"
#include "common/unique_fd.h"
#include "worker/kernels/builtin.h"
#include "worker/kernels/npy_transpose.h"

namespace shmpool {
namespace {

uint64_t row_bytes(const ArrayMeta& m) { return m.shape.row_elems() * dtype_size(m.dtype); }

ArrayMeta meta_from_params(const nlohmann::json& params) {
    ArrayMeta m;
    m.dtype = require_dtype(params, "dtype");
    m.shape = require_shape(params, "shape", m.dtype, UINT64_MAX);
    return m;
}

// Reads or writes exactly `n` bytes at `offset`, through short transfers and EINTR.
template <class Op>
void transfer_all(Op op, const char* what, uint64_t n, uint64_t offset) {
    uint64_t done = 0;
    while (done < n) {
        ssize_t k = op(done, n - done, static_cast<off_t>(offset + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) throw KernelError(sys_error_text(what, "copying a range of a dataset", errno));
        if (k == 0) throw KernelError(std::string(what) + "() reached the end of the file early");
        done += static_cast<uint64_t>(k);
    }
}

void pread_all(int fd, char* to, uint64_t n, uint64_t offset) {
    transfer_all([&](uint64_t d, uint64_t k, off_t off) { return pread(fd, to + d, k, off); }, "pread", n, offset);
}

UniqueFd open_job_file(const std::string& path, int flags) {
    UniqueFd fd(open(path.c_str(), flags | O_CLOEXEC));
    if (!fd) throw KernelError(sys_error_text("open", "opening " + path, errno));
    return fd;
}

// A descriptor the client passed is reopened through the daemon's /proc/PID/fd link; any
// other path was resolved by the daemon and must not turn into a symlink since.
int job_file_flags(const nlohmann::json& params, int access) {
    return access | (optional_bool(params, "passed_fd", false) ? 0 : O_NOFOLLOW);
}

class FileRun : public KernelRun {
public:
    FileRun(const std::string& path, int flags, uint64_t offset, char* mem, const char* cmem, uint64_t row)
        : fd_(open_job_file(path, flags)), offset_(offset), mem_(mem), cmem_(cmem), row_(row) {}
    void run(uint64_t begin, uint64_t end) override {
        uint64_t at = begin * row_, n = (end - begin) * row_;
        if (mem_)
            pread_all(fd_.get(), mem_ + at, n, offset_ + at);
        else
            transfer_all([&](uint64_t d, uint64_t k, off_t off) { return pwrite(fd_.get(), cmem_ + at + d, k, off); },
                         "pwrite", n, offset_ + at);
    }

private:
    UniqueFd fd_;
    uint64_t offset_;
    char* mem_;         // load: the output
    const char* cmem_;  // save: the input
    uint64_t row_;
};

// Loads the rows of a C-order big-endian file a piece at a time, swapping each piece while
// it is still in the cache.
class SwapLoadRun : public KernelRun {
public:
    SwapLoadRun(const std::string& path, int flags, uint64_t offset, const ArrayView& out)
        : fd_(open_job_file(path, flags)), offset_(offset), out_(out.out<char>()), elem_(dtype_size(out.meta.dtype)),
          row_(row_bytes(out.meta)) {}
    void run(uint64_t begin, uint64_t end) override {
        const uint64_t piece = kPieceBytes / elem_ * elem_;
        for (uint64_t at = begin * row_, stop = end * row_; at < stop; at += piece) {
            uint64_t n = std::min(piece, stop - at);
            pread_all(fd_.get(), out_ + at, n, offset_ + at);
            byteswap_elems(out_ + at, n / elem_, elem_);
        }
    }

private:
    static constexpr uint64_t kPieceBytes = 1 << 20;
    UniqueFd fd_;
    uint64_t offset_;
    char* out_;
    size_t elem_;
    uint64_t row_;
};

// Loads a Fortran-order file tile by tile (common/npy_tiles.h): each tile's runs are read into
// a buffer that stays in the cache, then transposed (and byte-swapped) into the dataset.
class FortranLoadRun : public KernelRun {
public:
    FortranLoadRun(const std::string& path, int flags, uint64_t offset, const ArrayView& out, bool swap)
        : fd_(open_job_file(path, flags)), offset_(offset), out_(out.out<char>()),
          elem_(dtype_size(out.meta.dtype)), swap_(swap), tiles_(out.meta.shape, elem_),
          stride_(buffer_stride(tiles_.max_run_elems() * elem_)),
          buf_(static_cast<char*>(::operator new(tiles_.max_runs() * stride_, std::align_val_t{64}))) {}
    void run(uint64_t begin, uint64_t end) override {
        for (uint64_t t = begin; t < end; ++t) load_tile(tiles_.tile(t));
        streaming_fence();  // the tiles are in the dataset before the worker reports the range done
    }

private:
    struct AlignedFree {
        void operator()(char* p) const { ::operator delete(p, std::align_val_t{64}); }
    };

    // Bytes between the buffer's runs: whole cache lines, and one more when that would be a
    // whole number of pages, so the transpose's walk down the runs spreads over the cache's sets.
    static uint64_t buffer_stride(uint64_t run_bytes) {
        uint64_t stride = (run_bytes + 63) / 64 * 64;
        return stride % 4096 == 0 ? stride + 64 : stride;
    }

    void load_tile(const FortranTiles::Tile& t) {
        uint64_t run = t.m_n * t.a_n;  // contiguous in the file for each ik
        uint64_t stride = stride_;
        if (tiles_.contiguous(t)) {  // one read; short file rows would otherwise cost a pread each
            stride = run * elem_;
            pread_all(fd_.get(), buf_.get(), t.k_n * stride, offset_ + tiles_.file_elem(t.a_lo, t.m_lo, t.k_lo) * elem_);
        } else {
            for (uint64_t k = 0; k < t.k_n; ++k)
                pread_all(fd_.get(), buf_.get() + k * stride, run * elem_,
                          offset_ + tiles_.file_elem(t.a_lo, t.m_lo, t.k_lo + k) * elem_);
        }
        for (uint64_t j = 0; j < t.m_n; ++j)
            transpose_elems(buf_.get() + j * t.a_n * elem_, stride / elem_,
                            out_ + tiles_.out_elem(t.a_lo, t.m_lo + j, t.k_lo) * elem_, tiles_.out_row_stride(), t.k_n,
                            t.a_n, elem_, swap_);
    }

    UniqueFd fd_;
    uint64_t offset_;
    char* out_;
    size_t elem_;
    bool swap_;
    FortranTiles tiles_;
    uint64_t stride_;  // bytes from one run of the buffer to the next
    std::unique_ptr<char, AlignedFree> buf_;
};

class LoadNpyKernel : public Kernel {
public:
    std::string name() const override { return "_load_npy"; }
    std::vector<std::string> roles() const override { return {}; }
    nlohmann::json describe_params() const override { return {{"path", "file"}, {"offset", "data offset"}}; }
    std::string description() const override {
        return "copies an .npy file's data into a new dataset, transposing Fortran order and swapping big-endian bytes";
    }
    Plan plan(const PlanInput& in) const override {
        require_string(in.params, "path");
        require_u64(in.params, "offset");
        ArrayMeta m = meta_from_params(in.params);
        bool fortran = optional_bool(in.params, "fortran", false);
        return Plan{m, fortran ? FortranTiles(m.shape, dtype_size(m.dtype)).count() : m.shape.rows()};
    }
    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        std::string path = require_string(ctx.params, "path");
        int flags = job_file_flags(ctx.params, O_RDONLY);
        uint64_t offset = require_u64(ctx.params, "offset");
        bool swap = optional_bool(ctx.params, "swap", false);
        if (optional_bool(ctx.params, "fortran", false))
            return std::make_unique<FortranLoadRun>(path, flags, offset, ctx.output, swap);
        if (swap) return std::make_unique<SwapLoadRun>(path, flags, offset, ctx.output);
        return std::make_unique<FileRun>(path, flags, offset, ctx.output.out<char>(), nullptr,
                                         row_bytes(ctx.output.meta));
    }
};

class SaveNpyKernel : public Kernel {
public:
    std::string name() const override { return "_save_npy"; }
    std::vector<std::string> roles() const override { return {"src"}; }
    nlohmann::json describe_params() const override { return {{"path", "file"}, {"offset", "data offset"}}; }
    std::string description() const override { return "writes a dataset's rows into a prepared .npy file"; }
    Plan plan(const PlanInput& in) const override {
        require_string(in.params, "path");
        require_u64(in.params, "offset");
        return Plan{std::nullopt, in.inputs.at("src").shape.rows()};
    }
    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        const ArrayView& src = ctx.inputs.at("src");
        // As _load_npy: the daemon's /proc/PID/fd link of the file it created, or a resolved path.
        int flags = job_file_flags(ctx.params, O_WRONLY);
        return std::make_unique<FileRun>(require_string(ctx.params, "path"), flags, require_u64(ctx.params, "offset"),
                                         nullptr, src.as<char>(), row_bytes(src.meta));
    }
};

}  // namespace

const Kernel& load_npy_kernel() {
    static const LoadNpyKernel k;
    return k;
}
const Kernel& save_npy_kernel() {
    static const SaveNpyKernel k;
    return k;
}

}  // namespace shmpool
