# %% [markdown]
# # Attention-indexed models (AIM): the Bayes-optimal error
#
# Boncoraglio, Troiani, Erba, Zdeborová, *Bayes optimal learning of attention-indexed models*,
# arXiv:2506.01582.  The state evolution (SE) gives the Bayes-optimal estimation error of
# `S = W W^T / sqrt(r d)` from `n = alpha d^2` samples; `rho = r/d`.

# %%
# ruff: noqa: E402, E703 (a notebook: imports where used; ';' hides a value)
import matplotlib.pyplot as plt
import numpy as np

import icl_companion as icl
from icl_companion.theory.display import mathtext

# %% [markdown]
# ## The MMSE curve (softmax output, T = 2)
# The error falls from 1 at `alpha = 0` to 0 at the perfect-recovery threshold `alpha_PR`.

# %%
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for rho in (0.25, 0.5, 1.0):
    sw = icl.sweep("aim.mmse", {"rho": rho, "T": 2}, alpha="0.001:0.3:40", workers=1)
    assert sw.n_failed == 0
    sw.plot(ax=ax)
    ax.lines[-1].set_label(f"$\\rho = {rho:g}$")
    apr = icl.evaluate("aim.alpha_pr", rho=rho, T=2).value
    ax.axvline(apr, color=ax.lines[-1].get_color(), ls=":", lw=0.8)
ax.legend(fontsize=8)
ax.set_title("softmax, $T = 2$: MMSE and $\\alpha_{PR}$ (dotted)", fontsize=9);

# %% [markdown]
# ## The perfect-recovery threshold
# `alpha_PR(rho, T) = (2 rho - rho^2)/(T^2 + T - 2)` for `rho < 1`: the SE error reaches 0 there.

# %%
icl.results.aim.alpha_pr

# %%
for rho in (0.25, 0.5):
    apr = icl.evaluate("aim.alpha_pr", rho=rho, T=2).value
    below = icl.evaluate("aim.mmse", alpha=0.98 * apr, rho=rho, T=2).value["mmse"]
    above = icl.evaluate("aim.mmse", alpha=1.02 * apr, rho=rho, T=2).value["mmse"]
    print(f"rho = {rho}: alpha_PR = {apr:.6f}; MMSE at 0.98 alpha_PR = {below:.4f}, "
          f"at 1.02 alpha_PR = {above:.4f}")
    assert below > 0 and above == 0

# %% [markdown]
# ## Hardmax: the two output functions
# For a hardmax output the SE needs the channel's `g_out`; `variant="correct"` is the Bayes-optimal
# one, `variant="paper"` what the authors' code uses (it puts the bivariate density where the first
# partial of the bivariate CDF belongs).  The `rho -> 0` limit has a closed-form weak-recovery
# threshold for each.

# %%
alphas = np.linspace(0.02, 0.4, 12)
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
for variant, style in (("correct", "-"), ("paper", "--")):
    m = [icl.evaluate("aim.mmse", alpha=a, rho=0.5, T=2, channel="hardmax",
                      variant=variant) for a in alphas]
    assert all(e.success for e in m)
    ax.plot(alphas, [e.value["mmse"] for e in m], style, label=f"variant = {variant}")
ax.set(xlabel=mathtext("alpha"), ylabel=mathtext("mmse"), title="hardmax, $T = 2$, $\\rho = 0.5$")
ax.legend(fontsize=8);

# %%
{v: icl.evaluate("aim.weak_recovery", variant=v).value for v in ("correct", "paper")}

# %%
icl.results.aim.weak_recovery
