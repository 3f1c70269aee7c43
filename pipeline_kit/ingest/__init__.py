"""Getting audio in: chunked uploads, validation, the audio library and decoding.

Knows no analysis; the stages decode their input through ``_audio`` and name it by
the content hash ``_upload`` computes.
"""
