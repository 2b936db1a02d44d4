"""Logging helpers."""

import logging


class EscalateChannelLayerDrops(logging.Filter):
    """channels-redis reports messages dropped on full channels at INFO; we want them seen (WARNING).

    Other INFO records of that logger are let through unchanged only if the logger's handlers want them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if "over capacity" in str(record.msg):
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
            return True
        return record.levelno >= logging.WARNING
