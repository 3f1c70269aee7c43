"""``--speakers N|auto``: ask a run for diarization, with or without the speaker count.

Diarization runs only when asked (it costs time and is not always wanted): ``N`` sets
``num_speakers`` (which asks for the stage), ``auto`` adds the stage to the run's stages
and lets it estimate the count.
"""

from __future__ import annotations

import argparse
from typing import Any


def speakers_value(text: str) -> int | str:
    """``auto`` or a whole number; argparse reports anything else."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of speakers or 'auto', got {text!r}"
                                         ) from None


def add_speakers_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speakers", type=speakers_value, default=None, metavar="N|auto",
                   help="diarize: find who speaks when, with N speakers or an estimated count "
                        "(auto); without it no diarization runs")


def stages_with_speakers(args: argparse.Namespace) -> list[str] | None:
    """The stages asked for (``--stages``), with ``diarization`` added for ``--speakers``;
    ``--speakers N`` also sets ``args.num_speakers``."""
    from pipeline_kit.pipeline._registry import REGISTRY

    stages = [s for item in args.stages for s in item.split(",")] if args.stages else None
    speakers: Any = getattr(args, "speakers", None)
    if speakers is None:
        return stages
    if speakers != "auto":
        args.num_speakers = speakers
    return [*(stages or REGISTRY.default_names()), "diarization"]
