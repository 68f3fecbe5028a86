"""Planning: from a pipeline to a validated plan of jobs, before anything is computed.

The stage DAG and every grid point resolved into a ``Job`` (``plan``, ``point_resolver``),
logging schedules (``schedule``), the store's layout (``layout``), which jobs share one
ensemble task (``tasks``) and the text of ``overparam plan`` (``plan_text``).

Imports: the layers below (engine, contract, plugin system, configuration).
"""
