"""The plugin system: hooks, discovery and the registry of components.

The hook specifications (``hookspecs``: every hook a plugin may implement), the pluggy
manager that finds plugins by entry point, by module name or as objects (``registry``), the
listing of ``overparam plugins`` (``listing``), and the running checks of a component
against its contract (``contract_check``, ``ensemble_check``).

Imports: the engine and the contract.
"""
