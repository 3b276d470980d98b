"""Caveat: a claim-tracking knowledge base for AI-safety evaluation results and the statements that report them.

The package follows the pipeline: load -> validate -> graph / database -> check -> publish.
"""

import sys
from importlib.abc import Loader, MetaPathFinder

__version__ = "0.1.0"


class _ThincWithoutTorch(MetaPathFinder):
    """Hides torch from thinc (under spaCy) while thinc's compatibility module runs.

    thinc imports torch whenever it is installed, for GPU layers the checker never uses; that import alone costs a
    cold `kb check` seconds. Only thinc.compat is affected: torch stays importable everywhere else (fitting the
    encoder, the torch fallback), and thinc then treats torch as absent, as it would on a machine without it.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "thinc.compat":
            return None
        for finder in sys.meta_path:
            spec = None if finder is self else finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _LoaderWithoutTorch(spec.loader)
                return spec
        return None


class _LoaderWithoutTorch(Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        hidden = sys.modules.get("torch")
        sys.modules["torch"] = None  # `import torch` raises ImportError, which thinc.compat handles
        try:
            self.loader.exec_module(module)
        finally:
            if hidden is None:
                del sys.modules["torch"]
            else:
                sys.modules["torch"] = hidden

    def __getattr__(self, name):  # get_source and the like, for tracebacks
        return getattr(self.loader, name)


if not any(isinstance(finder, _ThincWithoutTorch) for finder in sys.meta_path):
    sys.meta_path.insert(0, _ThincWithoutTorch())
