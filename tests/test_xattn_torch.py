"""xattn: hand-written NumPy backward passes against torch autograd (validation extra)."""

import numpy as np
import pytest

from icl_companion.numerics.xattn_data import TaskFamily, sample_moments, sample_tasks
from icl_companion.numerics.xattn_models import ca_matrix_excess, lsa_excess

torch = pytest.importorskip("torch")


@pytest.mark.validation
def test_ca_and_lsa_backward_vs_autograd():
    torch.set_num_threads(1)
    rng = np.random.default_rng(5)
    fam = TaskFamily("random_loadings", d1=3, d2=2, k=2, m_lo=1, m_hi=3, sigma2=0.25)
    tk = sample_tasks(fam, rng, 25)
    Sh, sh = sample_moments(rng, tk, 40)
    a, b = np.array([0.31, 0.2, 0.4, 0.1]), np.array([-0.3, -0.1, -0.45, -0.2])
    f, (ga, gb, gt) = ca_matrix_excess(Sh, sh, tk.Sigma, tk.w, tk.weight, a, b)

    A, B = (torch.tensor(v, dtype=torch.float64) for v in (Sh, sh))
    S, W, wt = (torch.tensor(v, dtype=torch.float64) for v in (tk.Sigma, tk.w, tk.weight))
    al = torch.tensor(a, requires_grad=True)
    be = torch.tensor(b, requires_grad=True)

    def loss(al, be):
        w = torch.zeros_like(B)
        for t in range(len(a)):
            w = w + be[t] * torch.einsum("nde,ne->nd", A, w) + al[t] * B
        d = w - W
        return (wt * torch.einsum("nd,nde,ne->n", d, S, d)).sum()

    Lt = loss(al, be)
    Lt.backward()
    assert float(Lt.detach()) == pytest.approx(f, rel=1e-12)
    assert np.allclose(al.grad.numpy(), ga, rtol=1e-10)
    assert np.allclose(be.grad.numpy(), gb, rtol=1e-10)
    _, (_, _, gt) = ca_matrix_excess(Sh, sh, tk.Sigma, tk.w, tk.weight, a, -a)  # tied layers
    al2 = torch.tensor(a, requires_grad=True)
    loss(al2, -al2).backward()
    assert np.allclose(al2.grad.numpy(), gt, rtol=1e-10)

    G = rng.standard_normal((5, 5)) * 0.2
    fl, gl = lsa_excess(G, sh, tk.Sigma, tk.w, tk.weight)
    Gt = torch.tensor(G, requires_grad=True)
    d = torch.einsum("de,ne->nd", Gt, B) - W
    (wt * torch.einsum("nd,nde,ne->n", d, S, d)).sum().backward()
    assert np.allclose(Gt.grad.numpy(), gl, rtol=1e-10)
