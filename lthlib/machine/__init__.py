"""The machine wing: everything that depends on where the code runs.

    platform   directories and their environment variables, device, workers, CPU threads,
               CUDA determinism (the only module that reads the environment)
    files      atomic writes; JSON, text and torch files; CPU state dicts
    executors  where work runs, chosen by name (``make_executor``): worker processes on this
               machine that never re-import the caller's script, Ray, Slurm (ray, submitit lazy)

May import: :mod:`lthlib.core`.
"""
