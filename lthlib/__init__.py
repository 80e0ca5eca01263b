"""lthlib: the Lottery Ticket Hypothesis on text classification.

One folder per idea (a *wing*); each wing imports only the wings above it in this list, and no
module imports itself back through a circle (``tests/test_architecture.py`` checks both):

    core        typed settings, run keys and fingerprints; the parameters and their one parser;
                registries (datasets, models, arms, profiles)
    machine     directories and environment variables, device, workers, threads, determinism;
                atomic files; worker processes
    data        official files, dataset entries, tokenizer/vocabulary/processed cache, GloVe
    nets        model entries; masks (scores -> masks, the one place); SNIP/GraSP/SynFlow
                scores; early-bird; layer collapse
    experiment  arm entries, profiles, the training loop, the store, the runner (one
                configuration, level by level) and the grid (the cells of a selection)
    run         work for a borrowed machine: deviations, campaign, carry, bundle; Ray and Slurm
    deploy      a stored ticket in deployable forms (``lth export``) and what it saves
    report      what the notebooks call: results, stats, labels, tables, figures, narrative,
                verdicts; rendering the report (from tidy tables; never imports ``run`` or ``deploy``)
    cli         the ``lth`` command, one module per subcommand, on top of them all

``run``, ``deploy`` and ``report`` sit side by side: none imports another.  Each wing's
``__init__`` names its modules (``tests/test_architecture.py`` checks that too).

Importing lthlib sets the portable CPU settings before any tensor operation can run
(:func:`lthlib.machine.platform.use_portable_cpu`; ``LTH_PORTABLE_CPU=0`` turns them off).
"""
from .machine import platform as _platform

__version__ = "0.1.0"
_platform.use_portable_cpu()
