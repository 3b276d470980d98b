"""The context checker: which claims a statement reports, the key conditions it drops, the numbers it misstates.

`load_checker(root)` returns a ready Checker (it loads the embedding model, so import it lazily).
"""


def load_checker(root=None, untrained: bool = False):
    from kb.check.checker import load_checker as _load

    return _load(root, untrained)
