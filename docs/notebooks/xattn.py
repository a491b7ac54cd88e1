# %% [markdown]
# # Multi-layer cross-attention (xattn) — reconstructed model
#
# Barnfield, Sen, Sur, *Multi-layer cross-attention is provably optimal for multi-modal in-context
# learning*, arXiv:2602.04872.  **Reconstructed:** only the abstract and summaries were available;
# the latent-factor model below is a reconstruction, and every result says so (status
# `reconstructed`).  Claims: a single layer of linear self-attention (LSA) stays above the Bayes
# risk when the signal strength varies across tasks; deep linearised cross-attention (CA) reaches
# it, its excess decaying geometrically with depth.

# %%
# ruff: noqa: E402, E703 (a notebook: imports where used; ';' hides a value)
import matplotlib.pyplot as plt
import numpy as np

import icl_companion as icl

# %% [markdown]
# ## The LSA gap (fixed-direction family)
# Infinite-context excess risk of the best single-layer LSA over Bayes, for a signal strength
# `g2` uniform on `[m_lo, m_hi]` or two-point.  It vanishes only when the strength is fixed.

# %%
icl.results.xattn.lsa_gap

# %%
sw = icl.sweep("xattn.lsa_gap", {"dist": "uniform", "m_lo": 1.0}, m_hi="1:10:25", workers=1)
assert sw.n_failed == 0
ax = sw.plot(y="gap")
ax.set_title("reconstructed model: LSA excess over Bayes, $g^2 \\sim U[1, m_{hi}]$", fontsize=9);

# %% [markdown]
# ## Depth: the CA excess decays like `rho*^(2T)`
# At the minimax step `alpha* = 2/(2 tau2 + m_lo + m_hi)` each layer contracts the coefficient
# error by `rho* = (m_hi - m_lo)/(2 tau2 + m_lo + m_hi)`; `layers_needed` is the depth for a
# relative accuracy `eps`.

# %%
icl.results.xattn.rho_star

# %%
T = np.arange(1, 16)
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for m_hi in (2.0, 4.0, 8.0):
    rho = icl.evaluate("xattn.rho_star", m_lo=1.0, m_hi=m_hi, tau2=1.0).value
    ax.semilogy(T, rho ** (2 * T), "o-", ms=3, label=f"$m_{{hi}} = {m_hi:g}$, "
                f"$\\rho^* = {rho:.3f}$")
ax.set(xlabel="depth $T$", ylabel="relative excess $\\rho^{*2T}$",
       title="reconstructed model: CA depth decay")
ax.legend(fontsize=8);

# %%
{eps: icl.evaluate("xattn.layers_needed", m_lo=1, m_hi=3, eps=eps).value
 for eps in (1e-2, 1e-4, 1e-6)}
