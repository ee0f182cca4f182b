"""The policy engine (arrives with the security-policy issue): runs at syscall entry on decoded
arguments, before any handler, and costs nothing when no policy is loaded."""
