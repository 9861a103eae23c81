"""Sweeps: one recipe trained at several numbers of examples, as ordinary queued runs, measured together."""
