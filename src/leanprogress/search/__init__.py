"""Search: progress-guided best-first proof search over Lean environments."""

from .environment import Environment, ReplayEnvironment, TacticResult
from .generators import ReplayGenerator
from .prover import BestFirstProver, SearchConfig, SearchResult, proof_records

__all__ = ["BestFirstProver", "Environment", "ReplayEnvironment", "ReplayGenerator", "SearchConfig", "SearchResult",
           "TacticResult", "proof_records"]
