"""Caveat: a claim-tracking knowledge base for AI-safety evaluation results and the statements that report them.

The package follows the pipeline: load -> validate -> graph / database -> check -> publish.
"""

__version__ = "0.1.0"
