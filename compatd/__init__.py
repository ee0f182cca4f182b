"""compatd: a Linux kernel personality in Python, running real x86-64 programs under ptrace."""

__version__ = "0.1.0"
