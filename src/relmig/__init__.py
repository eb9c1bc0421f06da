"""relmig: migrate relational databases into MongoDB and keep them in sync until cutover."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("relmig")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+unknown"
