"""Search: progress-guided best-first proof search over Lean environments, in one process or on Ray."""

from .audit import ReplayAudit, audit_replayed_proofs
from .environment import Environment, NotReplayable, ReplayEnvironment, TacticResult, replay_check
from .prover import (BestFirstProver, SearchConfig, SearchResult, check_score_mode, forbidden_word, proof_records,
                     score_mode_for)

__all__ = ["BestFirstProver", "Environment", "NotReplayable", "ReplayAudit", "ReplayEnvironment", "SearchConfig",
           "SearchResult", "TacticResult", "audit_replayed_proofs", "check_score_mode", "forbidden_word",
           "proof_records", "replay_check", "score_mode_for"]
