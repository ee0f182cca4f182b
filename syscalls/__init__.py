"""The syscall table (``syscalls.table``) and the handlers, one module per family."""
