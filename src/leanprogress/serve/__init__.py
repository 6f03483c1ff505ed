"""Serving: a LeanCopilot-compatible HTTP server with progress-ranked candidates."""

from .app import create_app
from .config import ServerConfig
from .generators import HFGenerator, OpenAIGenerator, RetrievalGenerator, build_generator

__all__ = ["HFGenerator", "OpenAIGenerator", "RetrievalGenerator", "ServerConfig", "build_generator", "create_app"]
