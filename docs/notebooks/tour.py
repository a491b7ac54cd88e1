# %% [markdown]
# # A tour of icl-companion
#
# The catalogue of closed forms and solvers of four papers on in-context learning, as Python
# objects that display themselves: evaluate, show a formula, sweep and plot, verify against
# simulation, regenerate a figure.  (Stored as a jupytext percent script:
# `jupytext --to notebook tour.py` gives the .ipynb.)

# %%
# ruff: noqa: E402, E703 (a notebook: imports where used; ';' hides a value)
import os
import tempfile

import icl_companion as icl

QUICK = os.environ.get("ICLC_NOTEBOOK_QUICK", "1") == "1"  # the test suite runs quick sizes
OUT = os.environ.get("ICLC_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="iclc-tour-")

# %% [markdown]
# ## Evaluate
# A result is evaluated on checked inputs; the evaluation keeps the value apart from the solver's
# diagnostics (`ev.info`) and displays both.

# %%
ev = icl.evaluate("aim.mmse", alpha=0.05, rho=0.5, T=2)
ev

# %%
ev.value["mmse"], ev.info["nit"], ev.success

# %% [markdown]
# Closed forms can be evaluated at any precision (mpmath); inputs are read as the decimals
# written.

# %%
icl.evaluate("softmax.eta_star", d=5, L=40, sigma2=0.1, dps=50)

# %% [markdown]
# ## Show
# A result displays its formula (the very expression `evaluate` computes), its inputs with their
# domains and symbols, and its reference.  `icl.results.aim.<TAB>` completes the ids.

# %%
icl.results.linear.gd_risk

# %%
icl.get("linear.ridge_bayes_risk_asym")

# %% [markdown]
# ## Sweep and plot
# A sweep is a table (pandas), an array indexed by the swept inputs (xarray) and a plot.

# %%
sw = icl.sweep("aim.mmse", {"rho": 0.5, "T": 2}, alpha="0.001:0.2:41", workers=1)
sw.to_pandas().head()

# %%
sw.plot();

# %%
sw2 = icl.sweep("linear.gd_risk", {"d": 5, "sigma2": 0.1}, L="10:80:8", eta="0:2:21", workers=1)
ds = sw2.to_xarray()
ds["value"].idxmin("eta")  # the best step for each prompt length L

# %%
sw2.plot();

# %% [markdown]
# ## Verify
# Theory against Monte Carlo, with tolerances computed from the standard errors.

# %%
reports = icl.verify("linear.lsa_zfb_risk", quick=True)
reports

# %% [markdown]
# ## A figure
# Every figure of the papers can be regenerated (quick sizes here; this one is of the
# reconstructed cross-attention model); the PNG, PDF, the plotted data
# (CSV) and the parameters (JSON) are written to `OUT`.

# %%
from IPython.display import Image

rec = icl.make_figure("xattn-alpha", quick=True, out_dir=OUT)
Image(filename=os.path.join(OUT, "xattn-alpha.png"), width=640)
