"""What `modlab list` and `modlab --help` need about every experiment, without importing
it (experiments import torch and matplotlib; the CLI must start at once). Each
experiment module registers itself with `describe(name)`, so this is the one copy of
its title, figure and claim."""
from __future__ import annotations

CATALOG: dict[str, dict] = {
    'fig1': {
        'module': 'fig1',
        'title': 'Activity-dependent noise drives modularity',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 1',
        'claim': 'layer-0 g_4 large (k* = 4) for α = 1, 2; not for α = 0 nor for the linear net',
        'presets': ['quick', 'paper'],
    },
    'fig2': {
        'module': 'fig2',
        'title': 'Noise strength trades modularity against test loss',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 2',
        'claim': 'with α = 2, both the layer-0 g_4 and the noise-free test loss rise with σ',
        'presets': ['quick', 'paper'],
    },
    'fig3': {
        'module': 'fig3',
        'title': 'Linear network: Poisson noise with one-hot inputs and L_{1,2} modularise W_in',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 3',
        'claim': 'W_in has k* = 4 for Poisson noise (one-hot inputs) and L_{1,2} (dense inputs); not for L1 or L2',
        'presets': ['quick', 'paper'],
    },
    'fig4': {
        'module': 'fig4',
        'title': 'Weighted-activity regularisation and its alternatives',
        'paper': 'Qian, Liang & Fiete 2025, Figs. 4 and 10',
        'claim': 'WA (ReLU) modular with k* = 4; activity modular with dead neurons; L2 not; tanh/sigmoid less modular',
        'presets': ['quick', 'paper'],
    },
    'fig5': {
        'module': 'fig5',
        'title': 'Early and late mixing: modules are mixed only where the task needs it',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 5 (Eqs. 21–22)',
        'claim': 'with WA, early mixing gives k* = 3 in layer 0 and 4 after; late mixing keeps k* = 4 until the last layer',
        'presets': ['quick', 'paper'],
    },
    'fig6': {
        'module': 'fig6',
        'title': 'Sample complexity of modularity emergence',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 6',
        'claim': 'the data size N* at which layer-0 g_n switches on grows exponentially with n',
        'presets': ['quick', 'paper'],
    },
    'fig7': {
        'module': 'fig7',
        'title': 'Noise robustness of WA-trained networks',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 7',
        'claim': "as N grows and g_4 rises, WA's test loss under multiplicative test noise (α = 2, σ = 0.1) drops below L2-only's",
        'presets': ['quick', 'paper'],
    },
    'fig8': {
        'module': 'fig8',
        'title': 'Modular architectures generalise compositionally out of distribution',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 8',
        'claim': 'modular OOD loss ≈ its ID loss; FC and bottleneck OOD ≫ ID; modules learn x², y² (Gaussian) and f₁, f₂ (sinusoids) up to an affine map',
        'presets': ['quick', 'paper'],
    },
    'fig9': {
        'module': 'fig9',
        'title': 'Module depth decides where the nonlinearity is computed',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 9',
        'claim': 'deviation from linear of the module outputs falls with module depth m; small for m ≥ 3',
        'presets': ['quick', 'paper'],
    },
    'fig11': {
        'module': 'fig11',
        'title': 'OOD loss against the fan-shaped ID/OOD split (Gaussian task)',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 11 (Appendix A)',
        'claim': 'the modular network reaches the true function (low OOD loss) at a much smaller r than FC and bottleneck; a few modular seeds find the ridge solution',
        'presets': ['quick', 'paper'],
    },
    'fig12': {
        'module': 'fig9',
        'title': 'Module depth × FC-head depth: deviation from linear and FC nonlinearity',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 12',
        'claim': 'for m ≥ 3 the deviation (Fig. 12) and the fraction of networks whose FC head computes part of f_i (Fig. 13) stop depending on the FC depth',
        'presets': ['quick', 'paper'],
    },
    'fig13': {
        'module': 'fig9',
        'title': 'Module depth × FC-head depth: deviation from linear and FC nonlinearity',
        'paper': 'Qian, Liang & Fiete 2025, Fig. 13 (same runs as fig12)',
        'claim': 'for m ≥ 3 the deviation (Fig. 12) and the fraction of networks whose FC head computes part of f_i (Fig. 13) stop depending on the FC depth',
        'presets': ['quick', 'paper'],
    },
    'range-2d': {
        'module': 'range2d',
        'title': 'Range, not independence: the margin predicts modularity',
        'paper': 'Dorrell, Hsu et al. 2025 (ICLR), Theorem 2.1 / spec 3 claims table',
        'claim': 'margin ≥ 0 → trained mixing ≈ 0 (grid, clipped Gaussian, grid + diagonal); margin < 0 → mixed (band ≈ 0.5, Gaussian ≈ 0.4)',
        'presets': ['quick', 'paper'],
    },
    'range-3d': {
        'module': 'range3d',
        'title': 'Mixing follows corner cuts, not source dependence (3 sources)',
        'paper': 'Dorrell, Hsu et al. 2025 (ICLR), 3-source study / spec 3',
        'claim': 'cutting a corner mixes (and grows with the cut); strengthening or removing the diagonal raises NSI but stays modular',
        'presets': ['quick', 'paper'],
    },
    'what-where': {
        'module': 'what_where',
        'title': 'What–where: corner drops mix shape and position, diagonal drops do not',
        'paper': 'Dorrell, Hsu et al. 2025 (ICLR), what–where task / spec 3',
        'claim': 'mixing index rises from ≈0 to ≈0.2 with corner drops (0…36); diagonal drops ≤ 0.002',
        'presets': ['quick', 'paper'],
    },
    'bimt-mlp': {
        'module': 'bimt_mlp',
        'title': 'BIMT on MLPs: wiring cost and swaps make modules visible',
        'paper': 'Liu, Gan & Tegmark 2023 (BIMT) / spec 2',
        'claim': 'BIMT gives the sparsest, shortest wiring with modules that split into separate sub-networks; L1 sparsifies without localising',
        'presets': ['quick', 'paper'],
    },
    'growing-brains': {
        'module': 'growing_brains',
        'title': 'Growing modular RNNs on the 20 Yang-2019 tasks',
        'paper': 'Liu, Khona, Fiete & Tegmark 2023 (Growing brains) / spec 2',
        'claim': 'BIMT gives functional and anatomical modularity (local, interconnected clusters) and a better error-vs-sparsity front than L1 or none',
        'presets': ['quick', 'paper'],
    },
}


def describe(name: str) -> dict:
    """title, paper and claim of a catalogued experiment, for its `Experiment(...)`."""
    entry = CATALOG[name]
    return {k: entry[k] for k in ("title", "paper", "claim")}
