"""ResNet's eval-mode forward without per-layer module calls gives the layers' own numbers."""

import torch

from perfkit.model.net import ResNet, _plain, seeded


def _by_modules(m: ResNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    y = m.trunk(m.stem(x))
    return m.policy_head(y), m.value_head(y).squeeze(1)


def test_eval_path_equals_module_calls_bit_for_bit():
    for dtype in (torch.float32, torch.float64):
        m = seeded(lambda: ResNet((3, 6, 7), 7, 2, 8), 0).to(dtype)
        x = torch.randn(9, 3, 6, 7, dtype=dtype)
        assert _plain(m)
        with torch.inference_mode():
            fast, slow = m(x), _by_modules(m, x)
        assert torch.equal(fast[0], slow[0]) and torch.equal(fast[1], slow[1])


def test_hooks_and_swapped_layers_take_the_module_path():
    m = seeded(lambda: ResNet((3, 6, 7), 7, 1, 8), 0)
    seen = []
    handle = m.trunk[0].conv1.register_forward_hook(lambda *a: seen.append(1))
    assert not _plain(m)
    with torch.inference_mode():
        m(torch.zeros(2, 3, 6, 7))
    assert seen == [1]
    handle.remove()
    m.trunk[0].bn1 = torch.nn.Identity()
    assert not _plain(m)
    m.train()
    with torch.inference_mode():
        m(torch.zeros(2, 3, 6, 7))
