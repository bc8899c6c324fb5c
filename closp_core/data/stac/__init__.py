"""STAC: static documents (``static``) and API searches (``api``) -> band assets -> the
scene reader. ``bands`` maps assets to bands, ``item`` checks items one by one, ``walk``
walks catalogues; ``io``, ``fetch``, ``deadline``, ``remote`` and ``hrefs`` fetch under
budgets, deadlines and a host policy; ``aoi`` is the area of a search.
"""

from closp_core.data.stac.api import StacSearchSource
from closp_core.data.stac.static import StacSource

__all__ = ["StacSearchSource", "StacSource"]
