"""Build wiring only; all metadata lives in pyproject.toml.

cffi has no declarative configuration, so `cffi_modules` is declared here,
and build_ext first builds the guest from guests/ so that its image is
compiled into the engine's extension module.
"""

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

sys.path.insert(0, str(Path(__file__).resolve().parent / "guests"))
from build import GuestBuildError, build_image_source


class BuildExtWithGuest(build_ext):
    """Build the guest image, then compile it into the engine extension."""

    def run(self) -> None:
        try:
            image_c = build_image_source(Path(self.build_temp) / "guest")
        except GuestBuildError as err:
            sys.exit(str(err))
        # The image source is build output: add it for this compile only, so
        # the sdist manifest never lists a path outside the tree.
        engine = [ext for ext in self.extensions if ext.name == "iofdtui.engine.native._lab"]
        for ext in engine:
            ext.sources.append(str(image_c))
        try:
            super().run()
        finally:
            for ext in engine:
                ext.sources.remove(str(image_c))


setup(
    cmdclass={"build_ext": BuildExtWithGuest},
    cffi_modules=[
        "iofdtui/engine/native/build.py:ffibuilder",
        "iofdtui/engine/attach/native/build.py:ffibuilder",
    ],
    zip_safe=False,
)
