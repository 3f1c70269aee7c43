"""Pure analyses and their records: transcription, diarization, chunking, concept
graph, chapters and questions, each a plain function of its inputs and parameters.

Stages know no task manager, cache or display: they report through the
:class:`~pipeline_kit.base._progress.Progress` they are given.
"""
