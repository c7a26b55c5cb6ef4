"""Asset key parts for any RAW schema or table name: valid, collision-free and stable.

Dagster accepts only ``[A-Za-z0-9_]`` in the names it derives from asset keys (op names, check names), and it
joins key parts with ``__``. RAW names are whatever a loader created: ``my table``, ``tåble``, ``a-b`` beside
``a_b``, ``x.y`` beside ``x__y``. A name that is already plain is its own key part, so the demo's keys read as
they always did; any other name becomes its plain spelling plus ``_h`` and 8 hex digits of its SHA-256, so
two names that differ only in a character Dagster cannot take still get two keys, and the same name gets the
same key on every load. A plain name never contains ``__``, never starts or ends with ``_`` and never ends like
a hashed part, so joined keys stay distinct too. The real name goes into the asset's metadata.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_PLAIN = re.compile(r"[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*")
_HASHED = re.compile(r".*_h[0-9a-f]{8}")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def key_part(name: str) -> str:
    """``name`` if it is plain, else a readable plain spelling with a short hash of the exact name."""
    if _PLAIN.fullmatch(name) and not _HASHED.fullmatch(name):
        return name
    ascii_form = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    readable = _NOT_WORD.sub("_", ascii_form).strip("_")[:48].strip("_") or "name"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{readable}_h{digest}"
