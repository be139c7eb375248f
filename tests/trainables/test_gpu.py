"""GPU shares as memory limits: the arithmetic, checked without a GPU."""

import pytest

from trainables import gpu


@pytest.mark.parametrize("share, total", [(0.25, 16_160), (0.5, 24_576), (1 / 3, 11_264), (0.125, 81_920)])
def test_trials_sharing_a_gpu_fit_in_its_memory(share, total):
    limit = gpu.memory_limit_mb(total, share)
    trials = round(1 / share)
    assert trials * (limit + gpu.CUDA_CONTEXT_MB) <= total
    assert limit >= 0.9 * total * share - gpu.CUDA_CONTEXT_MB  # and nothing much is left unused


def test_a_whole_gpu_grows_and_an_unknown_one_is_left_alone():
    assert gpu.memory_limit_mb(16_160, 1) is None
    assert gpu.memory_limit_mb(16_160, 2) is None
    assert gpu.memory_limit_mb(None, 0.25) is None


def test_a_share_too_small_to_train_in_is_refused():
    with pytest.raises(ValueError, match="--gpus-per-trial 0.05 of a 8192 MB GPU"):
        gpu.memory_limit_mb(8192, 0.05)


def test_without_nvidia_smi_there_is_no_total(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert gpu.total_memory_mb([0]) is None
