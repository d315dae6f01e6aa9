"""The exceptions srcnn raises. The CLI turns each into a one-line message and an exit code."""

from __future__ import annotations


class SRCNNError(Exception):
    """Base class of every error srcnn raises on purpose."""


class ImageReadError(SRCNNError):
    """An input image is missing, unreadable, truncated or of a kind we do not handle."""


class ImageTooLargeError(ImageReadError):
    """An input image's header announces more pixels than the limit allows (refused before decoding)."""


class ImageWriteError(SRCNNError):
    """An output image or file could not be written."""


class WeightsError(SRCNNError):
    """A weights file or model name is unknown, corrupt or does not fit the request."""


class DataError(SRCNNError):
    """A data set or data root is missing or incomplete."""


class ConfigError(SRCNNError, ValueError):
    """A parameter (scale, architecture, option) is invalid."""


class TrainingError(SRCNNError):
    """A training run cannot go on (it diverged)."""
