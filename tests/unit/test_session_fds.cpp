// Unit tests of a Session's replies that carry a descriptor (SCM_RIGHTS), over a socketpair with
// a tiny send buffer, so the reply meets a full socket: order, one descriptor each, none kept.
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/fd_passing.h"
#include "common/unique_fd.h"
#include "server/api/session.h"

namespace {

using shmpool::Session;
using shmpool::UniqueFd;

size_t open_fd_count() {
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

ino_t inode_of(int fd) {
    struct stat st {};
    REQUIRE(fstat(fd, &st) == 0);
    return st.st_ino;
}

// The client's end: reads in small pieces (so the daemon's side stays full), keeping the lines
// and, for each descriptor, the index of the line it arrived in.
struct Reader {
    int sock;
    std::string bytes;
    std::vector<std::pair<size_t, UniqueFd>> fds;  // (line index at arrival, descriptor)

    bool read_some() {
        char buf[512];
        size_t lines_before = static_cast<size_t>(std::count(bytes.begin(), bytes.end(), '\n'));
        ssize_t n = shmpool::receive_with_fds(sock, buf, sizeof buf, 4,
                                              [&](int fd) { fds.emplace_back(lines_before, UniqueFd(fd)); },
                                              MSG_DONTWAIT);
        if (n > 0) bytes.append(buf, static_cast<size_t>(n));
        return n > 0;
    }
};

}  // namespace

TEST_CASE("descriptor replies behind a full socket arrive in order, one each, and are closed", "[session]") {
    boost::asio::io_context io;
    Session::Socket daemon_end(io), client_end(io);
    boost::asio::local::connect_pair(daemon_end, client_end);
    int tiny = 1;  // the kernel rounds it up to its minimum
    REQUIRE(setsockopt(daemon_end.native_handle(), SOL_SOCKET, SO_SNDBUF, &tiny, sizeof tiny) == 0);
    size_t fds_before = open_fd_count();

    auto session = std::make_shared<Session>(
        std::move(daemon_end), 1 << 20, [](const std::shared_ptr<Session>&, std::string_view) {},
        [](const std::shared_ptr<Session>&) {}, [](uint64_t) {});
    UniqueFd object(memfd_create("shmpool-unit", MFD_CLOEXEC));
    REQUIRE(object);
    ino_t object_inode = inode_of(object.get());

    const std::string padding(200000, 'x');
    const int kRounds = 6;
    for (int i = 0; i < kRounds; ++i) {
        session->send({{"id", 2 * i}, {"pad", padding}});
        session->send_with_fd({{"id", 2 * i + 1}, {"fd", true}}, UniqueFd(dup(object.get())));
    }
    CHECK(session->fds_unsent() >= 1);

    Reader reader{client_end.native_handle(), {}, {}};
    for (int idle = 0; idle < 2000 && std::count(reader.bytes.begin(), reader.bytes.end(), '\n') < 2 * kRounds;) {
        io.poll();
        io.restart();
        idle = reader.read_some() ? 0 : idle + 1;
    }
    REQUIRE(std::count(reader.bytes.begin(), reader.bytes.end(), '\n') == 2 * kRounds);
    REQUIRE(reader.fds.size() == kRounds);
    for (int i = 0; i < kRounds; ++i) {
        // the descriptor came with the first bytes of line 2i+1: after line 2i began arriving
        CHECK(reader.fds[i].first <= static_cast<size_t>(2 * i + 1));
        CHECK(reader.fds[i].first >= static_cast<size_t>(2 * i));
        CHECK(inode_of(reader.fds[i].second.get()) == object_inode);
    }
    CHECK(session->fds_unsent() == 0);
    reader.fds.clear();
    object.reset();
    session->close();
    session.reset();
    client_end.close();
    io.poll();
    CHECK(open_fd_count() == fds_before - 2);  // the pair's two ends are gone, and nothing else is left
}
