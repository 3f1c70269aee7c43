"""Many recordings at once: the DuckDB index of a home's runs, search, timelines,
concepts and their graph across a collection.

Reads the runs' artifacts through the pipeline layer; the pipeline tells it of each
completed run through ``on_run_completed`` (wired in ``pipeline_kit/__init__``).
"""
