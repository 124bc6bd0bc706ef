"""seqtext: recurrent-network text models you can train, generate, tag and classify with.

Importing the package is cheap: torch and the model code load on first use, so that
``seqtext --help`` answers at once.
"""

__version__ = "0.1.0"

__all__ = ["load", "list_models", "evaluate_files", "SeqtextError", "__version__"]


def __getattr__(name):
    if name in ("load", "list_models", "evaluate_files"):
        from seqtext import api

        return getattr(api, name)
    if name == "SeqtextError":
        from seqtext.errors import SeqtextError

        return SeqtextError
    raise AttributeError(f"module 'seqtext' has no attribute {name!r}")
