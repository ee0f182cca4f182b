"""The platform: the only code that knows ptrace, seccomp, registers and ctypes.

The kernel model talks to it through ``Platform`` (``compatd.platform.base``) and receives
plain event objects (``compatd.platform.events``); unit tests substitute a fake platform.
"""
