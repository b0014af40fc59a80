"""The guided tour: steps that act on the live lab and check, on its counts, that it worked.

UI-free: `schema.py` (the vocabulary), `parse.py` (TOML, validated),
`checks.py` (verdicts on snapshots), `run.py` (a walk through the steps).
The app's panel (`ui/widgets/tour_panel.py`) drives a `TourRun`;
`default.toml` is the tour `iofdtui tour` and `T` open.
"""

from __future__ import annotations

from importlib.resources import files

from iofdtui.tour.parse import TourError, load_tour, parse_tour
from iofdtui.tour.schema import Tour

DEFAULT_TOUR = "default.toml"


def default_tour() -> Tour:
    """The tour shipped with the package."""
    return parse_tour(files(__package__).joinpath(DEFAULT_TOUR).read_bytes(), DEFAULT_TOUR)


__all__ = ["DEFAULT_TOUR", "Tour", "TourError", "default_tour", "load_tour", "parse_tour"]
