# %% [markdown]
# # Multi-head softmax attention learns debiased GD
#
# He, Pan, Chen, Yang, *In-context linear regression demystified*, arXiv:2503.12734.
# Trained multi-head softmax attention implements one step of debiased gradient descent with the
# optimal step `eta*`; its risk is the debiased-GD risk.

# %%
# ruff: noqa: E402, E703 (a notebook: imports where used; ';' hides a value)
import os

import matplotlib.pyplot as plt
import numpy as np

import icl_companion as icl
from icl_companion.theory.display import mathtext

QUICK = os.environ.get("ICLC_NOTEBOOK_QUICK", "1") == "1"

# %% [markdown]
# ## The optimal step eta* (Theorem 1(2))

# %%
icl.results.softmax.eta_star

# %%
icl.evaluate("softmax.eta_star", d=5, L=40, sigma2=0.1, dps=40)

# %% [markdown]
# ## The debiased-GD risk against vanilla GD and Bayes
# The exact finite-(d, L) risk of debiased GD at `eta*` (what the trained attention implements),
# one-step GD at its own best step, and the asymptotic Bayes risk at `xi = d/L`.  At finite `L` the
# debiased estimator pays a little variance; the two agree as `L` grows, and both approach Bayes.

# %%
Ls = np.unique(np.geomspace(10, 400, 12).round().astype(int))
d, s2 = 5, 0.1
dgd = [icl.evaluate("softmax.dgd_min_risk", d=d, L=int(L), sigma2=s2).value for L in Ls]


def gd_best(L):  # one-step GD at its own risk-minimising step
    eta_gd = icl.evaluate("linear.gd_eta_star", d=d, L=L, sigma2=s2).value
    return icl.evaluate("linear.gd_risk", d=d, L=L, sigma2=s2, eta=eta_gd).value


gd = [gd_best(int(L)) for L in Ls]
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
ax.plot(Ls, dgd, "o-", ms=3, label="debiased GD at $\\eta^*$")
ax.plot(Ls, gd, "s--", ms=3, label="one-step GD at its best step")
ax.axhline(s2, color="0.5", lw=0.8, ls=":", label="noise $\\sigma^2$")
ax.set(xscale="log", xlabel=mathtext("L"), ylabel="risk", title=f"$d = {d}$, $\\sigma^2 = {s2}$")
bayes = [icl.evaluate("softmax.bayes_risk", xi=d / L, sigma2=s2).value for L in Ls]
ax.plot(Ls, bayes, "k:", lw=1, label="Bayes (asymptotic)")
ax.legend(fontsize=8)
gap = np.array(dgd) / np.array(gd) - 1
print("relative excess of debiased GD over GD:", np.round(gap[[0, len(gap) // 2, -1]], 4))
assert np.all(np.diff(gap) < 0) and gap[-1] < 1e-3

# %% [markdown]
# ## A trained model's pattern
# A small two-head softmax attention trained with Adam on in-context linear regression (quick
# size).  The paper's Finding 1: each head's KQ is diagonal (`omega_h I`) and its OV keeps the
# last entry (`mu_h`) with matching signs; the effective step `sum_h mu_h omega_h` approaches
# `eta*`.

# %%
from icl_companion.numerics.softmax_attention import TrainConfig, kq_circuits, ov_circuits, train
from icl_companion.numerics.softmax_patterns import head_patterns

rec = train(TrainConfig(H=2, steps=1500 if QUICK else 20_000, batch=128, lr=3e-3), seed=0)
pat = head_patterns(kq_circuits(rec.params), ov_circuits(rec.params))
pat

# %%
eta = icl.evaluate("softmax.eta_star", d=5, L=40, sigma2=0.1).value
print(f"omega_h = {np.round(pat.omega, 3)}, mu_h = {np.round(pat.mu, 3)}; "
      f"effective step {pat.eta_eff:.3f} vs eta* = {eta:.3f} "
      f"(after {rec.steps_done} steps)")

# %%
fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
KQ = kq_circuits(rec.params)
ax.imshow(KQ[0], cmap="RdBu_r", vmin=-abs(KQ[0]).max(), vmax=abs(KQ[0]).max())
ax.set_title("head 1: KQ circuit (diagonal block $\\omega_1 I_d$)", fontsize=9);
