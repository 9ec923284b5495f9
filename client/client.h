// The C++ client of shmpoold: one connection, synchronous requests matched to replies by id.
// Protocol: docs/protocol.md. Errors: RemoteError (ok:false), ConnectError (socket trouble).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client_errors.h"
#include "client/line_socket.h"
#include "client/requests.h"

namespace shmpool {

// Longest reply line accepted from the daemon (a dataset.get of 1 MiB of data fits easily).
constexpr size_t kMaxReplyLine = size_t{64} << 20;

// What dataset.open answers: the dataset's info and a read-only descriptor of its segment
// (map `info["bytes"]` of it with PROT_READ, MAP_SHARED; a writable mapping is refused).
struct OpenedDataset {
    nlohmann::json info;
    UniqueFd fd;
};

class Client {
public:
    // Connects to the daemon's socket. Throws ConnectError.
    explicit Client(std::string socket_path);

    // The explicit socket if given, else default_socket_path(instance or "default").
    // Throws shmpool::Error(bad_name) for an invalid instance name.
    static std::string socket_for(std::optional<std::string> socket, std::optional<std::string> instance);

    const std::string& socket_path() const { return socket_.path(); }

    // Sends one request (a fresh integer id is assigned when it has none); returns its id.
    // `pass_fd` >= 0 is passed with it (SCM_RIGHTS; the caller keeps its own copy).
    // Throws std::invalid_argument for a non-object or an id already in flight.
    nlohmann::json send(nlohmann::json req, int pass_fd = -1);
    // Reads until the reply to the sent request `id` arrives. Replies to other requests in flight
    // are kept for their own receive(); events (lines with an "event" key) go to the event
    // handler as they are read; replies to no request in flight are skipped.
    nlohmann::json receive(const nlohmann::json& id);
    // Called with every event line read (e.g. {"event": "progress", ...}); none: events are skipped.
    void on_event(std::function<void(const nlohmann::json&)> handler) { on_event_ = std::move(handler); }
    // send + receive: the whole reply object, ok or not.
    nlohmann::json request(nlohmann::json req, int pass_fd = -1);
    // request({"verb": verb, ...args}); returns `result`, or throws RemoteError.
    nlohmann::json call(std::string verb, nlohmann::json args = nlohmann::json::object());

    // Daemon.
    nlohmann::json ping();
    nlohmann::json workers();
    nlohmann::json stats();
    nlohmann::json kernels();
    nlohmann::json shutdown();

    // Datasets. Paths are sent absolute. Each returns the verb's result (see protocol.md).
    nlohmann::json put_file(const std::string& name, const std::string& path);
    // The .npy file open as `fd`, passed to the daemon: it needs no path and no --allow-dir.
    nlohmann::json put_fd(const std::string& name, int fd);
    nlohmann::json put_shm(const std::string& name, const std::string& shm_name, const std::string& dtype,
                           const std::vector<uint64_t>& shape);
    nlohmann::json put_data(const std::string& name, const nlohmann::json& data,
                            const std::string& dtype = "float64");
    nlohmann::json info(const std::string& name);
    nlohmann::json list();
    nlohmann::json remove(const std::string& name);
    // Lets `targets` ("user", "uid", "@group", "@gid", "*") read the dataset; unshare takes it
    // back (no targets: from everyone). Returns the dataset's info.
    nlohmann::json share(const std::string& name, const std::vector<std::string>& targets);
    nlohmann::json unshare(const std::string& name, const std::vector<std::string>& targets = {});
    nlohmann::json save(const std::string& name, const std::string& path);
    nlohmann::json get(const std::string& name);
    // The dataset's info and a read-only descriptor of its segment, passed by the daemon: works
    // where the client may not open /dev/shm/<segment> itself (another uid). Throws RemoteError.
    OpenedDataset open(const std::string& name);

    // Jobs. Each returns the job description.
    nlohmann::json submit(const JobRequest& job);
    nlohmann::json status(uint64_t job);
    nlohmann::json wait(uint64_t job, bool progress = false);  // progress: events to on_event()
    nlohmann::json cancel(uint64_t job);

private:
    // After a failed write: keeps the daemon's reply to `id` if it answered before closing
    // (e.g. line_too_long for an over-long request). False when there is none.
    bool take_refusal(const nlohmann::json& id);
    // Reads lines until the reply to `id`, keeping replies to other requests in flight.
    nlohmann::json read_reply(const nlohmann::json& id);
    // The result of a request's reply, or RemoteError.
    nlohmann::json result_of(nlohmann::json req);
    // A reply line marked "fd": true carries a descriptor: keep it for the request `id`.
    void take_passed_fd(const nlohmann::json& reply);

    LineSocket socket_;
    uint64_t next_id_ = 1;
    std::set<nlohmann::json> in_flight_;                 // ids sent and not yet received
    std::map<nlohmann::json, nlohmann::json> pending_;  // replies read ahead, by id
    std::map<nlohmann::json, UniqueFd> passed_fds_;     // descriptors passed with replies, by id
    std::function<void(const nlohmann::json&)> on_event_;
};

// `result` of a reply, or RemoteError carrying its error code and message.
nlohmann::json reply_result(const nlohmann::json& reply);

}  // namespace shmpool
