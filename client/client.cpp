// The C++ client of shmpoold: framing, id matching and the one request path all verbs share.
// Replies for other ids are kept until asked for; events go to the event handler, or are skipped.
#include "client/client.h"

#include <stdexcept>
#include <utility>

#include "common/names.h"

namespace shmpool {
namespace {

nlohmann::json parse_reply(const std::string& line) {
    nlohmann::json reply = nlohmann::json::parse(line, nullptr, false);
    if (reply.is_discarded()) throw ConnectError("daemon sent a line that is not JSON");
    return reply;
}

// A reply with a null id and ok:false answers the request in flight: the daemon could not
// read its id (e.g. line_too_long, after which it closes the connection).
bool answers(const nlohmann::json& reply, const nlohmann::json& id) {
    const nlohmann::json& got = reply["id"];
    return got == id || (got.is_null() && reply.contains("ok") && reply["ok"] == false);
}

}  // namespace

Client::Client(std::string socket_path) : socket_(std::move(socket_path), kMaxReplyLine) {}

std::string Client::socket_for(std::optional<std::string> socket, std::optional<std::string> instance) {
    if (socket) return *socket;
    std::string name = instance.value_or("default");
    check_instance_name(name);
    return default_socket_path(name);
}

nlohmann::json Client::send(nlohmann::json req, int pass_fd) {
    if (!req.is_object()) throw std::invalid_argument("a request must be a JSON object");
    while (!req.contains("id") && in_flight_.count(next_id_)) ++next_id_;
    if (!req.contains("id")) req["id"] = next_id_++;
    const nlohmann::json id = req["id"];
    if (in_flight_.count(id)) throw std::invalid_argument("request id " + id.dump() + " is already in flight");
    try {
        socket_.write_line(req.dump(), pass_fd);
    } catch (const ConnectError&) {
        if (!take_refusal(id)) throw;
    }
    in_flight_.insert(id);
    return id;
}

bool Client::take_refusal(const nlohmann::json& id) {
    try {
        pending_[id] = read_reply(id);
        return true;
    } catch (const ConnectError&) {
        return false;
    }
}

nlohmann::json Client::receive(const nlohmann::json& id) {
    if (!in_flight_.count(id)) throw std::invalid_argument("receive(" + id.dump() + "): no such request in flight");
    auto found = pending_.find(id);
    nlohmann::json reply = found != pending_.end() ? std::move(found->second) : read_reply(id);
    if (found != pending_.end()) pending_.erase(found);
    in_flight_.erase(id);
    return reply;
}

nlohmann::json Client::read_reply(const nlohmann::json& id) {
    for (;;) {
        nlohmann::json reply = parse_reply(socket_.read_line());
        if (!reply.is_object()) continue;
        if (reply.contains("event")) {  // an event carries its request's id but is not its reply
            if (on_event_) on_event_(reply);
            continue;
        }
        if (!reply.contains("id")) continue;
        take_passed_fd(reply);
        if (answers(reply, id)) return reply;
        nlohmann::json other = reply["id"];
        if (in_flight_.count(other)) pending_[std::move(other)] = std::move(reply);
    }
}

// The descriptor came with the line's first bytes, so it has been received by now. One for a
// request no longer in flight is closed at once.
void Client::take_passed_fd(const nlohmann::json& reply) {
    auto marked = reply.find("fd");
    if (marked == reply.end() || *marked != true) return;
    UniqueFd fd = socket_.take_fd();
    if (!fd)
        throw ConnectError("the daemon's reply to request " + reply["id"].dump() +
                           " announced a descriptor it did not pass");
    if (in_flight_.count(reply["id"])) passed_fds_[reply["id"]] = std::move(fd);
}

nlohmann::json Client::request(nlohmann::json req, int pass_fd) { return receive(send(std::move(req), pass_fd)); }

nlohmann::json reply_result(const nlohmann::json& reply) {
    if (reply.contains("ok") && reply["ok"] == true) return reply.value("result", nlohmann::json::object());
    const nlohmann::json* error = reply.contains("error") ? &reply["error"] : nullptr;
    auto text = [&](const char* key, const char* fallback) {
        bool ok = error && error->is_object() && error->contains(key) && (*error)[key].is_string();
        return ok ? (*error)[key].get<std::string>() : std::string(fallback);
    };
    throw RemoteError(text("code", "internal"), text("message", "the daemon reported an error"));
}

nlohmann::json Client::result_of(nlohmann::json req) { return reply_result(request(std::move(req))); }

nlohmann::json Client::call(std::string verb, nlohmann::json args) { return result_of(requests::make(verb, args)); }

nlohmann::json Client::ping() { return result_of(requests::ping()); }
nlohmann::json Client::workers() { return result_of(requests::workers()); }
nlohmann::json Client::stats() { return result_of(requests::stats()); }
nlohmann::json Client::kernels() { return result_of(requests::kernels()); }
nlohmann::json Client::shutdown() { return result_of(requests::shutdown()); }

nlohmann::json Client::put_fd(const std::string& name, int fd) {
    return reply_result(request(requests::put_fd(name), fd));
}

nlohmann::json Client::put_file(const std::string& name, const std::string& path) {
    return result_of(requests::put_file(name, path));
}

nlohmann::json Client::put_shm(const std::string& name, const std::string& shm_name, const std::string& dtype,
                               const std::vector<uint64_t>& shape) {
    return result_of(requests::put_shm(name, shm_name, dtype, shape));
}

nlohmann::json Client::put_data(const std::string& name, const nlohmann::json& data, const std::string& dtype) {
    return result_of(requests::put_data(name, data, dtype));
}

nlohmann::json Client::info(const std::string& name) { return result_of(requests::info(name)); }
nlohmann::json Client::list() { return result_of(requests::list()); }
nlohmann::json Client::remove(const std::string& name) { return result_of(requests::remove(name)); }

nlohmann::json Client::share(const std::string& name, const std::vector<std::string>& targets) {
    return result_of(requests::share(name, targets));
}

nlohmann::json Client::unshare(const std::string& name, const std::vector<std::string>& targets) {
    return result_of(requests::unshare(name, targets));
}
nlohmann::json Client::save(const std::string& name, const std::string& path) {
    return result_of(requests::save(name, path));
}
nlohmann::json Client::get(const std::string& name) { return result_of(requests::get(name)); }

OpenedDataset Client::open(const std::string& name) {
    nlohmann::json id = send(requests::open(name));
    nlohmann::json reply = receive(id);
    auto fd = passed_fds_.extract(id);
    nlohmann::json info = reply_result(reply);
    if (fd.empty()) throw ConnectError("the daemon answered dataset.open of '" + name + "' without a descriptor");
    return {std::move(info), std::move(fd.mapped())};
}

nlohmann::json Client::submit(const JobRequest& job) { return result_of(requests::submit(job)); }
nlohmann::json Client::status(uint64_t job) { return result_of(requests::status(job)); }
nlohmann::json Client::wait(uint64_t job, bool progress) { return result_of(requests::wait(job, progress)); }
nlohmann::json Client::cancel(uint64_t job) { return result_of(requests::cancel(job)); }

}  // namespace shmpool
