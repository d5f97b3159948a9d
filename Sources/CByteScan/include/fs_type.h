// The file system type of an open file (statfs(2) f_type), which Glibc's Swift module does not
// expose: tells local file systems, whose writes inotify reports, from network and FUSE ones.
#ifndef AIMON_FS_TYPE_H
#define AIMON_FS_TYPE_H

#include <stdint.h>
#include <sys/vfs.h>

/// The f_type of the file system holding `fd`; 0 when fstatfs fails.
static inline uint64_t aimon_fs_type(int fd) {
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0) return 0;
    return (uint64_t)(uint32_t)fs.f_type;
}

#endif
