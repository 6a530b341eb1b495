"""An address's funding class: what today's best service makes of it in the funding programmes.

Classes, by download (and upload) in Mbit/s against :class:`stadtnetz.model.FundingThresholds`:

==================  ==========================================================================================
``weiss``           below ``white`` (30): a "weißer Fleck"
``grau``            below ``grey`` (100): a "grauer Fleck" (2021)
``foerderfaehig``   eligible under the Gigabit-Richtlinie 2.0: no ``symmetric`` (200) both ways, below ``download``
                    (500)
``hochbitratig``    at least 200 symmetric or 500 down, below ``gigabit``
``gigabit``         at least ``gigabit`` (1000) down, or FTTH where the list gives no speed
``unbekannt``       the list gives no speed and no technology that tells
==================  ==========================================================================================

:func:`eligible` is the Gigabit-Richtlinie 2.0 test itself (true for ``weiss``, ``grau`` and ``foerderfaehig``).
The three-year build plans the programme also asks about are not known to the monitoring; the export is a pre-fill.
"""

from __future__ import annotations

from stadtnetz.model import FundingThresholds

CLASSES = ("weiss", "grau", "foerderfaehig", "hochbitratig", "gigabit", "unbekannt")


def funding_class(
    download: float | None, upload: float | None, technology: str, thresholds: FundingThresholds
) -> str:
    """The class of an address with today's best ``download``/``upload`` (Mbit/s, None if not known)."""
    if download is None:
        if technology == "ftth":
            return "gigabit"
        if technology == "keine":
            download, upload = 0.0, 0.0
        else:
            return "unbekannt"
    if download < thresholds.white:
        return "weiss"
    if download < thresholds.grey:
        return "grau"
    if download >= thresholds.gigabit:
        return "gigabit"
    if eligible(download, upload, thresholds):
        return "foerderfaehig"
    return "hochbitratig"


def eligible(download: float | None, upload: float | None, thresholds: FundingThresholds) -> bool | None:
    """Gigabit-Richtlinie 2.0: True without a service of ``symmetric`` both ways or ``download`` down; None if the
    download is not known."""
    if download is None:
        return None
    symmetric = upload is not None and download >= thresholds.symmetric and upload >= thresholds.symmetric
    return not (symmetric or download >= thresholds.download)


def classify(
    download: float | None, upload: float | None, technology: str, thresholds: FundingThresholds
) -> tuple[str, bool | None]:
    """The class and the Gigabit-Richtlinie 2.0 eligibility (None when the service is not known) of an address."""
    klass = funding_class(download, upload, technology, thresholds)
    if klass == "unbekannt":
        return klass, None
    if download is None:  # told by the technology alone: ftth (gigabit) or keine (nothing)
        return klass, klass != "gigabit"
    return klass, eligible(download, upload, thresholds)


def without_gigabit(klass: str) -> bool:
    """Whether an address of this class lacks a gigabit service (unknown ones count as lacking it)."""
    return klass != "gigabit"
