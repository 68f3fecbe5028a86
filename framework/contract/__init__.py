"""The component contract: what a generator, initializer, optimizer or diagnostic is.

The base classes plugins subclass (``components``, ``diagnostic``), their parameter schemas
(``Params``, ``PipelinePath``, ``SparseScheduleParams``) and how schemas and their errors are
described in words (``parameters``, ``messages``); the claim contract (``claim``) and what a
claim sees: a store's view (``store_view``, ``reductions``, ``store_names``) and its verdicts.

Imports: the engine only (and third-party numerics: xarray for the store view).
"""
