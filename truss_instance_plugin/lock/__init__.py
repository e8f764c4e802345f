"""State: the lockfile format, writing it atomically, and comparing it with what the config asks now (drift)."""
