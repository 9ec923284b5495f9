// Handlers of the dataset verbs. Bulk copies (from a file, from a client's shared memory, to
// a file) run as internal jobs in the workers; the loop reads at most an .npy header.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "common/names.h"
#include "common/npy.h"
#include "common/segment.h"
#include "server/daemon.h"
#include "server/datasets/inline_data.h"
#include "server/api/router.h"

namespace shmpool {
namespace {

constexpr uint64_t kCopyRangeBytes = 16 << 20;  // bytes per range of a copy job
constexpr size_t kNpyPrefixBytes = 16;

uint64_t copy_chunk(const ArrayMeta& m) {
    uint64_t row = std::max<uint64_t>(1, m.shape.row_elems() * dtype_size(m.dtype));
    return std::max<uint64_t>(1, kCopyRangeBytes / row);
}

nlohmann::json meta_params(const ArrayMeta& m) {
    nlohmann::json shape = nlohmann::json::array();
    for (int i = 0; i < m.shape.ndim; ++i) shape.push_back(m.shape.dims[i]);
    return {{"dtype", dtype_name(m.dtype)}, {"shape", shape}};
}

// Runs an internal copy job and answers `c` with `on_done()` or the job's error as io_error.
void run_copy_job(const Call& c, JobSpec spec, std::function<nlohmann::json(const Job&)> on_done,
                  std::function<void()> on_fail = [] {}) {
    spec.internal = true;
    spec.owner_uid = c.session->peer_uid();
    Job& job = c.daemon->scheduler().submit(spec);
    c.daemon->scheduler().when_ended(job, [c, on_done = std::move(on_done), on_fail = std::move(on_fail)](const Job& j) {
        if (j.state == JobState::done) {
            try {
                c.ok(on_done(j));
            } catch (const Error& e) {
                c.fail(e);
            }
            return;
        }
        on_fail();
        ErrorCode code = j.state == JobState::failed ? ErrorCode::io_error : j.error->code;
        c.fail(code, j.error ? j.error->message : "copy failed");
    });
}

std::string read_npy_prefix(int fd, const std::string& path) {
    std::string buf(kNpyPrefixBytes, '\0');
    ssize_t n = pread(fd, buf.data(), buf.size(), 0);
    if (n < 0) throw Error(ErrorCode::io_error, sys_error_text("pread", "reading " + path, errno));
    buf.resize(static_cast<size_t>(n));
    size_t need = npy_header_bytes_needed(buf.data(), buf.size());
    buf.resize(need);
    n = pread(fd, buf.data(), need, 0);
    if (n != static_cast<ssize_t>(need)) throw Error(ErrorCode::io_error, "'" + path + "': the .npy header is truncated");
    return buf;
}

// The header of the .npy file open as `fd` (`label` names it in errors); the file must be a
// regular file holding all the data the header announces.
NpyHeader read_npy_header_fd(int fd, const std::string& label) {
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw Error(ErrorCode::io_error, label + " is not a regular file");
    std::string prefix = read_npy_prefix(fd, label);
    NpyHeader h = parse_npy_header(prefix.data(), prefix.size());
    if (static_cast<uint64_t>(st.st_size) < h.data_offset + h.data_bytes)
        throw Error(ErrorCode::io_error, label + " is truncated: " + std::to_string(st.st_size) + " bytes for a " +
                                             h.shape.to_string() + " array");
    return h;
}

// How workers reopen a file the daemon holds open: its /proc/<daemon pid>/fd/N link, valid
// while the daemon keeps the descriptor (no path of the client's is walked again).
std::string proc_fd_path(int fd) { return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd); }

// The copy job that loads the data of an .npy file (header `h`) that workers open as `path`.
JobSpec load_npy_spec(const std::string& name, const NpyHeader& h, const std::string& path) {
    ArrayMeta meta{h.dtype, h.shape};
    JobSpec spec{"_load_npy", {}, meta_params(meta), copy_chunk(meta), name};
    spec.params["path"] = path;
    spec.params["offset"] = h.data_offset;
    return spec;
}

// Loads the .npy file the daemon holds open as `file` (`label` names it in errors): passed by
// the client (SCM_RIGHTS), or opened beneath an allowed directory. Workers reopen it by
// /proc/<daemon>/fd/N; the copy job's callbacks hold the descriptor until the job ends.
void put_from_open_file(const Call& c, const std::string& name, const std::shared_ptr<UniqueFd>& file,
                        const std::string& label) {
    int fd = file->get();
    JobSpec spec = load_npy_spec(name, read_npy_header_fd(fd, label), proc_fd_path(fd));
    spec.params["passed_fd"] = true;
    run_copy_job(c, spec, [file](const Job& j) { return j.output_info; }, [file] {});
}

void put_from_file(const Call& c, const std::string& name, const std::string& asked) {
    auto file = std::make_shared<UniqueFd>(c.daemon->paths().open_existing(asked));
    put_from_open_file(c, name, file, "'" + asked + "'");
}

std::string shm_object_name(std::string name) {
    if (!name.empty() && name[0] == '/') name.erase(0, 1);
    if (name.empty() || name.size() > 250 || name.find('/') != std::string::npos)
        throw Error(ErrorCode::bad_name, "a shared-memory object name is '/name' without further '/'");
    return name;
}

void put_from_shm(const Call& c, const std::string& name, const std::string& shm_arg) {
    std::string shm = shm_object_name(shm_arg);
    ArrayMeta meta;
    meta.dtype = require_dtype(c.args(), "dtype");
    meta.shape = require_shape(c.args(), "shape", meta.dtype, c.daemon->options().max_dataset_bytes);
    uint64_t have = Segment::size_of(shm), need = checked_bytes(meta.shape, meta.dtype);
    if (have < need)
        throw Error(ErrorCode::io_error, "shared-memory object '" + shm + "' holds " + std::to_string(have) +
                                             " bytes; a " + meta.shape.to_string() + " array needs " +
                                             std::to_string(need));
    JobSpec spec{"_copy_shm", {}, meta_params(meta), copy_chunk(meta), name};
    spec.params["shm"] = shm;
    run_copy_job(c, spec, [](const Job& j) { return j.output_info; });
}

void put_inline(const Call& c, const std::string& name, const nlohmann::json& data) {
    ArrayMeta meta;
    meta.dtype = c.args().contains("dtype") ? require_dtype(c.args(), "dtype") : DType::float64;
    meta.shape = inline_shape(data, meta.dtype, std::min<uint64_t>(c.daemon->options().max_dataset_bytes, kDefaultMaxLine));
    Segment mapping;
    DatasetPtr ds = c.daemon->store().create(name, meta, c.session->peer_uid(), &mapping);
    try {
        write_inline(data, meta.dtype, meta.shape, mapping.data());
    } catch (...) {
        c.daemon->store().erase(name, /*force=*/true);
        throw;
    }
    c.daemon->store().seal(*ds);
    c.ok(ds->info());
}

// get, open and save read a dataset whole: not while a job still writes it.
DatasetPtr find_sealed(const Call& c) {
    DatasetPtr ds = c.daemon->store().find(require_string(c.args(), "name"));
    if (!ds->sealed) throw Error(ErrorCode::dataset_busy, "dataset '" + ds->name + "' is still being written");
    return ds;
}

}  // namespace

void handle_dataset_put(const Call& c) {
    std::shared_ptr<UniqueFd> passed;  // taken first, so a refused request still consumes its descriptor
    if (optional_bool(c.args(), "fd", false)) {
        int fd = c.session->take_fd();
        if (fd < 0)
            throw Error(ErrorCode::bad_request, "\"fd\": true needs a descriptor passed (SCM_RIGHTS) with the request");
        passed = std::make_shared<UniqueFd>(fd);
    }
    std::string name = require_string(c.args(), "name");
    auto file = optional_string(c.args(), "file");
    auto shm = optional_string(c.args(), "shm");
    bool has_data = c.args().contains("data"), has_fd = passed != nullptr;
    if (int(file.has_value()) + int(shm.has_value()) + int(has_data) + int(has_fd) != 1)
        throw Error(ErrorCode::bad_request, "dataset.put takes exactly one of 'file', 'shm', 'data' or 'fd'");
    check_dataset_name(name);
    if (has_fd) return put_from_open_file(c, name, passed, "the passed descriptor");
    if (file) return put_from_file(c, name, *file);
    if (shm) return put_from_shm(c, name, *shm);
    put_inline(c, name, c.args()["data"]);
}

void handle_dataset_info(const Call& c) { c.ok(c.daemon->store().find(require_string(c.args(), "name"))->info()); }

void handle_dataset_list(const Call& c) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& ds : c.daemon->store().list()) list.push_back(ds->info());
    c.ok({{"datasets", list}});
}

void handle_dataset_delete(const Call& c) {
    std::string name = require_string(c.args(), "name");
    c.daemon->store().erase(name);
    c.ok({{"deleted", name}});
}

void handle_dataset_get(const Call& c) {
    DatasetPtr ds = find_sealed(c);
    if (ds->bytes > kDefaultMaxLine)
        throw Error(ErrorCode::too_large, "dataset '" + ds->name + "' is " + std::to_string(ds->bytes) +
                                              " bytes; get returns at most 1 MiB inline (map its segment instead)");
    Segment mapping = Segment::open(ds->segment, false, ds->bytes);
    nlohmann::json info = ds->info();
    info["data"] = read_inline(mapping.data(), ds->meta.dtype, ds->meta.shape);
    c.ok(info);
}

// The dataset's info, with a read-only descriptor of its segment passed on the reply: a
// client that may not open the 0600 segment by name maps it through this descriptor.
void require_fd_room(const Call& c) {
    if (c.session->fds_unsent() >= Session::kMaxUnsentFds)
        throw Error(ErrorCode::too_many_descriptors,
                    "this connection already has " + std::to_string(Session::kMaxUnsentFds) +
                        " descriptors waiting to be sent with their replies; read the replies first");
}

void handle_dataset_open(const Call& c) {
    require_fd_room(c);
    DatasetPtr ds = find_sealed(c);
    // That uid could read a later dataset through the descriptor if the segment became a spare.
    uid_t peer = c.session->peer_uid();
    if (peer != 0 && peer != geteuid()) ds->handed_out = true;
    c.ok_with_fd(ds->info(), UniqueFd(Segment::open_read_only(ds->segment)));
}

// A file being saved: a temporary name beside the target, in the target's directory (held
// open, opened beneath its allowed directory), renamed into place in it when complete.
struct SaveTarget {
    PathPolicy::NewFileDir target;
    std::string tmp;
    UniqueFd file;

    explicit SaveTarget(PathPolicy::NewFileDir t) : target(std::move(t)) {
        static uint64_t counter = 0;
        tmp = target.name + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    }
    // Creates the temporary file with `header` and all its bytes allocated; leaves nothing on error.
    void create(const std::string& header, uint64_t data_bytes) {
        int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
        file = UniqueFd(openat(target.dir.get(), tmp.c_str(), flags, 0644));
        if (!file) throw Error(ErrorCode::io_error, sys_error_text("openat", "creating " + where(), errno));
        int err = 0;
        if (pwrite(file.get(), header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
            err = errno ? errno : EIO;
        if (!err) err = posix_fallocate(file.get(), 0, static_cast<off_t>(header.size() + data_bytes));
        if (!err) return;
        discard();
        throw Error(err == ENOSPC ? ErrorCode::no_space : ErrorCode::io_error,
                    sys_error_text("write", "preparing " + where(), err));
    }
    void finish() const {
        int dir = target.dir.get();
        if (renameat(dir, tmp.c_str(), dir, target.name.c_str()) == 0) return;
        int err = errno;
        discard();
        throw Error(ErrorCode::io_error, sys_error_text("renameat", "finishing '" + target.resolved + "'", err));
    }
    void discard() const { unlinkat(target.dir.get(), tmp.c_str(), 0); }
    std::string where() const { return "'" + tmp + "' beside '" + target.resolved + "'"; }
};

void handle_dataset_save(const Call& c) {
    DatasetPtr ds = find_sealed(c);
    auto save = std::make_shared<SaveTarget>(c.daemon->paths().open_new_parent(require_string(c.args(), "file")));
    std::string header = format_npy_header(ds->meta.dtype, ds->meta.shape);
    save->create(header, ds->bytes);
    nlohmann::json params = {{"path", proc_fd_path(save->file.get())}, {"offset", header.size()}, {"passed_fd", true}};
    JobSpec spec{"_save_npy", {{"src", ds->name}}, params, copy_chunk(ds->meta), {}};
    uint64_t total = header.size() + ds->bytes;
    run_copy_job(
        c, spec,
        [save, total](const Job&) {
            save->finish();
            return nlohmann::json{{"file", save->target.resolved}, {"bytes", total}};
        },
        [save] { save->discard(); });
}

}  // namespace shmpool
