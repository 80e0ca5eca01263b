"""The report wing: what the notebooks call, from tidy tables only (never weights, except the
mask overlaps :mod:`lthlib.report.tables` reads through the store).

    notebook       parameters, training, results; showing and saving tables and figures
    words          a shown table's cells in words, Markdown tables and lists
    results        the store's tables restricted to a grid
    stats          intervals and paired differences
    paired         paired differences of two arms at every level; the level chosen on
                   validation; the declared primary family, Holm-adjusted
    inference      one paired difference's interval and p-values: t over seeds (the unit) with
                   the shared test set's variance added; the old bootstrap, for comparison
    per_class      recall per class and confusion matrices (sklearn) from stored predictions
    labels         how datasets, models and arms are named for a reader
    tables         the report's tables (study view, sound view, overlaps, missing cells)
    figures        the report's figures (a package, one module per subject)
    narrative      the sentences under them
    verdicts       the study's claims against this run, per dataset × model
    stopping       each run's epoch under two stopping rules (best validation loss, the study's;
                   best validation accuracy), and whether the epoch cap stopped it
    learning       does a ticket learn faster (early-stopping epoch, accuracy at fixed epochs);
                   does a verdict depend on the stopping rule (issue #28)
    power          how many seeds: the seeds a paired t-test needs, from a finished run's
                   seed-to-seed spread, and the difference a run's seeds resolve
    ticket_price   what a cheaper ticket costs and buys (notebook 06)
    transfer_verdicts  tickets across datasets: paired differences per pair, the primary family,
                   the verdicts (notebook 07)
    family_verdicts  every model family side by side: the main grid's rows and the family study's
                   (notebook 09)
    savings        what a deployed ticket saves: size and latency tables (notebook 08)
    data_summary   the prepared datasets (notebook 00)
    model_summary  parameters per tensor, prunable or not (notebook 01)
    render         the notebooks executed by papermill into reports/<profile>/, and their HTML
    lab            JupyterLab with the project's settings (``lth lab``)

May import: :mod:`lthlib.core`, :mod:`lthlib.machine`, :mod:`lthlib.data`, :mod:`lthlib.nets`,
:mod:`lthlib.experiment`; never :mod:`lthlib.run`.
"""
