// powerloss: an LD_PRELOAD library that keeps, next to one file, the image a power cut would
// leave of it — for the power-loss tests (Tests/FascicoloLedgerTests/PowerLossTests.swift).
//
// A SIGKILL loses nothing the process wrote: the page cache keeps it. A power cut loses every
// write not yet synced. This shim watches the descriptors whose path ends in POWERLOSS_FILE
// (default "/data.mdb") and maintains POWERLOSS_FILE's image as of its last sync in a file next
// to it, "<file>.durable": a write (pwrite, write, writev, pwritev) is held in memory until an
// fdatasync or fsync of that file succeeds, then applied to the image; a write through a
// descriptor opened with O_DSYNC or O_SYNC (LMDB writes its meta page that way) is applied at
// once. The image starts as a copy of the file the first time it is written (or empty). After
// the process is killed, replacing the file by its image is a power cut at that moment.
// Writes are assumed atomic per call (LMDB assumes a page written whole); torn pages are not
// simulated. With POWERLOSS_SYNC_KEEPS_NOTHING=1, syncs keep nothing: a disk that lies (the
// tests' own check that a lost acknowledgement is noticed).
// Build: cc -shared -fPIC -O1 -o powerloss.so powerloss.c -ldl -lpthread
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

typedef ssize_t (*pwrite_f)(int, const void *, size_t, off_t);
typedef ssize_t (*write_f)(int, const void *, size_t);
typedef ssize_t (*writev_f)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_f)(int, const struct iovec *, int, off_t);
typedef ssize_t (*pread_f)(int, void *, size_t, off_t);
typedef int (*sync_f)(int);
#define REAL(name, type) static type real_##name; if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

struct pending {
    off_t offset;
    size_t size;
    char *bytes;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int configured = 0, syncKeepsNothing = 0;
static char suffix[256] = "/data.mdb";
static char imagePath[PATH_MAX] = "";
static int image = -1;
static struct pending *held = NULL;
static size_t heldCount = 0, heldCapacity = 0;

static void configure(void) {
    if (configured) return;
    configured = 1;
    const char *value;
    if ((value = getenv("POWERLOSS_FILE"))) snprintf(suffix, sizeof suffix, "%s", value);
    if ((value = getenv("POWERLOSS_SYNC_KEEPS_NOTHING"))) syncKeepsNothing = atoi(value);
}

// The watched file's path when `fd` is one of its descriptors.
static int watched(int fd, char *path) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, path, PATH_MAX - 1);
    if (length <= 0) return 0;
    path[length] = 0;
    size_t count = strlen(suffix);
    return (size_t)length >= count && !strcmp(path + length - count, suffix);
}

static void writeImage(off_t offset, const char *bytes, size_t size) {
    REAL(pwrite, pwrite_f);
    while (size > 0) {
        ssize_t done = real_pwrite(image, bytes, size, offset);
        if (done <= 0) { perror("powerloss: writing the image"); abort(); }
        bytes += done; size -= (size_t)done; offset += done;
    }
}

// Opens the image the first time the file is written: a copy of the file as it is then.
static void openImage(const char *path) {
    if (image >= 0) return;
    REAL(pread, pread_f);
    snprintf(imagePath, sizeof imagePath, "%s.durable", path);
    image = open(imagePath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (image < 0) { perror("powerloss: creating the image"); abort(); }
    int source = open(path, O_RDONLY | O_CLOEXEC);
    if (source < 0) return;
    char buffer[65536];
    off_t offset = 0;
    ssize_t count;
    while ((count = real_pread(source, buffer, sizeof buffer, offset)) > 0) {
        writeImage(offset, buffer, (size_t)count);
        offset += count;
    }
    close(source);
}

// After a write of `size` bytes at `offset` through `fd` succeeded.
static void wrote(int fd, off_t offset, const struct iovec *vector, int count, size_t size) {
    char path[PATH_MAX];
    if (size == 0 || !watched(fd, path)) return;
    int flags = fcntl(fd, F_GETFL);
    pthread_mutex_lock(&lock);
    configure();
    openImage(path);
    int synchronous = flags >= 0 && (flags & (O_DSYNC | O_SYNC)) && !syncKeepsNothing;
    for (int index = 0; index < count && size > 0; index++) {
        size_t part = vector[index].iov_len < size ? vector[index].iov_len : size;
        if (synchronous) {
            writeImage(offset, vector[index].iov_base, part);
        } else {
            if (heldCount == heldCapacity) {
                heldCapacity = heldCapacity ? heldCapacity * 2 : 64;
                held = realloc(held, heldCapacity * sizeof *held);
            }
            char *copy = malloc(part);
            memcpy(copy, vector[index].iov_base, part);
            held[heldCount++] = (struct pending){offset, part, copy};
        }
        offset += (off_t)part;
        size -= part;
    }
    pthread_mutex_unlock(&lock);
}

// After a successful fdatasync or fsync of `fd`: everything written to the file so far is kept.
static void synced(int fd) {
    char path[PATH_MAX];
    if (!watched(fd, path)) return;
    pthread_mutex_lock(&lock);
    configure();
    openImage(path);
    for (size_t index = 0; index < heldCount; index++) {
        if (!syncKeepsNothing) writeImage(held[index].offset, held[index].bytes, held[index].size);
        free(held[index].bytes);
    }
    heldCount = 0;
    pthread_mutex_unlock(&lock);
}

ssize_t pwrite(int fd, const void *buffer, size_t size, off_t offset) {
    REAL(pwrite, pwrite_f);
    ssize_t done = real_pwrite(fd, buffer, size, offset);
    struct iovec vector = {(void *)buffer, size};
    if (done > 0) wrote(fd, offset, &vector, 1, (size_t)done);
    return done;
}

ssize_t pwrite64(int fd, const void *buffer, size_t size, off_t offset) { return pwrite(fd, buffer, size, offset); }

ssize_t write(int fd, const void *buffer, size_t size) {
    REAL(write, write_f);
    off_t offset = lseek(fd, 0, SEEK_CUR);
    ssize_t done = real_write(fd, buffer, size);
    struct iovec vector = {(void *)buffer, size};
    if (done > 0 && offset >= 0) wrote(fd, offset, &vector, 1, (size_t)done);
    return done;
}

ssize_t writev(int fd, const struct iovec *vector, int count) {
    REAL(writev, writev_f);
    off_t offset = lseek(fd, 0, SEEK_CUR);
    ssize_t done = real_writev(fd, vector, count);
    if (done > 0 && offset >= 0) wrote(fd, offset, vector, count, (size_t)done);
    return done;
}

ssize_t pwritev(int fd, const struct iovec *vector, int count, off_t offset) {
    REAL(pwritev, pwritev_f);
    ssize_t done = real_pwritev(fd, vector, count, offset);
    if (done > 0) wrote(fd, offset, vector, count, (size_t)done);
    return done;
}

ssize_t pwritev64(int fd, const struct iovec *vector, int count, off_t offset) { return pwritev(fd, vector, count, offset); }

int fdatasync(int fd) {
    REAL(fdatasync, sync_f);
    int result = real_fdatasync(fd);
    if (result == 0) synced(fd);
    return result;
}

int fsync(int fd) {
    REAL(fsync, sync_f);
    int result = real_fsync(fd);
    if (result == 0) synced(fd);
    return result;
}
