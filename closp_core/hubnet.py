"""Whether the Hugging Face hub can be reached, asked in milliseconds (model weights and the
CrisisLandMark dataset both need it)."""

from __future__ import annotations

import socket
import urllib.parse

from huggingface_hub import constants as hub_constants


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the hub endpoint accepts a TCP connection within ``timeout`` seconds: an
    offline machine then fails at once instead of after the hub client's retries (~20 s)."""
    url = urllib.parse.urlsplit(hub_constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=timeout).close()
    except OSError:
        return False
    return True
