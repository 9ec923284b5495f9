// Micro-benchmark of the fresh-output-page floor on tmpfs (/dev/shm): one or two processes
// getting a new segment's pages in different ways, against anonymous memory; medians of runs.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

enum { kChunk = 2 << 20 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(const char* what) {
    perror(what);
    exit(1);
}

// Populates this process' share of a mapping: contiguous half, or every other 2 MB chunk.
static void populate_share(char* p, size_t bytes, int who, int procs, int interleave) {
    if (procs == 1) {
        if (madvise(p, bytes, MADV_POPULATE_WRITE)) die("madvise");
        return;
    }
    if (!interleave) {
        size_t half = bytes / 2 / 4096 * 4096, first = who ? half : 0, last = who ? bytes : half;
        if (madvise(p + first, last - first, MADV_POPULATE_WRITE)) die("madvise");
        return;
    }
    for (size_t off = (size_t)who * kChunk; off < bytes; off += 2 * kChunk) {
        size_t len = off + kChunk > bytes ? bytes - off : kChunk;
        if (madvise(p + off, len, MADV_POPULATE_WRITE)) die("madvise");
    }
}

// One run of a method; returns seconds from creation to the segment being gone again.
static double run(const char* method, size_t bytes) {
    double t0 = now();
    if (!strcmp(method, "anon")) {
        char* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) die("mmap");
        if (madvise(p, bytes, MADV_POPULATE_WRITE)) die("madvise");
        munmap(p, bytes);
        return now() - t0;
    }
    char name[64];
    int reuse = strstr(method, "reuse") != NULL;  // the segment and its pages outlive the run
    snprintf(name, sizeof name, "/pagefloor.%s.%d", reuse ? "kept" : "new", getpid());
    int fd = shm_open(name, O_CREAT | (reuse ? 0 : O_EXCL) | O_RDWR, 0600);
    if (fd < 0) die("shm_open");
    if (ftruncate(fd, (off_t)bytes)) die("ftruncate");
    int procs = strstr(method, "2p") ? 2 : 1, interleave = strstr(method, "interleave") != NULL;
    if (strstr(method, "fallocate") && posix_fallocate(fd, 0, (off_t)bytes)) die("posix_fallocate");
    int flags = MAP_SHARED | (strstr(method, "map_populate") ? MAP_POPULATE : 0);
    pid_t child = -1;
    if (procs == 2 && (child = fork()) < 0) die("fork");
    int who = child == 0;
    char* p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (p == MAP_FAILED) die("mmap");
    if (!strstr(method, "map_populate")) populate_share(p, bytes, who, procs, interleave);
    munmap(p, bytes);
    if (child == 0) _exit(0);
    if (child > 0 && waitpid(child, NULL, 0) < 0) die("waitpid");
    close(fd);
    if (!reuse) shm_unlink(name);
    return now() - t0;
}

static int by_value(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

int main(int argc, char** argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MB REPEATS METHOD...\n"
                        "methods: anon, 1p, 2p, 2p_interleave, fallocate_1p, fallocate_2p, map_populate_1p,\n"
                        "reuse_1p, reuse_2p (an existing segment's pages, mapped again)\n", argv[0]);
        return 2;
    }
    size_t bytes = (size_t)(atof(argv[1]) * 1e6) / 4096 * 4096;
    int repeats = atoi(argv[2]);
    double times[64];
    if (repeats < 1 || repeats > 64) return 2;
    for (int m = 3; m < argc; ++m) {
        for (int r = 0; r < repeats; ++r) times[r] = run(argv[m], bytes);
        if (strstr(argv[m], "reuse")) {  // its first run made the pages; the segment goes now
            char name[64];
            snprintf(name, sizeof name, "/pagefloor.kept.%d", getpid());
            shm_unlink(name);
        }
        qsort(times, (size_t)repeats, sizeof times[0], by_value);
        printf("%-16s %8.1f MB  median %.3f s  min %.3f s  (%d runs)\n", argv[m], bytes / 1e6,
               times[repeats / 2], times[0], repeats);
    }
    return 0;
}
