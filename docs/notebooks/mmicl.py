# %% [markdown]
# # Multimodal in-context learning (mmicl): reference levels and circuits
#
# Huang, Roth, Bouniot, Xu, Akata, *Dissecting multimodal in-context learning: modality
# asymmetries and circuit dynamics in modern transformers*, arXiv:2601.20796.  Small transformers on
# bursty synthetic classification; the catalogue gives the exact reference levels that the trained
# models' accuracies and attention metrics are read against.

# %%
# ruff: noqa: E402, E703 (a notebook: imports where used; ';' hides a value)
import numpy as np

import icl_companion as icl

# %% [markdown]
# ## Reference levels on bursty sequences
# `N` context pairs in `N/B` bursts of `B` copies, `L` uniform labels: the accuracy of a uniform
# guess (as a context-label accuracy, CLA), of copying a random context label, of picking among the
# distinct context labels, and the largest expected TILA of an ideal induction head.

# %%
levels = {id: icl.evaluate(id, L=32, N=8, B=2) for id in
          ("mmicl.random_guess_cla", "mmicl.copy_slot_uniform", "mmicl.distinct_label_accuracy",
           "mmicl.ideal_tila")}
levels["mmicl.copy_slot_uniform"]

# %%
{k: (v.value if not isinstance(v.value, dict) else v.value["accuracy"]) for k, v in levels.items()}

# %%
icl.results.mmicl.ideal_tila

# %% [markdown]
# Exact rationals are available at any precision:

# %%
icl.evaluate("mmicl.ideal_tila", L=32, N=8, B=2, dps=30)

# %% [markdown]
# ## A quick circuit metric
# The metrics read attention matrices `(..., H, T, T)`.  An ideal induction head attends, from the
# query, uniformly to the label slots whose label matches the query's; its TILA is `1/|M|` per
# sequence, and on average the catalogue's `ideal_tila`.  Here on sampled bursty sequences.

# %%
from icl_companion.numerics.mmicl_metrics import induction_strength, previous_token_strength, tila

rng = np.random.default_rng(0)
L, N, B, S = 32, 8, 2, 4000
base = rng.integers(0, L, size=(S, N // B))            # N/B i.i.d. uniform base labels
labels = np.repeat(base, B, axis=1)                    # bursts of B copies
labels = np.take_along_axis(labels, rng.permuted(np.tile(np.arange(N), (S, 1)), axis=1), 1)
query = labels[np.arange(S), rng.integers(0, N, size=S)]  # the query's label is in context
match = labels == query[:, None]
T = 2 * N + 1                                          # item, label, ..., query
label_pos = 2 * np.arange(N) + 1
A = np.zeros((S, 1, T, T))
A[:, 0, np.arange(T), np.arange(T)] = 1.0              # other rows: attend to self
A[:, 0, T - 1, :] = 0.0
A[:, 0, T - 1, label_pos] = match / match.sum(1, keepdims=True)
measured = tila(A, match, label_pos).mean()
se = tila(A, match, label_pos).std(ddof=1) / np.sqrt(S)
theory = icl.evaluate("mmicl.ideal_tila", L=L, N=N, B=B).value
print(f"TILA of the ideal head: {measured:.4f} +- {se:.4f} (MC), catalogue {theory:.4f}")
assert abs(measured - theory) < 4 * se
print("IndStrength:", induction_strength(A, match, label_pos).mean().round(4),
      "previous-token strength:", previous_token_strength(A).mean().round(4))

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(3.6, 3.2), layout="constrained")
ax.imshow(A[0, 0], cmap="Greys")
ax.set(xlabel="attended position", ylabel="query position",
       title="ideal induction head: the query row", );
