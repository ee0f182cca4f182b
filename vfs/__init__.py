"""The virtual filesystem: abstract inodes and open files, mounts, one resolver, filesystems."""
