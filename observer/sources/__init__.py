"""Where the observer reads the mesh from: one Protocol, a local and a cluster implementation."""

from observer.sources.base import ObserverSource
from observer.sources.factory import make_source

__all__ = ["ObserverSource", "make_source"]
