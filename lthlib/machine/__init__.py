"""The machine wing: everything that depends on where the code runs.

    platform   directories and their environment variables, device, workers, CPU threads,
               CUDA determinism (the only module that reads the environment)
    files      atomic writes; JSON, text and torch files; CPU state dicts
    executor   the executor interface (map payloads to results) and its local backend: worker
               processes on this machine that never re-import the caller's script

May import: :mod:`lthlib.core`.
"""
