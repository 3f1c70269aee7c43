"""The faces over the core: the ``pipeline-kit`` command line (``cli``) and the
optional FastAPI service (``api``). The notebooks in ``notebooks/`` are the third.
"""
