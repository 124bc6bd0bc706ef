"""The ``seqtext`` command line: thin click wrappers over the library (installed as seqtext.cli)."""
