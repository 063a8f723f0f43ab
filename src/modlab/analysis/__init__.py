"""Modularity of any saved model: load a checkpoint safely, extract its (post, pre) matrices,
measure each (spectrum, k*, graph metrics) and report (table, JSON, HTML)."""
from .checkpoint import Checkpoint, MemberInfo, load_checkpoint
from .layers import WeightMatrix, weight_matrices
from .measure import Limits, analyse_checkpoint, analyse_matrix
from .report import write_report

__all__ = ["Checkpoint", "Limits", "MemberInfo", "WeightMatrix", "analyse_checkpoint",
           "analyse_matrix", "load_checkpoint", "weight_matrices", "write_report"]
