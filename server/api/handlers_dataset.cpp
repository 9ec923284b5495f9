// Handlers of the dataset verbs. Bulk copies (from a file, from a client's shared memory, to
// a file) run as internal jobs in the workers; the loop reads at most an .npy header, or a
// small object on tmpfs whole (a put of a few pages must not wait behind busy workers).
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <memory>

#include "common/fd_io.h"
#include "common/names.h"
#include "common/npy.h"
#include "common/npy_file.h"
#include "common/npy_tiles.h"
#include "common/segment.h"
#include "server/daemon.h"
#include "server/datasets/inline_data.h"
#include "server/api/dataset_lookup.h"
#include "server/api/router.h"
#include "server/api/request_names.h"

namespace shmpool {
namespace {

constexpr uint64_t kCopyRangeBytes = 16 << 20;  // bytes per range of a copy job
constexpr uint64_t kDaemonCopyMaxBytes = 4 << 20;  // a tmpfs object up to this size: copied by the loop

uint64_t copy_chunk(const ArrayMeta& m) {
    uint64_t row = std::max<uint64_t>(1, m.shape.row_elems() * dtype_size(m.dtype));
    return std::max<uint64_t>(1, kCopyRangeBytes / row);
}

nlohmann::json meta_params(const ArrayMeta& m) {
    nlohmann::json shape = nlohmann::json::array();
    for (int i = 0; i < m.shape.ndim; ++i) shape.push_back(m.shape.dims[i]);
    return {{"dtype", dtype_name(m.dtype)}, {"shape", shape}};
}

// A put's reply names the new dataset's segment (the client may map it): from now on the
// segment is exposed and never becomes a spare.
nlohmann::json reveal_dataset(const Call& c, const std::string& name) {
    return c.daemon->store().find(c.peer().uid, name)->reveal();
}

// The shares a put asks for ("share": [targets]), checked before anything is created.
DatasetShares shares_of_put(const Call& c) {
    DatasetShares shares;
    if (c.args().contains("share")) apply_share_list(shares, c.args()["share"], true);
    return shares;
}

// Runs an internal copy job and answers `c` with `on_done()` or the job's error as io_error.
void run_copy_job(const Call& c, JobSpec spec, std::function<nlohmann::json(const Job&)> on_done,
                  std::function<void()> on_fail = [] {}) {
    spec.internal = true;
    spec.owner_uid = c.session->peer_uid();
    DatasetShares shares = spec.output ? shares_of_put(c) : DatasetShares{};
    Job& job = c.daemon->scheduler().submit(spec);
    if (job.output) job.output->shares = std::move(shares);
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

// How workers reopen a file the daemon holds open: its /proc/<daemon pid>/fd/N link, valid
// while the daemon keeps the descriptor (no path of the client's is walked again).
std::string proc_fd_path(int fd) { return "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd); }

// The copy job that loads the data of an .npy file (header `h`) that workers open as `path`:
// rows of a C-order file, tiles of a Fortran-order one (common/npy_tiles.h), about
// kCopyRangeBytes per range either way; big-endian elements are swapped while copied.
JobSpec load_npy_spec(const std::string& name, const NpyHeader& h, const std::string& path) {
    ArrayMeta meta{h.dtype, h.shape};
    bool fortran = h.layout.fortran_order && fortran_differs_from_c(h.shape);
    uint64_t chunk = copy_chunk(meta);
    if (fortran) {
        uint64_t tile = FortranTiles(h.shape, dtype_size(h.dtype)).max_tile_elems() * dtype_size(h.dtype);
        chunk = std::max<uint64_t>(1, kCopyRangeBytes / tile);
    }
    JobSpec spec{"_load_npy", {}, meta_params(meta), chunk, name};
    spec.params["path"] = path;
    spec.params["offset"] = h.data_offset;
    spec.params["fortran"] = fortran;
    spec.params["swap"] = h.layout.big_endian;
    return spec;
}

// Loads the .npy file the daemon holds open as `file` (`label` names it in errors): passed by
// the client (SCM_RIGHTS), or opened beneath an allowed directory. Workers reopen it by
// /proc/<daemon>/fd/N; the copy job's callbacks hold the descriptor until the job ends.
void load_open_file(const Call& c, const std::string& name, const std::shared_ptr<UniqueFd>& file, const NpyHeader& h) {
    JobSpec spec = load_npy_spec(name, h, proc_fd_path(file->get()));
    spec.params["passed_fd"] = true;
    run_copy_job(c, spec, [c, name, file](const Job&) { return reveal_dataset(c, name); }, [file] {});
}

void put_from_open_file(const Call& c, const std::string& name, const std::shared_ptr<UniqueFd>& file,
                        const std::string& label) {
    load_open_file(c, name, file, read_npy_header_fd(file->get(), label));
}

// Creates dataset `name` of `meta`, lets `fill` write its bytes, seals it and answers; a fill
// that throws leaves no dataset.
void put_filled(const Call& c, const std::string& name, const ArrayMeta& meta, const std::function<void(void*)>& fill) {
    DatasetShares shares = shares_of_put(c);
    Segment mapping;
    DatasetPtr ds = c.daemon->store().create(name, meta, c.peer().uid, &mapping);
    try {
        fill(mapping.data());
    } catch (...) {
        c.daemon->store().erase(c.peer().uid, name, /*force=*/true);
        throw;
    }
    ds->shares = std::move(shares);
    c.daemon->store().seal(*ds);
    c.ok(ds->reveal());
}

// An object the loop may read itself: at most kDaemonCopyMaxBytes, on tmpfs (a memfd or a
// /dev/shm object), where pread neither blocks (no pipe, no FUSE) nor faults when the client
// truncates the object meanwhile (it returns short: an io_error).
bool small_on_tmpfs(int fd, uint64_t bytes) {
    struct statfs fs {};
    return bytes <= kDaemonCopyMaxBytes && fstatfs(fd, &fs) == 0 && fs.f_type == TMPFS_MAGIC;
}

// Copies the raw bytes of `meta` from the object held open as `object` (a client's shm object or
// memfd): at once when it is small and on tmpfs, else through the same reopen as a file's.
void put_from_open_object(const Call& c, const std::string& name, const std::shared_ptr<UniqueFd>& object,
                          const ArrayMeta& meta, const std::string& label) {
    struct stat st {};
    if (fstat(object->get(), &st) != 0 || !S_ISREG(st.st_mode))
        throw Error(ErrorCode::io_error, label + " is not a regular file or shared-memory object");
    uint64_t need = checked_bytes(meta.shape, meta.dtype);
    if (static_cast<uint64_t>(st.st_size) < need)
        throw Error(ErrorCode::io_error, label + " holds " + std::to_string(st.st_size) + " bytes; a " +
                                             meta.shape.to_string() + " array needs " + std::to_string(need));
    if (small_on_tmpfs(object->get(), need))
        return put_filled(c, name, meta, [&](void* dst) { pread_exactly(object->get(), dst, need, 0, label); });
    NpyHeader raw{};
    raw.dtype = meta.dtype, raw.shape = meta.shape, raw.data_offset = 0, raw.data_bytes = need;
    load_open_file(c, name, object, raw);
}

ArrayMeta meta_of_request(const Call& c) {
    ArrayMeta meta;
    meta.dtype = require_dtype(c.args(), "dtype");
    meta.shape = require_shape(c.args(), "shape", meta.dtype, c.daemon->options().max_dataset_bytes);
    return meta;
}

// A file inside an allowed directory, which the peer itself must be able to read (the daemon
// never reads for a client what it could not read: docs/security.md).
void put_from_file(const Call& c, const std::string& name, const std::string& asked) {
    std::string resolved = c.daemon->paths().resolve_existing(asked);
    auto file = std::make_shared<UniqueFd>(c.daemon->paths().open_resolved(resolved, O_RDONLY | O_NONBLOCK, asked));
    c.access().require_path_search(c.peer(), resolved.substr(0, resolved.rfind('/')), "'" + asked + "'");
    c.access().require_file_access(c.peer(), FilePermissions::of_fd(file->get(), "'" + asked + "'"), ObjectUse::read,
                                   "'" + asked + "'");
    put_from_open_file(c, name, file, "'" + asked + "'");
}

std::string shm_object_name(std::string name) {
    if (!name.empty() && name[0] == '/') name.erase(0, 1);
    if (name.empty() || name.size() > 250 || name.find('/') != std::string::npos)
        throw Error(ErrorCode::bad_name, "a shared-memory object name is '/name' without further '/'");
    return name;
}

// A shm object the client names: opened without following a symlink, and accepted only when
// the peer owns it (checked on the descriptor opened, so a swap after the check changes nothing).
void put_from_shm(const Call& c, const std::string& name, const std::string& shm_arg) {
    std::string shm = shm_object_name(shm_arg), label = "shared-memory object '" + shm + "'";
    ArrayMeta meta = meta_of_request(c);
    std::string path = "/dev/shm/" + shm;
    auto object = std::make_shared<UniqueFd>(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!*object)
        throw Error(errno == ENOENT ? ErrorCode::io_error : ErrorCode::permission_denied,
                    sys_error_text("open", "opening " + label + " (pass its descriptor with \"fd\": true)", errno));
    struct stat st {};
    if (fstat(object->get(), &st) != 0) throw Error(ErrorCode::io_error, sys_error_text("fstat", label, errno));
    c.access().require_owned_object(c.peer(), st, label);
    put_from_open_object(c, name, object, meta, label);
}

void put_inline(const Call& c, const std::string& name, const nlohmann::json& data) {
    ArrayMeta meta;
    meta.dtype = c.args().contains("dtype") ? require_dtype(c.args(), "dtype") : DType::float64;
    meta.shape = inline_shape(data, meta.dtype, std::min<uint64_t>(c.daemon->options().max_dataset_bytes, kDefaultMaxLine));
    put_filled(c, name, meta, [&](void* dst) { write_inline(data, meta.dtype, meta.shape, dst); });
}

// A descriptor the client passed: one it could read through (not write-only, not O_PATH).
void put_from_passed(const Call& c, const std::string& name, const std::shared_ptr<UniqueFd>& passed) {
    c.access().require_read_descriptor(passed->get(), "the passed descriptor");
    if (c.args().contains("dtype") || c.args().contains("shape"))
        return put_from_open_object(c, name, passed, meta_of_request(c), "the passed descriptor");
    put_from_open_file(c, name, passed, "the passed descriptor");
}

// get, open and save read a dataset whole (one the client may read): not while a job still writes it.
DatasetPtr find_sealed(const Call& c) {
    DatasetPtr ds = find_readable(c, require_string(c.args(), "name"));
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
    name = name_to_create(c, name);
    if (has_fd) return put_from_passed(c, name, passed);
    if (file) return put_from_file(c, name, *file);
    if (shm) return put_from_shm(c, name, *shm);
    put_inline(c, name, c.args()["data"]);
}

void handle_dataset_info(const Call& c) { c.ok(find_readable(c, require_string(c.args(), "name"))->reveal()); }

// Only the datasets the client may read: its own, those shared with it (all, for an admin).
void handle_dataset_list(const Call& c) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& ds : c.daemon->store().list())
        if (c.access().may_read(c.peer(), *ds)) list.push_back(ds->reveal());
    c.ok({{"datasets", list}});
}

// The store's reference is the last one once erased: the segment is gone (or a spare) before
// the reply is sent, so none is held here past the erase.
void handle_dataset_delete(const Call& c) {
    std::string name = require_string(c.args(), "name");
    DatasetName key;
    {
        DatasetPtr ds = find_readable(c, name);
        c.access().require_owner(c.peer(), *ds, "delete");
        key = {ds->owner_uid, ds->name};
    }
    c.daemon->store().erase(key.owner_uid, key.name);
    c.ok({{"deleted", name}});
}

void handle_dataset_get(const Call& c) {
    DatasetPtr ds = find_sealed(c);
    if (ds->bytes > kDefaultMaxLine)
        throw Error(ErrorCode::too_large, "dataset '" + ds->name + "' is " + std::to_string(ds->bytes) +
                                              " bytes; get returns at most 1 MiB inline (map its segment instead)");
    Segment mapping = Segment::open(ds->segment, false, ds->bytes);
    nlohmann::json info = ds->describe();  // a copy of the data: the segment stays unseen
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
    // The client maps the segment through the descriptor: reveal() keeps it from becoming a spare.
    UniqueFd fd(Segment::open_read_only(ds->segment));
    c.ok_with_fd(ds->reveal(), std::move(fd));
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
    // A root daemon gives it to the client (`owner`), which could have created it itself; a
    // daemon run as its own user (the service) lets the directory's group read it.
    void create(const std::string& header, uint64_t data_bytes, const PeerCred& owner) {
        int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
        file = UniqueFd(openat(target.dir.get(), tmp.c_str(), flags, 0644));
        if (!file) throw Error(ErrorCode::io_error, sys_error_text("openat", "creating " + where(), errno));
        int err = 0;
        if (geteuid() == 0 ? fchown(file.get(), owner.uid, owner.gid) != 0 : fchmod(file.get(), 0640) != 0) err = errno;
        if (!err && pwrite(file.get(), header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()))
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

// The client itself must be able to create the file in its directory, and to write over the
// file it replaces, if any (docs/security.md).
void check_may_save(const Call& c, const PathPolicy::NewFileDir& target, const std::string& asked) {
    std::string label = "'" + asked + "'";
    c.access().require_path_search(c.peer(), target.resolved.substr(0, target.resolved.rfind('/')), label);
    FilePermissions dir = FilePermissions::of_fd(target.dir.get(), "the directory of " + label);
    c.access().require_dir_access(c.peer(), dir, ObjectUse::write, "the directory of " + label);
    if (auto existing = FilePermissions::at(target.dir.get(), target.name, label))
        c.access().require_may_replace(c.peer(), dir, *existing, label);
}

void handle_dataset_save(const Call& c) {
    DatasetPtr ds = find_sealed(c);
    std::string asked = require_string(c.args(), "file");
    auto save = std::make_shared<SaveTarget>(c.daemon->paths().open_new_parent(asked));
    check_may_save(c, save->target, asked);
    std::string header = format_npy_header(ds->meta.dtype, ds->meta.shape);
    save->create(header, ds->bytes, c.peer());
    nlohmann::json params = {{"path", proc_fd_path(save->file.get())}, {"offset", header.size()}, {"passed_fd", true}};
    JobSpec spec{"_save_npy", {{"src", ds->qualified_name()}}, params, copy_chunk(ds->meta), {}};
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
