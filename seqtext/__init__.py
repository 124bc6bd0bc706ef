"""seqtext: recurrent-network text models you can train, generate, tag and classify with.

Importing the package is cheap: torch and the model code load on first use, so that
``seqtext --help`` answers at once.
"""

from seqtext.errors import SeqtextError

__version__ = "0.1.0"

__all__ = ["load", "list_models", "evaluate_files", "SeqtextError", "__version__"]


def __getattr__(name):
    if name in ("load", "list_models", "evaluate_files"):
        # Deferred: seqtext.api loads torch and every model kind; `import seqtext` must stay cheap.
        from seqtext import api

        return getattr(api, name)
    raise AttributeError(f"module 'seqtext' has no attribute {name!r}")
