"""Platform adapters (installed as helpforce.adapters): the only code that imports a platform SDK.

The core finds them through the ``helpforce.adapters`` entry point group; see
:mod:`helpforce.adapter` for the contract.
"""

if __name__ != "helpforce.adapters":  # pragma: no cover - a guard, not a feature
    raise ImportError(
        f"import this package as helpforce.adapters, not {__name__!r} "
        "(a second copy of the module would have its own state)"
    )
