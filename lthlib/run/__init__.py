"""The running-elsewhere wing: a borrowed GPU machine, and clusters.

    deviations  what a command's configurations change from their profile's, and why
    campaign    prioritised, resumable work under a time budget
    carry       the data a bare machine needs, in one folder under a size limit
    bundle      the tables (not the weights) a machine hands back, and their import
    executors   the grid on a Ray cluster or on Slurm (submitit), chosen by name (ray, submitit lazy)
    submitit_task  what a Slurm job runs (imported only by executors; imports submitit)

May import: :mod:`lthlib.core`, :mod:`lthlib.machine`, :mod:`lthlib.data`, :mod:`lthlib.nets`,
:mod:`lthlib.experiment`.
"""
