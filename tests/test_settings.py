from pathlib import Path

import pytest

from closp_core.errors import ConfigError
from closp_core.settings import Settings


def test_defaults_toml_then_env(tmp_path: Path) -> None:
    toml = tmp_path / "closp.toml"
    toml.write_text('batch_size = 8\ndevice = "cpu"\ndata_dir = "/srv/closp"\n')
    settings = Settings.load({"CLOSP_CONFIG": str(toml), "CLOSP_BATCH_SIZE": "16"})
    assert settings.batch_size == 16  # env wins over the file
    assert settings.device == "cpu"
    assert settings.index_dir == Path("/srv/closp/index")
    assert settings.model == "DarthReca/CLOSP-RN"
    assert Settings.load({"CLOSP_STORE_URL": ""}).store_url is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLOSP_BATCH_SIZE": "many"}, "CLOSP_BATCH_SIZE.*'many' is not a valid int"),
        ({"CLOSP_BATCH_SIZE": "0"}, "batch_size must be >= 1"),
        ({"CLOSP_THREADS": "-2"}, "threads must be >= 0"),
        ({"CLOSP_CONFIG": "/nonexistent/closp.toml"}, "does not exist"),
    ],
)
def test_bad_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load(env)


def test_bad_toml(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("batch_size = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load({}, toml_path=broken)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("batchsize = 3")
    with pytest.raises(ConfigError, match=r"unknown keys \['batchsize'\]"):
        Settings.load({}, toml_path=unknown)


def test_replace_converts() -> None:
    assert Settings().replace(batch_size="4").batch_size == 4
