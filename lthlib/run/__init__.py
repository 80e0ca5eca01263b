"""The running-elsewhere wing: a borrowed GPU machine (the clusters' executors are
:mod:`lthlib.machine.executors`).

    deviations  what a command's configurations change from their profile's, and why
    campaign    prioritised, resumable work under a time budget
    carry       the data a bare machine needs, in one folder under a size limit
    bundle      the tables (not the weights) a machine hands back, and their import

May import: :mod:`lthlib.core`, :mod:`lthlib.machine`, :mod:`lthlib.data`, :mod:`lthlib.nets`,
:mod:`lthlib.experiment`.
"""
