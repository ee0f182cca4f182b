"""The kernel model: tasks, thread groups, fd tables, filesystem contexts, credentials, the loop.

It never imports ctypes or ptrace: a platform object is handed in, so unit tests drive it
with a fake one.
"""
