"""Settings: parsed once from the environment names of docs/contracts.md, strictly."""

from __future__ import annotations

import pytest

from functions.results.settings import ResultsSettings
from functions.runtime.errors import ConfigError
from functions.runtime.settings import env_bool, function_version
from functions.storage.settings import StorageSettings
from functions.vote.settings import VoteSettings


def test_boolean_settings_reject_unknown_spellings() -> None:
    with pytest.raises(ConfigError, match="SHOWDETAILS"):
        env_bool({"SHOWDETAILS": "maybe"}, "SHOWDETAILS")


def test_version_comes_from_function_version_and_must_exist() -> None:
    assert function_version({"FUNCTION_VERSION": "1.1"}, "results", ("1.0", "1.1")) == "1.1"
    with pytest.raises(ConfigError, match=r"no version '3\.0'"):
        function_version({"FUNCTION_VERSION": "3.0"}, "results", ("1.0", "1.1"))


def test_vote_settings_read_the_contract_names() -> None:
    env = {
        "FUNCTION_VERSION": "2.0",
        "POD_NAME": "voting-app-2-0-abc",
        "TITLE": "Pets",
        "VOTE1VALUE": "Owls",
        "VOTE2VALUE": "Bats",
        "SHOWDETAILS": "true",
        "FEATUREFLAG": "true",
        "ANALYTICS_URL": "http://a:1/",
        "STORAGE_URL": "http://s:2",
        "MAX_IN_FLIGHT": "64",
    }
    settings = VoteSettings.from_env(env)
    assert settings == VoteSettings(
        function_version="2.0",
        max_in_flight=64,
        pod_name="voting-app-2-0-abc",
        title="Pets",
        vote1value="Owls",
        vote2value="Bats",
        showdetails=True,
        featureflag=True,
        analytics_url="http://a:1",
        storage_url="http://s:2",
    )


def test_vote_settings_default_to_the_original_sample() -> None:
    settings = VoteSettings.from_env({}, version="1.0")
    assert (settings.title, settings.options) == ("AKS Voting App", ("Cats", "Dogs"))
    assert (settings.showdetails, settings.featureflag) == (False, False)
    assert settings.analytics_url == "http://voting-analytics:8080"
    assert settings.storage_url == "http://voting-storage:8080"


def test_vote_options_must_differ_and_not_be_reset() -> None:
    with pytest.raises(ConfigError):
        VoteSettings.from_env({"VOTE1VALUE": "Cats", "VOTE2VALUE": "Cats"}, version="1.0")
    with pytest.raises(ConfigError):
        VoteSettings.from_env({"VOTE2VALUE": "reset"}, version="1.0")


def test_results_settings_read_the_contract_names() -> None:
    env = {"FUNCTION_VERSION": "1.1", "VOTE1VALUE": "Owls", "STORAGE_URL": "http://s:1/"}
    settings = ResultsSettings.from_env(env)
    assert (settings.function_version, settings.vote1value, settings.vote2value) == (
        "1.1",
        "Owls",
        "Dogs",
    )
    assert settings.storage_url == "http://s:1"


def test_storage_settings_read_the_contract_names() -> None:
    env = {
        "FUNCTION_VERSION": "2.0",
        "MYSQL_HOST": "db",
        "MYSQL_PORT": "3307",
        "MYSQL_USER": "voter",
        "MYSQL_PASSWORD": "pw",
        "MYSQL_DATABASE": "votes",
        "REDIS_URL": "redis://r:6380/2",
    }
    settings = StorageSettings.from_env(env)
    assert settings.store == "mysql"
    assert (settings.mysql_host, settings.mysql_port, settings.mysql_user) == ("db", 3307, "voter")
    assert (settings.mysql_password, settings.mysql_database) == ("pw", "votes")
    assert settings.redis_url == "redis://r:6380/2"


def test_storage_defaults_follow_the_contract() -> None:
    settings = StorageSettings.from_env({}, version="1.0")
    assert settings.store == "redis"
    assert settings.redis_url == "redis://voting-redis:6379/0"
    assert (settings.mysql_host, settings.mysql_port) == ("voting-mysql", 3306)
    assert settings.mysql_database == "azurevote"


def test_storage_2_0_requires_a_mysql_user_from_the_secret() -> None:
    with pytest.raises(ConfigError, match="MYSQL_USER"):
        StorageSettings.from_env({}, version="2.0")


def test_storage_rejects_a_database_name_that_is_not_a_plain_identifier() -> None:
    with pytest.raises(ConfigError, match="MYSQL_DATABASE"):
        StorageSettings.from_env(
            {"MYSQL_USER": "u", "MYSQL_DATABASE": "x`; DROP DATABASE y"}, version="2.0"
        )


def test_a_non_numeric_port_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="MYSQL_PORT"):
        StorageSettings.from_env({"MYSQL_USER": "u", "MYSQL_PORT": "db"}, version="2.0")


def test_the_admission_limit_defaults_to_128_and_refuses_a_negative_value() -> None:
    assert VoteSettings.from_env({}, version="1.0").max_in_flight == 128
    assert VoteSettings.from_env({"MAX_IN_FLIGHT": "0"}, version="1.0").max_in_flight == 0
    with pytest.raises(ConfigError, match="MAX_IN_FLIGHT"):
        VoteSettings.from_env({"MAX_IN_FLIGHT": "-1"}, version="1.0")
