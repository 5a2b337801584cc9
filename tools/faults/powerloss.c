// powerloss: an LD_PRELOAD library that keeps, next to each watched file, the image a power cut
// would leave of it — for the power-loss tests (Tests/FascicoloLedgerTests/PowerLossTests.swift).
//
// A SIGKILL loses nothing the process wrote: the page cache keeps it. A power cut loses every
// write not yet synced. This shim watches the descriptors whose path ends in one of the suffixes
// of POWERLOSS_FILE (default "/data.mdb"; several separated by ':', e.g.
// "/data.mdb:/data.journal" for the commit journal) and maintains each file's image as of its
// last sync in a file next to it, "<file>.durable": a write (pwrite, write, writev, pwritev) is
// held in memory until an fdatasync or fsync of that file succeeds, then applied to that file's
// image; a write through a descriptor opened with O_DSYNC or O_SYNC (LMDB writes its meta page
// that way) is applied at once. An image starts as a copy of its file the first time the file is
// written (or empty). After the process is killed, replacing each file by its image is a power
// cut at that moment. Writes are assumed atomic per call (LMDB assumes a page written whole);
// torn pages are not simulated. With POWERLOSS_SYNC_KEEPS_NOTHING=1, syncs keep nothing: a disk
// that lies (the tests' own check that a lost acknowledgement is noticed). With
// POWERLOSS_WRITEBACK_PERCENT=N, each unsynced write also reaches the image at once with
// probability N%: the kernel writing dirty pages back early, in any order — a meta page before
// the pages it names, a reused page over a snapshot that a crash would fall back to.
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

#define WATCHED_MAX 4

// One watched file: its suffix, its image, and the writes not yet synced.
struct watch {
    char suffix[256];
    char imagePath[PATH_MAX];
    int image;
    struct pending *held;
    size_t heldCount, heldCapacity;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int configured = 0, syncKeepsNothing = 0, writebackPercent = 0;
static unsigned int writebackSeed = 1;
static struct watch watches[WATCHED_MAX];
static int watchCount = 0;

static void configure(void) {
    if (configured) return;
    configured = 1;
    const char *value = getenv("POWERLOSS_FILE");
    char list[1024];
    snprintf(list, sizeof list, "%s", value ? value : "/data.mdb");
    for (char *save = NULL, *item = strtok_r(list, ":", &save); item && watchCount < WATCHED_MAX; item = strtok_r(NULL, ":", &save)) {
        struct watch *watch = &watches[watchCount++];
        snprintf(watch->suffix, sizeof watch->suffix, "%s", item);
        watch->image = -1;
    }
    if ((value = getenv("POWERLOSS_SYNC_KEEPS_NOTHING"))) syncKeepsNothing = atoi(value);
    if ((value = getenv("POWERLOSS_WRITEBACK_PERCENT"))) writebackPercent = atoi(value);
    writebackSeed = (unsigned int)getpid();
}

// The watch of `fd`'s file, or NULL; `path` receives the file's path. Takes the lock's place in
// configuration, so it is called with `lock` held.
static struct watch *watched(int fd, char *path) {
    configure();
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, path, PATH_MAX - 1);
    if (length <= 0) return NULL;
    path[length] = 0;
    for (int index = 0; index < watchCount; index++) {
        size_t count = strlen(watches[index].suffix);
        if ((size_t)length >= count && !strcmp(path + length - count, watches[index].suffix)) return &watches[index];
    }
    return NULL;
}

static void writeImage(struct watch *watch, off_t offset, const char *bytes, size_t size) {
    REAL(pwrite, pwrite_f);
    while (size > 0) {
        ssize_t done = real_pwrite(watch->image, bytes, size, offset);
        if (done <= 0) { perror("powerloss: writing the image"); abort(); }
        bytes += done; size -= (size_t)done; offset += done;
    }
}

// Opens the image the first time the file is written: a copy of the file as it is then.
static void openImage(struct watch *watch, const char *path) {
    if (watch->image >= 0) return;
    REAL(pread, pread_f);
    snprintf(watch->imagePath, sizeof watch->imagePath, "%s.durable", path);
    watch->image = open(watch->imagePath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (watch->image < 0) { perror("powerloss: creating the image"); abort(); }
    int source = open(path, O_RDONLY | O_CLOEXEC);
    if (source < 0) return;
    char buffer[65536];
    off_t offset = 0;
    ssize_t count;
    while ((count = real_pread(source, buffer, sizeof buffer, offset)) > 0) {
        writeImage(watch, offset, buffer, (size_t)count);
        offset += count;
    }
    close(source);
}

// After a write of `size` bytes at `offset` through `fd` succeeded.
static void wrote(int fd, off_t offset, const struct iovec *vector, int count, size_t size) {
    char path[PATH_MAX];
    if (size == 0) return;
    pthread_mutex_lock(&lock);
    struct watch *watch = watched(fd, path);
    if (!watch) { pthread_mutex_unlock(&lock); return; }
    int flags = fcntl(fd, F_GETFL);
    openImage(watch, path);
    int synchronous = flags >= 0 && (flags & (O_DSYNC | O_SYNC)) && !syncKeepsNothing;
    for (int index = 0; index < count && size > 0; index++) {
        size_t part = vector[index].iov_len < size ? vector[index].iov_len : size;
        if (synchronous) {
            writeImage(watch, offset, vector[index].iov_base, part);
        } else {
            if (watch->heldCount == watch->heldCapacity) {
                watch->heldCapacity = watch->heldCapacity ? watch->heldCapacity * 2 : 64;
                watch->held = realloc(watch->held, watch->heldCapacity * sizeof *watch->held);
            }
            char *copy = malloc(part);
            memcpy(copy, vector[index].iov_base, part);
            watch->held[watch->heldCount++] = (struct pending){offset, part, copy};
            // Written back early (still applied again, in order, at the next sync).
            if (writebackPercent > 0 && (int)(rand_r(&writebackSeed) % 100) < writebackPercent)
                writeImage(watch, offset, vector[index].iov_base, part);
        }
        offset += (off_t)part;
        size -= part;
    }
    pthread_mutex_unlock(&lock);
}

// After a successful fdatasync or fsync of `fd`: everything written to the file so far is kept.
static void synced(int fd) {
    char path[PATH_MAX];
    pthread_mutex_lock(&lock);
    struct watch *watch = watched(fd, path);
    if (!watch) { pthread_mutex_unlock(&lock); return; }
    openImage(watch, path);
    for (size_t index = 0; index < watch->heldCount; index++) {
        if (!syncKeepsNothing) writeImage(watch, watch->held[index].offset, watch->held[index].bytes, watch->held[index].size);
        free(watch->held[index].bytes);
    }
    watch->heldCount = 0;
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
