"""The serving settings reach the runtime: batch size, KV memory, prefix entries, precision."""

import pytest

from generation.services.serving import serving_options


def test_the_settings_make_the_runtimes_serving_options(settings):
    settings.GENERATION_BATCH_MAX = 6
    settings.GENERATION_KV_CACHE_MB = 512
    settings.GENERATION_PREFIX_CACHE_ENTRIES = 0
    settings.GENERATION_PRECISION = "int8"
    options = serving_options("cpu")
    assert (options.max_batch, options.kv_cache_mb, options.prefix_entries) == (6, 512, 0)
    assert options.precision == "int8"


@pytest.mark.parametrize(("device", "expected"), [("cpu", "float32"), ("cuda", "bfloat16")])
def test_auto_precision_is_the_measured_default_of_the_device(settings, device, expected):
    settings.GENERATION_PRECISION = "auto"
    assert serving_options(device).precision == expected


def test_a_bad_precision_setting_stops_start_up_with_a_sentence(monkeypatch):
    import subprocess
    import sys

    from tests.conftest import ROOT, subprocess_env

    code = "import django; django.setup()"
    env = subprocess_env(BLOGLLM_GENERATION_PRECISION="fp4")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT)  # fmt: skip
    assert out.returncode != 0
    assert "BLOGLLM_GENERATION_PRECISION must be auto, float32, bfloat16 or int8" in out.stderr
