"""The bottom layer: what every other layer shares, importing nothing of the package.

Files written atomically (``_fs``), the CPU threads an engine may use (``_threads``),
the one progress type that flows from a stage to every renderer (``_progress``),
declared parameters (``_params``), offline model resolution (``_models``) and the
small text helpers of every record's summary (``_reprs``).
"""
