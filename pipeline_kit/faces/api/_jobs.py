"""Task functions the API submits; importable without FastAPI, with JSON arguments only.

The task manager stores them as ``module:qualname`` plus JSON arguments, so
``POST /tasks/{id}/retry`` (or ``pipeline-kit retry``) can run them again in any process.
"""

from __future__ import annotations

from typing import Any

from pipeline_kit.base._progress import Progress
from pipeline_kit.ingest._upload import AudioLibrary


def process_upload_job(root: str, upload_id: str, progress: Progress | None = None
                       ) -> dict[str, Any]:
    """Stage AUDIO_UPLOAD_PROCESSING for one upload of the library at ``root``.

    Returns the completed audio record as a dict (the task's ``result_data``).
    """
    # Bytes came over the network: hashing them costs little beside that, and the
    # record's sha256 identifies the audio (and its pipeline runs) from then on.
    library = AudioLibrary(root, hash_uploads=True)
    return library.process_upload(upload_id, progress=progress).to_dict()
