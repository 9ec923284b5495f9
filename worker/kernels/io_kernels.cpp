// The daemon's own copy kernels, so bulk bytes never pass through its event loop: load the
// rows of an .npy file or a client's shm object (held open by the daemon), save a dataset's rows to a file.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/protocol.h"
#include "common/segment.h"
#include "common/unique_fd.h"
#include "worker/kernels/builtin.h"

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

class FileRun : public KernelRun {
public:
    FileRun(const std::string& path, int flags, uint64_t offset, char* mem, const char* cmem, uint64_t row)
        : fd_(open(path.c_str(), flags | O_CLOEXEC)), offset_(offset), mem_(mem), cmem_(cmem), row_(row) {
        if (fd_ < 0) throw KernelError(sys_error_text("open", "opening " + path, errno));
    }
    ~FileRun() override { close(fd_); }
    void run(uint64_t begin, uint64_t end) override {
        uint64_t at = begin * row_, n = (end - begin) * row_;
        if (mem_)
            transfer_all([&](uint64_t d, uint64_t k, off_t off) { return pread(fd_, mem_ + at + d, k, off); }, "pread",
                         n, offset_ + at);
        else
            transfer_all([&](uint64_t d, uint64_t k, off_t off) { return pwrite(fd_, cmem_ + at + d, k, off); },
                         "pwrite", n, offset_ + at);
    }

private:
    int fd_;
    uint64_t offset_;
    char* mem_;         // load: the output
    const char* cmem_;  // save: the input
    uint64_t row_;
};

class LoadNpyKernel : public Kernel {
public:
    std::string name() const override { return "_load_npy"; }
    std::vector<std::string> roles() const override { return {}; }
    nlohmann::json describe_params() const override { return {{"path", "file"}, {"offset", "data offset"}}; }
    std::string description() const override { return "copies an .npy file's data into a new dataset"; }
    Plan plan(const PlanInput& in) const override {
        require_string(in.params, "path");
        require_u64(in.params, "offset");
        ArrayMeta m = meta_from_params(in.params);
        return Plan{m, m.shape.rows()};
    }
    std::unique_ptr<KernelRun> start(const RunContext& ctx) const override {
        // A descriptor the client passed is reopened through the daemon's /proc/PID/fd link;
        // any other path was resolved by the daemon and must not turn into a symlink since.
        int flags = O_RDONLY | (optional_bool(ctx.params, "passed_fd", false) ? 0 : O_NOFOLLOW);
        return std::make_unique<FileRun>(require_string(ctx.params, "path"), flags, require_u64(ctx.params, "offset"),
                                         ctx.output.out<char>(), nullptr, row_bytes(ctx.output.meta));
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
        int flags = O_WRONLY | (optional_bool(ctx.params, "passed_fd", false) ? 0 : O_NOFOLLOW);
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
