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


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"CLOSP_STAC_REQUEST_DEADLINE_S": "0"}, r"stac_request_deadline_s \(env CLOSP_STAC_REQ"),
        ({"CLOSP_STAC_SEARCH_DEADLINE_S": "-1"}, r"stac_search_deadline_s .* must be > 0"),
        ({"CLOSP_STAC_MAX_DOCUMENT_MB": "0"}, r"stac_max_document_mb .* must be >= 1"),
        ({"CLOSP_STAC_MAX_INFLATED_MB": "0"}, r"stac_max_inflated_mb .* must be >= 1"),
        ({"CLOSP_STAC_MAX_PAGES": "0"}, r"stac_max_pages .* must be >= 1"),
        ({"CLOSP_STAC_APIS": " , "}, r"stac_apis .* is empty and stac_free_entry is off"),
        ({"CLOSP_STAC_MAX_PAGES": "many"}, r"CLOSP_STAC_MAX_PAGES.*'many' is not a valid int"),
    ],
)
def test_remote_stac_budgets_are_checked_by_name(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Settings.load(environ=env)


def test_remote_options_come_from_the_settings() -> None:
    from closp_core.data.stac.remote import PUBLIC_HOSTS, RemoteOptions

    settings = Settings.load(
        environ={"CLOSP_STAC_HOSTS": "stac.example.org, *.cdn.example.org",
                 "CLOSP_STAC_APIS": "https://api.example.net/v1", "CLOSP_STAC_MAX_PAGES": "7"}
    )  # fmt: skip
    remote = RemoteOptions.from_settings(settings, timeout_s=3.0)
    assert remote.timeout_s == 3.0 and remote.search_deadline_s == 300.0
    assert remote.max_pages == 7 and remote.max_document_bytes == 16 * 2**20
    assert remote.hosts == (*PUBLIC_HOSTS, "stac.example.org", "*.cdn.example.org",
                            "api.example.net")  # fmt: skip
    default = Settings.load(environ={})
    assert default.stac_api_list[0] == "https://earth-search.aws.element84.com/v1"
    assert not default.stac_free_entry
