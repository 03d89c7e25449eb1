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
