"""Serving: a LeanCopilot-compatible HTTP server with progress-ranked candidates."""

from .app import create_app
from .config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
