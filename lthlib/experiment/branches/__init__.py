"""The strategies an arm composes: how a level's mask is chosen, and where its survivors start.

    context       what a strategy may read at one level (θ0, θk, the dense run, its own earlier
                  levels, its trunk's context, seeds), handed over by the runner
    mask_sources  one class per way of choosing a mask: IMP on its own weights, the trunk's
                  mask, a random one, a score at initialisation, the early-bird mask, a
                  transferred one
    starts        one class per starting point: θ0, θk, the end of dense training, the previous
                  level's weights, a fresh draw, the trunk's θ0

An arm (:mod:`lthlib.experiment.arms`) is one mask strategy and one start strategy; the runner
asks them and never names an arm.  OpenLTH calls the arms that take a trunk's mask *branches*.
"""
