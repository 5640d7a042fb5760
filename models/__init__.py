"""Training, evaluation, the model registry, the scorer and the decision policy."""

__all__ = ["dataset", "decision", "evaluate", "labels", "pipeline", "policy", "registry", "replay", "scorer", "train"]
