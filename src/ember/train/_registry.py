"""The name tables of ``compile``: ``losses.py`` and ``metrics.py`` each keep one."""

__all__ = ["lookup"]


def lookup(registry, identifier, what, alternatives):
    """The entry of ``registry`` named ``identifier`` (as spelled, else in lower case); an unknown
    name raises ValueError listing the known ones and ``alternatives`` (what else compile takes)."""
    key = identifier if identifier in registry else identifier.lower()
    if key not in registry:
        raise ValueError(f"compile: unknown {what} {identifier!r}; known names: "
                         f"{', '.join(sorted(registry))} ({alternatives})")
    return registry[key]
