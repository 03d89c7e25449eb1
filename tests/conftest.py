"""Shared test set-up: this folder on sys.path (so tests import tiny_models and sd_components, the
builders of tiny random models), and fixtures of tiny models shared by the model tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="module")
def tiny_model_folder(tmp_path_factory):
    """A tiny untrained bundled-format model (32 px pictures) saved as `compose export-model` writes one."""
    from tiny_models import tiny_bundle

    from compose.model.bundle import save_bundle

    return save_bundle(tiny_bundle(frozen=False), tmp_path_factory.mktemp("tiny-model"))


TEXT_DIM = 16  # the context width of the tiny cross-attention UNet
GRID = 8  # its sample side: cross-attention runs at 8 x 8 and 4 x 4


@pytest.fixture(scope="module")
def unet():
    """A seeded tiny UNet2DConditionModel with cross-attention at two resolutions, frozen (the attention
    and guidance tests read its layers)."""
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    model = UNet2DConditionModel(
        sample_size=GRID, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=TEXT_DIM,
        attention_head_dim=2, norm_num_groups=8,
    )
    return model.eval().requires_grad_(False)
