"""The component contract: what a generator, initializer, optimizer or diagnostic is.

The base classes plugins subclass (``components``, ``diagnostic``), their parameter schemas
(``Params``, ``PipelinePath``, ``SparseScheduleParams``) and how schemas and their errors are
described in words (``parameters``, ``messages``); the claim contract (``claim``) and what a
claim sees: a store's view (``store_view``, ``reductions``, ``store_names``) and its verdicts;
the store's layout (``store_layout``) and what a run reports (``run_records``: a point's
result, the run's summary, and the protocols the lifecycle hooks name their arguments by).

Imports: the engine only (and third-party numerics: xarray for the store view).
"""
