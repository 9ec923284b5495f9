// Descriptors across a Unix stream socket (SCM_RIGHTS): the sendmsg and recvmsg with their
// control buffers, so no caller builds a cmsghdr by hand.
#include "common/fd_passing.h"

#include <sys/socket.h>

#include <cstring>
#include <vector>

namespace shmpool {

ssize_t send_with_fd(int sock, const char* data, size_t size, int fd, int flags) {
    iovec iov{const_cast<char*>(data), size};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return ::sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
}

ssize_t receive_with_fds(int sock, char* data, size_t size, size_t max_fds, const std::function<void(int)>& on_fd,
                         int flags) {
    std::vector<char> control_buf(CMSG_SPACE(sizeof(int) * max_fds));  // new[]: aligned for cmsghdr
    iovec iov{data, size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control_buf.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
    ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    if (n < 0) return n;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            on_fd(fd);
        }
    }
    return n;
}

}  // namespace shmpool
