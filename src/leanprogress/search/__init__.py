"""Search: progress-guided best-first proof search over Lean environments."""

from .environment import Environment, ReplayEnvironment, TacticResult
from .prover import BestFirstProver, SearchConfig, SearchResult, proof_records

__all__ = ["BestFirstProver", "Environment", "ReplayEnvironment", "SearchConfig", "SearchResult", "TacticResult",
           "proof_records"]
