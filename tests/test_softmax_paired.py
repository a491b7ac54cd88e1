"""Models trained together on one batch stream (``train_paired``): each model depends only on its
own configuration and seed, the cache stores one entry per model, a multi-head model that ends
outside the +/- configuration is trained again with the next seed, and bad input is refused."""

import numpy as np
import pytest

from icl_companion.numerics import softmax_attention as sa
from icl_companion.numerics.softmax_attention import TrainConfig, train, train_paired
from icl_companion.numerics.softmax_data import Setting, default_supports

MT = Setting("multitask", 6, 7, 0.1, supports=default_supports(6), variant="code")


def _cfg(H, **kw):
    base = dict(setting=MT, H=H, steps=40, batch=16, lr=1e-2, log_every=10)
    base.update(kw)
    return TrainConfig(**base)


def _same(a, b):
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    for k in a.log:
        np.testing.assert_array_equal(a.log[k], b.log[k])


def test_a_paired_model_does_not_depend_on_its_companions():
    together = train_paired([_cfg(1), _cfg(2), _cfg(3)], seed=5)
    alone = train_paired([_cfg(2)], seed=5)[0]
    _same(together[1], alone)
    assert [r.config.H for r in together] == [1, 2, 3]
    assert all(r.success and r.steps_done == 40 and r.seed == 5 for r in together)
    # another seed is another stream; the solo trainer is not the paired one
    assert not np.array_equal(train_paired([_cfg(2)], seed=6)[0].params["WK"], alone.params["WK"])
    assert not np.array_equal(train(_cfg(2), 5).params["WK"], alone.params["WK"])


def test_paired_models_see_the_same_batches(monkeypatch):
    seen = {}
    real = sa.loss_and_grad

    def spy(params, batch, kind="softmax"):
        seen.setdefault(params["WK"].shape[0], []).append(batch.full.copy())
        return real(params, batch, kind)

    monkeypatch.setattr(sa, "loss_and_grad", spy)
    train_paired([_cfg(1, steps=3), _cfg(2, steps=3, lr=1e-3)], seed=0)
    assert len(seen[1]) == len(seen[2]) == 3
    for a, b in zip(seen[1], seen[2]):
        np.testing.assert_array_equal(a, b)


def test_paired_cache_holds_one_entry_per_model(tmp_path, monkeypatch):
    monkeypatch.setenv("ICLC_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    real = sa.train_paired

    def counting(configs, seed):
        calls.append([c.H for c in configs])
        return real(configs, seed)

    monkeypatch.setattr(sa, "train_paired", counting)
    first = sa.train_paired_cached([_cfg(3)], seed=1)
    both = sa.train_paired_cached([_cfg(1), _cfg(3)], seed=1)   # H = 3 is cached: trains H = 1
    again = sa.train_paired_cached([_cfg(1), _cfg(3)], seed=1)  # both cached: trains nothing
    assert calls == [[3], [1]]
    _same(first[0], both[1])
    _same(both[0], again[0])
    _same(both[0], real([_cfg(1)], 1)[0])


def test_first_plus_minus_paired_retrains_only_the_stuck_models(tmp_path, monkeypatch):
    from icl_companion.validation import softmax_training as stx

    monkeypatch.setenv("ICLC_CACHE_DIR", str(tmp_path / "cache"))
    # declare H = 2 stuck whatever it learned at seed 0 (and H = 3 never): the rule, not the data
    monkeypatch.setattr(stx, "_configuration",
                        lambda config, rec: "same-sign" if config.H == 2 and rec.seed == 0
                        else "plus-minus")
    recs, notes = stx.first_plus_minus_paired([_cfg(1), _cfg(2), _cfg(3)], 0)
    assert [r.seed for r in recs] == [0, 1, 0]
    assert notes == ["H=2 seed 0: same-sign configuration after 40 steps (stuck), next seed shown"]
    _same(recs[1], train_paired([_cfg(2)], 1)[0])
    monkeypatch.setattr(stx, "_configuration", lambda config, rec: "same-sign")
    recs, notes = stx.first_plus_minus_paired([_cfg(1), _cfg(2)], 0, tries=2)
    assert [r.seed for r in recs] == [0, 1]   # H = 1 is never retrained
    assert notes[-1] == "H=2: no seed of 0..1 reached +/-; showing seed 1"


@pytest.mark.parametrize("configs, seed, match", [
    ([], 0, "at least one"),
    ([_cfg(1), _cfg(2, batch=8)], 0, "batch"),
    ([_cfg(1), _cfg(2, steps=20)], 0, "steps"),
    ([_cfg(1), _cfg(2, setting=Setting("isotropic", 6, 7, 0.1))], 0, "setting"),
    ([_cfg(1)], -1, "seed"),
    ([_cfg(1)], 1.5, "seed"),
])
def test_paired_bad_input(configs, seed, match):
    with pytest.raises(ValueError, match=match):
        train_paired(configs, seed)
