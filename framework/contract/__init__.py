"""The component contract: what a generator, initializer, optimizer or diagnostic is.

The base classes plugins subclass (``components``, ``diagnostic``), their parameter schemas
(``Params``, ``PipelinePath``, ``SparseScheduleParams``) and how schemas and their errors are
described in words (``parameters``, ``messages``).

Imports: the engine only.
"""
