// Descriptors across a Unix stream socket (SCM_RIGHTS): one sent with the first bytes of a
// message, any received with the bytes they came with. Shared by the daemon and the clients.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>

namespace shmpool {

// sendmsg of [data, data + size) with `fd` attached (MSG_NOSIGNAL | `flags`); returns what
// sendmsg returns. The descriptor travels once, with the first byte sent.
ssize_t send_with_fd(int sock, const char* data, size_t size, int fd, int flags = 0);

// recvmsg into [data, data + size) (MSG_CMSG_CLOEXEC | `flags`); every descriptor received
// is handed to `on_fd`, which owns it. Returns what recvmsg returns. At most `max_fds`
// descriptors are taken per call (the kernel closes any beyond the control buffer).
ssize_t receive_with_fds(int sock, char* data, size_t size, size_t max_fds, const std::function<void(int)>& on_fd,
                         int flags = 0);

}  // namespace shmpool
