// faultshim: an LD_PRELOAD library that makes the writes and syncs of one file fail on cue,
// for the fault-injection tests (Tests/FascicoloLedgerTests/FaultInjectionTests.swift).
//
// Only calls on descriptors whose path ends in FAULT_FILE (default "/data.mdb") count. The
// FAULT_AT-th such call of the kinds in FAULT_OPS (comma-separated: pwrite, write, writev,
// pwritev, fdatasync, fsync, pread, read; default all but the reads) fails with FAULT_ERRNO (EIO, ENOSPC or EDQUOT;
// default EIO) — and, with FAULT_COUNT=n, the n-1 calls after it too (FAULT_COUNT=0: every call
// from then on, a disk that stays full). With FAULT_SHORT=1 a failing write first writes half
// of its bytes and returns that count (a short write) instead of failing outright. With
// FAULT_WHILE=path, calls fail only while that path exists (a disk that fills, then frees up).
// Build: cc -shared -fPIC -O1 -o faultshim.so faultshim.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long calls = 0;
static long at = -1, count = 1;
static int fault_errno = EIO, shortWrites = 0, configured = 0;
static char ops[256] = "pwrite,write,writev,pwritev,fdatasync,fsync";
static char file[256] = "/data.mdb";
static char whilePath[PATH_MAX] = "";

static void configure(void) {
    if (configured) return;
    configured = 1;
    const char *value;
    if ((value = getenv("FAULT_AT"))) at = atol(value);
    if ((value = getenv("FAULT_COUNT"))) count = atol(value);
    if ((value = getenv("FAULT_OPS"))) snprintf(ops, sizeof ops, "%s", value);
    if ((value = getenv("FAULT_FILE"))) snprintf(file, sizeof file, "%s", value);
    if ((value = getenv("FAULT_SHORT"))) shortWrites = atoi(value);
    if ((value = getenv("FAULT_WHILE"))) snprintf(whilePath, sizeof whilePath, "%s", value);
    if ((value = getenv("FAULT_ERRNO"))) {
        if (!strcmp(value, "ENOSPC")) fault_errno = ENOSPC;
        else if (!strcmp(value, "EDQUOT")) fault_errno = EDQUOT;
        else fault_errno = EIO;
    }
}

static int watched(int fd) {
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, path, sizeof path - 1);
    if (length <= 0) return 0;
    path[length] = 0;
    size_t suffix = strlen(file);
    return (size_t)length >= suffix && !strcmp(path + length - suffix, file);
}

static int listed(const char *op) {
    char copy[256];
    snprintf(copy, sizeof copy, "%s", ops);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save))
        if (!strcmp(item, op)) return 1;
    return 0;
}

// Whether this call fails: counts the watched calls of the listed kinds.
static int failing(const char *op, int fd) {
    pthread_mutex_lock(&lock);
    configure();
    int fail = 0;
    if (at > 0 && listed(op) && watched(fd)) {
        calls++;
        fail = calls >= at && (count == 0 || calls < at + count) && (!whilePath[0] || access(whilePath, F_OK) == 0);
        if (fail) fprintf(stderr, "faultshim: %s #%ld fails with errno %d\n", op, calls, fault_errno);
    }
    pthread_mutex_unlock(&lock);
    return fail;
}

typedef ssize_t (*pwrite_f)(int, const void *, size_t, off_t);
typedef ssize_t (*write_f)(int, const void *, size_t);
typedef ssize_t (*writev_f)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_f)(int, const struct iovec *, int, off_t);
typedef int (*sync_f)(int);
typedef ssize_t (*pread_f)(int, void *, size_t, off_t);
typedef ssize_t (*read_f)(int, void *, size_t);
#define REAL(name, type) static type real_##name; if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

ssize_t pwrite(int fd, const void *buffer, size_t size, off_t offset) {
    REAL(pwrite, pwrite_f);
    if (failing("pwrite", fd)) {
        if (shortWrites && size > 1) return real_pwrite(fd, buffer, size / 2, offset);
        errno = fault_errno;
        return -1;
    }
    return real_pwrite(fd, buffer, size, offset);
}

ssize_t pwrite64(int fd, const void *buffer, size_t size, off_t offset) { return pwrite(fd, buffer, size, offset); }

ssize_t write(int fd, const void *buffer, size_t size) {
    REAL(write, write_f);
    if (failing("write", fd)) {
        if (shortWrites && size > 1) return real_write(fd, buffer, size / 2);
        errno = fault_errno;
        return -1;
    }
    return real_write(fd, buffer, size);
}

ssize_t writev(int fd, const struct iovec *vector, int count_) {
    REAL(writev, writev_f);
    if (failing("writev", fd)) {
        if (shortWrites && count_ > 1) return real_writev(fd, vector, count_ / 2);
        errno = fault_errno;
        return -1;
    }
    return real_writev(fd, vector, count_);
}

ssize_t pwritev(int fd, const struct iovec *vector, int count_, off_t offset) {
    REAL(pwritev, pwritev_f);
    if (failing("pwritev", fd)) {
        if (shortWrites && count_ > 1) return real_pwritev(fd, vector, count_ / 2, offset);
        errno = fault_errno;
        return -1;
    }
    return real_pwritev(fd, vector, count_, offset);
}

ssize_t pwritev64(int fd, const struct iovec *vector, int count_, off_t offset) { return pwritev(fd, vector, count_, offset); }

int fdatasync(int fd) {
    REAL(fdatasync, sync_f);
    if (failing("fdatasync", fd)) { errno = fault_errno; return -1; }
    return real_fdatasync(fd);
}

int fsync(int fd) {
    REAL(fsync, sync_f);
    if (failing("fsync", fd)) { errno = fault_errno; return -1; }
    return real_fsync(fd);
}

// Reads: LMDB reads its pages through the map (a failing page-in is a SIGBUS, which no shim can
// make), but it reads the meta pages at open with pread; a failing or short read there must be
// an error, never a crash.
ssize_t pread(int fd, void *buffer, size_t size, off_t offset) {
    REAL(pread, pread_f);
    if (failing("pread", fd)) {
        if (shortWrites && size > 1) return real_pread(fd, buffer, size / 2, offset);
        errno = fault_errno;
        return -1;
    }
    return real_pread(fd, buffer, size, offset);
}

ssize_t pread64(int fd, void *buffer, size_t size, off_t offset) { return pread(fd, buffer, size, offset); }

ssize_t read(int fd, void *buffer, size_t size) {
    REAL(read, read_f);
    if (failing("read", fd)) {
        if (shortWrites && size > 1) return real_read(fd, buffer, size / 2);
        errno = fault_errno;
        return -1;
    }
    return real_read(fd, buffer, size);
}
